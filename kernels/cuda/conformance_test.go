//go:build cgo

package cuda

import (
	"testing"

	"spillway/kernels"
	"spillway/kernels/conformance"
)

// newCUDA opens device 0 with activations of type act, skipping the test
// with the reason when this machine cannot run CUDA.
func newCUDA(tb testing.TB, act kernels.DType) *Backend {
	tb.Helper()
	b, err := New(kernels.Options{ActDType: act})
	if err != nil {
		if isClean(err) {
			tb.Skipf("skipping: no GPU to run on: %v", err)
		}
		tb.Fatal(err)
	}
	return b
}

// TestConformance runs the suite every backend passes, with F16 and with
// BF16 activations. It needs a GPU and kernels built by make cuda.
func TestConformance(t *testing.T) {
	for _, act := range []kernels.DType{kernels.F16, kernels.BF16} {
		t.Run(act.String(), func(t *testing.T) {
			newCUDA(t, act).Close() // skip the whole group early
			conformance.Run(t, func(t *testing.T) kernels.Backend { return newCUDA(t, act) })
		})
	}
}

// BenchmarkConformance measures MatMul over the suite's shape grid and
// reports GB/s of weights (compare with BenchmarkCopy's device bandwidth).
func BenchmarkConformance(b *testing.B) {
	conformance.Bench(b, func(b *testing.B) kernels.Backend { return newCUDA(b, kernels.F16) })
}

package ref_test

import (
	"testing"

	"spillway/kernels"
	"spillway/kernels/conformance"
	"spillway/kernels/ref"
)

func newRef(tb testing.TB) *ref.Backend {
	tb.Helper()
	b, err := ref.New(kernels.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestConformance runs the suite against the reference itself: it checks
// the suite's plumbing (views, guards, aliasing, panics) more than the
// math, which TestHand* pin down by hand.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) kernels.Backend { return newRef(t) })
}

func TestRegistered(t *testing.T) {
	b, err := kernels.New("ref", kernels.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "ref" || b.ActDType() != kernels.F32 {
		t.Errorf("kernels.New(\"ref\") = %s with ActDType %s", b.Name(), b.ActDType())
	}
}

// BenchmarkMatMul measures the reference at one TinyLlama shape, to show
// how far the fast backends are from it; the full grid is conformance.Bench.
func BenchmarkMatMul(b *testing.B) {
	be := newRef(b)
	for _, dt := range []kernels.DType{kernels.F16, kernels.Q4_K} {
		b.Run(dt.String()+"/2048x2048/T=1", func(b *testing.B) { conformance.BenchMatMul(b, be, dt, 2048, 2048, 1) })
	}
}

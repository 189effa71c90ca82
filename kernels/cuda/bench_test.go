//go:build cgo

package cuda

import (
	"fmt"
	"testing"

	"spillway/kernels"
	"spillway/kernels/conformance"
)

// BenchmarkCopy measures device memory bandwidth with a device-to-device
// copy of 1 GiB timed by events: bytes read plus bytes written per second.
// It is the denominator of "fraction of the memory-bandwidth bound"
// (scripts/gpu-check.sh).
func BenchmarkCopy(b *testing.B) {
	be := newCUDA(b, 0)
	defer be.Close()
	const n = 1 << 30
	src, err := be.newBuf(n)
	if err != nil {
		b.Skipf("skipping: cannot allocate 2 GiB: %v", err)
	}
	dst, err := be.newBuf(n)
	if err != nil {
		b.Skipf("skipping: cannot allocate 2 GiB: %v", err)
	}
	g := be.g
	start, err1 := g.eventCreate(true)
	end, err2 := g.eventCreate(true)
	if err1 != nil || err2 != nil {
		b.Fatal(err1, err2)
	}
	defer g.eventDestroy(start)
	defer g.eventDestroy(end)
	ms := 0.0
	for b.Loop() {
		must(b, g.eventRecord(start))
		must(b, g.dtodAsync(dst.ptr, src.ptr, n))
		must(b, g.eventRecord(end))
		must(b, g.eventSync(end))
		t, err := g.eventElapsed(start, end)
		must(b, err)
		ms += float64(t)
	}
	b.ReportMetric(2*n*float64(b.N)/(ms/1e3)/1e9, "GB/s")
	b.ReportMetric(be.g.info.memBusGBs, "spec-GB/s")
	b.Logf("%s", be.Device())
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkGEMV measures the decode GEMV at Llama-3-8B shapes (4096 →
// 14336 and back) for the weight types llama.cpp users run, reporting
// weight GB/s.
func BenchmarkGEMV(b *testing.B) {
	be := newCUDA(b, 0)
	defer be.Close()
	shapes := []struct{ n, k int }{{14336, 4096}, {4096, 14336}, {4096, 4096}, {128256, 4096}}
	types := []kernels.DType{kernels.F16, kernels.BF16, kernels.Q8_0, kernels.Q4_0, kernels.Q4_K, kernels.Q5_K, kernels.Q6_K}
	for _, dt := range types {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/%dx%d", dt, s.n, s.k), func(b *testing.B) {
				conformance.BenchMatMul(b, be, dt, s.n, s.k, 1)
			})
		}
	}
}

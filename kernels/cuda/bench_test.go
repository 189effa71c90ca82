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

// BenchmarkGEMVGraph measures the decode GEMV as a decode step runs it:
// many launches back to back in one replayed CUDA graph, so the figure is
// the kernels' own time and the gaps between graph nodes, without the
// host's launch and sync that BenchmarkGEMV pays per call. The launches
// cycle over copies of the weight totalling at least gemvGraphBytes, so
// the 50 MB L2 of an H100 cannot serve them. Reports weight GB/s and µs
// per launch.
func BenchmarkGEMVGraph(b *testing.B) {
	shapes := []struct{ n, k int }{{14336, 4096}, {4096, 14336}, {4096, 4096}, {1024, 4096}, {128256, 4096}}
	types := []kernels.DType{kernels.F16, kernels.BF16, kernels.Q8_0, kernels.Q4_0, kernels.Q4_K, kernels.Q5_K, kernels.Q6_K}
	for _, dt := range types {
		for _, s := range shapes {
			b.Run(fmt.Sprintf("%s/%dx%d", dt, s.n, s.k), func(b *testing.B) { benchGEMVGraph(b, dt, s.n, s.k, gemvDirect) })
			if _, own := ownGemvs[dt]; own { // its own kernel, beside the generic one
				b.Run(fmt.Sprintf("%s-generic/%dx%d", dt, s.n, s.k), func(b *testing.B) { benchGEMVGraph(b, dt, s.n, s.k, gemvGeneric) })
			}
			if gemvStreamed(dt, s.k) { // and the streamed one
				b.Run(fmt.Sprintf("%s-stream/%dx%d", dt, s.n, s.k), func(b *testing.B) { benchGEMVGraph(b, dt, s.n, s.k, gemvStream) })
			}
		}
	}
}

// gemvGraphBytes is the least weight data one graph cycles over, and
// gemvGraphLaunches the least launches it holds.
const (
	gemvGraphBytes    = 256 << 20
	gemvGraphLaunches = 16
)

func benchGEMVGraph(b *testing.B, dt kernels.DType, n, k int, mode gemvMode) {
	be := newCUDA(b, 0) // one per case: Close frees its copies
	defer be.Close()
	be.gemvPath = mode
	data := conformance.BenchWeights(dt, n, k)
	copies := max(1, (gemvGraphBytes+len(data)-1)/len(data))
	ws := make([]kernels.Tensor, copies)
	for i := range ws {
		w, err := be.FromHost(dt, n, k, data)
		if err != nil {
			b.Skipf("skipping: %d copies of %s(%d, %d): %v", copies, dt, n, k, err)
		}
		ws[i] = w
	}
	x, err := be.Alloc(be.ActDType(), 1, k)
	must(b, err)
	out, err := be.Alloc(be.ActDType(), 1, n)
	must(b, err)
	launches := max(gemvGraphLaunches, copies)
	gr, err := be.Capture(func() error {
		for i := range launches {
			be.MatMul(out, x, ws[i%copies])
		}
		return nil
	})
	must(b, err)
	defer gr.Close()
	must(b, gr.Launch()) // warm
	must(b, be.Sync())
	for b.Loop() {
		must(b, gr.Launch())
		must(b, be.Sync())
	}
	per := b.Elapsed().Seconds() / float64(b.N) / float64(launches)
	b.ReportMetric(float64(len(data))/per/1e9, "GB/s")
	b.ReportMetric(per*1e6, "µs/launch")
}

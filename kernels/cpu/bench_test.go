//go:build cgo

package cpu

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"spillway/kernels"
	"spillway/kernels/conformance"
)

func newBench(b *testing.B) *Backend {
	b.Helper()
	be, err := New(kernels.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return be
}

// readBuf returns a filled 256 MiB buffer of be: far beyond the caches.
func readBuf(b *testing.B, be *Backend) (unsafe.Pointer, int) {
	b.Helper()
	const n = 256 << 20
	buf, err := be.Alloc(kernels.F32, 1, n/4)
	if err != nil {
		b.Fatal(err)
	}
	p := buf.Buf.(*buffer).p
	mem := unsafe.Slice((*byte)(p), n)
	for i := range mem {
		mem[i] = byte(i)
	}
	return p, n
}

// memBW is the best of five plain reads of readBuf with the pool's
// threads, in bytes per second: the limit for a decode GEMV, whose weights
// stream from DRAM once per token.
func memBW(b *testing.B, be *Backend) float64 {
	p, n := readBuf(b, be)
	best := 0.0
	for range 5 {
		t0 := time.Now()
		be.ctx.benchRead(p, n)
		best = max(best, float64(n)/time.Since(t0).Seconds())
	}
	return best
}

// BenchmarkMemRead measures the memBW read as a benchmark of its own.
func BenchmarkMemRead(b *testing.B) {
	be := newBench(b)
	defer be.Close()
	p, n := readBuf(b, be)
	b.SetBytes(int64(n))
	for b.Loop() {
		be.ctx.benchRead(p, n)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	b.ReportMetric(float64(be.Threads()), "threads")
}

// BenchmarkMatMul runs conformance.BenchMatMul over TinyLlama-1.1B's shapes
// for F16, Q8_0, Q4_0, Q4_K and Q6_K weights at T=1 (decode) and T=512
// (prefill): weight GB/s and GFLOP/s, plus the weight GB/s as a percentage
// of memBW measured with the same threads just before. Shapes up to
// ffn_down fit the L3 of many CPUs, so their decode can exceed 100%; the
// 32000×2048 output matrix streams from DRAM.
func BenchmarkMatMul(b *testing.B) {
	be := newBench(b)
	defer be.Close()
	bw := memBW(b, be)
	for _, dt := range conformance.BenchTypes {
		for _, s := range conformance.BenchShapes {
			for _, T := range conformance.BenchTokens {
				name := fmt.Sprintf("%s/%s_%dx%d/T=%d", dt, s.Name, s.N, s.K, T)
				b.Run(name, func(b *testing.B) {
					conformance.BenchMatMul(b, be, dt, s.N, s.K, T)
					sec := b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(float64(dt.RowBytes(s.K)*s.N)/sec/bw*100, "%memBW")
				})
			}
		}
	}
}

// BenchmarkAttention measures paged attention at TinyLlama-1.1B's shape
// (32 query heads, 4 kv heads of 64, F16 cache): a decode step of one
// sequence and a batch of 16 at 512 tokens of context, and a 512-token
// prefill. FLOP/s counts 4·hd per (query head, visible key): QKᵀ and PV.
func BenchmarkAttention(b *testing.B) {
	const heads, kvHeads, hd, bs = 32, 4, 64, 16
	for _, c := range []struct {
		name     string
		seqs, nq int // sequences, queries per sequence
		ctx      int
	}{{"decode/ctx=512", 1, 1, 512}, {"decode16/ctx=512", 16, 1, 512}, {"prefill/T=512", 1, 512, 512}} {
		b.Run(c.name, func(b *testing.B) {
			be := newBench(b)
			defer be.Close()
			blocksPer := (c.ctx + bs - 1) / bs
			kv, err := be.AllocKV(kernels.KVSpec{NumLayers: 1, NumBlocks: c.seqs * blocksPer, BlockSize: bs, NumKVHeads: kvHeads, HeadDim: hd, DType: kernels.F16})
			if err != nil {
				b.Fatal(err)
			}
			T := c.seqs * c.nq
			q, _ := be.Alloc(kernels.F32, T, heads*hd)
			out, _ := be.Alloc(kernels.F32, T, heads*hd)
			ab := &kernels.AttnBatch{NumHeads: heads, NumKVHeads: kvHeads, HeadDim: hd, Scale: 0.125}
			ab.QStart = append(ab.QStart, 0)
			for s := 0; s < c.seqs; s++ {
				tab := make([]int32, blocksPer)
				for i := range tab {
					tab[i] = int32(s*blocksPer + i)
				}
				ab.BlockTables = append(ab.BlockTables, tab)
				ab.CtxLen = append(ab.CtxLen, int32(c.ctx))
				ab.QStart = append(ab.QStart, int32((s+1)*c.nq))
			}
			for b.Loop() {
				be.Attention(out, q, kv, 0, ab)
			}
			pairs := float64(c.seqs * heads * c.nq * c.ctx)
			if c.nq > 1 {
				pairs = float64(c.seqs*heads) * float64(c.nq) * float64(c.ctx+1) / 2
			}
			b.ReportMetric(4*hd*pairs/b.Elapsed().Seconds()*float64(b.N)/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkOverhead measures the fixed cost of an op: a MatMul too small to
// matter (16×256 Q8_0, T=1) on one thread and through the pool, and an Add
// big enough to be spread over the pool. The ns/op are the dispatch cost
// (cgo call, pool wake-up and join) that every op of a decode step pays.
func BenchmarkOverhead(b *testing.B) {
	for _, threads := range []int{1, 0} {
		be, err := New(kernels.Options{Threads: threads})
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("threads=%d", be.Threads())
		w, _ := be.FromHost(kernels.Q8_0, 16, 256, make([]byte, kernels.Q8_0.RowBytes(256)*16))
		x, _ := be.Alloc(kernels.F32, 1, 256)
		o, _ := be.Alloc(kernels.F32, 1, 16)
		b.Run("MatMul16x256/"+name, func(b *testing.B) {
			for b.Loop() {
				be.MatMul(o, x, w)
			}
		})
		a, _ := be.Alloc(kernels.F32, 16, 2048)
		c, _ := be.Alloc(kernels.F32, 16, 2048)
		b.Run("Add16x2048/"+name, func(b *testing.B) {
			for b.Loop() {
				be.Add(a, a, c)
			}
		})
		be.Close()
	}
}

// BenchmarkMatMulSmallT measures the batched-decode regime, T = 8..64 rows
// of x (a continuous-batching step of that many sequences), beside T=1 and
// T=512, on TinyLlama-1.1B's square and ffn_up shapes. Compare GFLOP/s
// across T: a compute-bound step should approach the T=512 rate.
func BenchmarkMatMulSmallT(b *testing.B) {
	be := newBench(b)
	defer be.Close()
	shapes := []conformance.MatMulShape{{Name: "attn_q", N: 2048, K: 2048}, {Name: "ffn_up", N: 5632, K: 2048}}
	for _, dt := range []kernels.DType{kernels.Q4_0, kernels.Q8_0, kernels.Q4_K, kernels.Q6_K} {
		for _, s := range shapes {
			for _, T := range []int{1, 8, 16, 32, 64, 512} {
				name := fmt.Sprintf("%s/%s_%dx%d/T=%d", dt, s.Name, s.N, s.K, T)
				b.Run(name, func(b *testing.B) { conformance.BenchMatMul(b, be, dt, s.N, s.K, T) })
			}
		}
	}
}

// BenchmarkPorts times the issue-port probe loops of avx2_probe.c side by
// side (each b.N trip runs all four; the fastest of the trips counts) and
// reports each loop's time per trip relative to eight lone maddubs. The
// int8 tiles' inner loop is the add-dep pattern, so its ratio is the share
// of the maddubs peak they can reach at best.
// Run: go test -run XXX -bench Ports -benchtime 20x ./kernels/cpu/
func BenchmarkPorts(b *testing.B) {
	const trips = 1 << 20
	if !probePorts(probeMB, 1) {
		b.Skip("no AVX2 probe on this build or CPU")
	}
	kinds := []struct {
		name string
		kind int
	}{{"mb", probeMB}, {"add-ind", probeAddInd}, {"add-alt", probeAddAlt}, {"add-dep", probeAddDep}}
	best := make([]time.Duration, len(kinds))
	for b.Loop() {
		for i, k := range kinds {
			t0 := time.Now()
			probePorts(k.kind, trips)
			if d := time.Since(t0); best[i] == 0 || d < best[i] {
				best[i] = d
			}
		}
	}
	b.ReportMetric(float64(best[0].Nanoseconds())/trips, "mb-ns/trip")
	for i, k := range kinds[1:] {
		b.ReportMetric(float64(best[i+1])/float64(best[0]), k.name+"/mb")
	}
}

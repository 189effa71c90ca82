//go:build cgo

package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
)

// Tests of the decode-step kernels against their scalar references: attn8
// (the heads of a kv group together), RoPE's rotation and angle memo, and
// SiLUMul. The conformance suite compares each path with kernels/ref too,
// but its attention cases have at most 4 query heads per kv head, so
// attn8 is only reached here.

func upload(t *testing.T, b *Backend, dt kernels.DType, rows, cols int, vals []float32) kernels.Tensor {
	t.Helper()
	data := make([]byte, rows*dt.RowBytes(cols))
	for r := 0; r < rows; r++ {
		quant.QuantizeRow(dt, data[r*dt.RowBytes(cols):(r+1)*dt.RowBytes(cols)], vals[r*cols:(r+1)*cols])
	}
	x, err := b.FromHost(dt, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// attnSetup is a cache of N(0, 1) keys and values shared by several
// batches: every sequence owns blocks of its own, in a shuffled order.
type attnSetup struct {
	spec     kernels.KVSpec
	k, v     []float32 // (slots, nkv·hd)
	heads    int
	scale    float32
	window   int
	nextFree int
	free     []int32
}

func newAttnSetup(rng *rand.Rand, heads, kvHeads, hd, bs, blocks int, dt kernels.DType) *attnSetup {
	s := &attnSetup{spec: kernels.KVSpec{NumLayers: 1, NumBlocks: blocks, BlockSize: bs, NumKVHeads: kvHeads, HeadDim: hd, DType: dt},
		heads: heads, scale: float32(1 / math.Sqrt(float64(hd)))}
	n := blocks * bs * kvHeads * hd
	s.k, s.v = randRows(rng, 1, n, 1), randRows(rng, 1, n, 1)
	for _, b := range rng.Perm(blocks) {
		s.free = append(s.free, int32(b))
	}
	return s
}

// table returns a block table for ctx positions.
func (s *attnSetup) table(ctx int) []int32 {
	n := (ctx + s.spec.BlockSize - 1) / s.spec.BlockSize
	t := s.free[s.nextFree : s.nextFree+n]
	s.nextFree += n
	return t
}

// cache allocates the setup's cache on b and uploads its keys and values.
func (s *attnSetup) cache(t *testing.T, b *Backend) *kernels.KVCache {
	t.Helper()
	kv, err := b.AllocKV(s.spec)
	if err != nil {
		t.Fatal(err)
	}
	w := s.spec.NumKVHeads * s.spec.HeadDim
	rb := s.spec.DType.RowBytes(w)
	for _, c := range []struct {
		x    kernels.Tensor
		vals []float32
	}{{kv.K[0], s.k}, {kv.V[0], s.v}} {
		data := make([]byte, s.spec.Slots()*rb)
		for r := 0; r < s.spec.Slots(); r++ {
			quant.QuantizeRow(s.spec.DType, data[r*rb:(r+1)*rb], c.vals[r*w:(r+1)*w])
		}
		if err := b.Upload(c.x, data); err != nil {
			t.Fatal(err)
		}
	}
	return kv
}

// run computes Attention on b over kv (from cache) for sequences of ctxs
// positions, nqs queries and the given block tables, with queries q
// (rows, heads·hd), and returns out.
func (s *attnSetup) run(t *testing.T, b *Backend, kv *kernels.KVCache, ctxs, nqs []int, tables [][]int32, q []float32) []float32 {
	t.Helper()
	ab := &kernels.AttnBatch{QStart: []int32{0}, NumHeads: s.heads, NumKVHeads: s.spec.NumKVHeads, HeadDim: s.spec.HeadDim,
		Scale: s.scale, Window: s.window}
	for i := range ctxs {
		ab.CtxLen = append(ab.CtxLen, int32(ctxs[i]))
		ab.QStart = append(ab.QStart, ab.QStart[i]+int32(nqs[i]))
		ab.BlockTables = append(ab.BlockTables, tables[i])
	}
	T, cols := int(ab.QStart[len(ctxs)]), s.heads*s.spec.HeadDim
	qt := upload(t, b, kernels.F32, T, cols, q)
	out, err := b.Alloc(kernels.F32, T, cols)
	if err != nil {
		t.Fatal(err)
	}
	b.Attention(out, qt, kv, 0, ab)
	return download(t, b, out)
}

// TestAttn8MatchesScalar runs batches whose kv groups hold 8, 12, 16 and
// 32 query heads (attn8 alone, attn8 plus row-by-row heads), at head sizes
// that are and are not multiples of 8, with decodes, prefill chunks,
// contexts over several key chunks and sliding windows, on the AVX2 path
// and the scalar one (which folds each row on its own).
func TestAttn8MatchesScalar(t *testing.T) {
	p := newPair(t)
	for _, c := range []struct {
		name               string
		heads, kvHeads, hd int
		bs, window         int
		scale              float32  // 0: 1/sqrt(hd)
		seqs               [][2]int // {ctx, nq}
		dt                 kernels.DType
	}{
		{"G8,decode", 32, 4, 64, 16, 0, 0, [][2]int{{41, 1}, {1, 1}, {8, 1}, {64, 1}, {65, 1}, {200, 1}}, kernels.F16},
		{"G16,mixed", 16, 1, 64, 16, 0, 0, [][2]int{{37, 17}, {50, 1}, {33, 33}, {20, 0}, {130, 70}}, kernels.F16},
		{"G12,hd128", 12, 1, 128, 16, 0, 0, [][2]int{{40, 1}, {48, 8}, {3, 3}}, kernels.BF16},
		{"G8,hd36", 16, 2, 36, 16, 0, 0, [][2]int{{30, 1}, {25, 10}, {70, 1}}, kernels.F32},
		{"G8,window7", 8, 1, 64, 16, 7, 0, [][2]int{{30, 1}, {40, 12}, {9, 9}}, kernels.F16},
		{"G8,window20,bs8", 16, 2, 64, 8, 20, 0, [][2]int{{64, 1}, {45, 45}, {21, 5}}, kernels.F16},
		{"G8,peaky", 8, 1, 64, 16, 0, 1, [][2]int{{150, 1}, {90, 20}}, kernels.F32},
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(c.heads), uint64(c.hd)))
			blocks := 0
			for _, s := range c.seqs {
				blocks += (s[0] + c.bs - 1) / c.bs
			}
			s := newAttnSetup(rng, c.heads, c.kvHeads, c.hd, c.bs, blocks, c.dt)
			s.window = c.window
			if c.scale != 0 {
				s.scale = c.scale
			}
			var ctxs, nqs []int
			var tables [][]int32
			T := 0
			for _, q := range c.seqs {
				ctxs, nqs, tables = append(ctxs, q[0]), append(nqs, q[1]), append(tables, s.table(q[0]))
				T += q[1]
			}
			q := randRows(rng, T, c.heads*c.hd, 1)
			got := s.run(t, p.simd, s.cache(t, p.simd), ctxs, nqs, tables, q)
			want := s.run(t, p.scalar, s.cache(t, p.scalar), ctxs, nqs, tables, q)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 2e-5+1e-4*math.Abs(float64(want[i])) || math.IsNaN(float64(got[i])) {
					t.Fatalf("out[%d][%d] = %g on %s, %g on scalar", i/(c.heads*c.hd), i%(c.heads*c.hd), got[i], p.simd.ISA(), want[i])
				}
			}
		})
	}
}

// TestAttentionIndependentOfBatch checks that a sequence's output rows are
// bit for bit the same computed alone and inside a batch of 63 others
// (decodes and prefill chunks), at 1, 2 and 3 threads: the engine's
// batching equivalence rests on it.
func TestAttentionIndependentOfBatch(t *testing.T) {
	if !isaSupported(isaAVX2) {
		t.Skip("this CPU has no AVX2")
	}
	const heads, kvHeads, hd, bs = 32, 4, 64, 16
	rng := rand.New(rand.NewPCG(7, 8))
	s := newAttnSetup(rng, heads, kvHeads, hd, bs, 64*8, kernels.F16)
	var ctxs, nqs []int
	var tables [][]int32
	for i := 0; i < 64; i++ {
		ctx, nq := 1+rng.IntN(100), 1
		if i%9 == 4 {
			nq = 1 + rng.IntN(ctx)
		}
		ctxs, nqs, tables = append(ctxs, ctx), append(nqs, nq), append(tables, s.table(ctx))
	}
	T := 0
	for _, n := range nqs {
		T += n
	}
	cols := heads * hd
	q := randRows(rng, T, cols, 1)
	for _, threads := range []int{1, 2, 3} {
		b, err := newISA(kernels.Options{Threads: threads}, "avx2")
		if err != nil {
			t.Fatal(err)
		}
		kv := s.cache(t, b)
		all := s.run(t, b, kv, ctxs, nqs, tables, q)
		row := 0
		for i := range ctxs {
			alone := s.run(t, b, kv, ctxs[i:i+1], nqs[i:i+1], tables[i:i+1], q[row*cols:(row+nqs[i])*cols])
			for k, v := range alone {
				if math.Float32bits(v) != math.Float32bits(all[row*cols+k]) {
					t.Fatalf("threads=%d: sequence %d (ctx %d, %d queries): out[%d] = %g alone, %g in the batch",
						threads, i, ctxs[i], nqs[i], k, v, all[row*cols+k])
				}
			}
			row += nqs[i]
		}
		b.Close()
	}
}

// ropeRun rotates a copy of x (T, cols) on b and returns it.
func ropeRun(t *testing.T, b *Backend, x []float32, T, cols int, pos []int32, p kernels.RoPEParams) []float32 {
	t.Helper()
	xt := upload(t, b, kernels.F32, T, cols, x)
	b.RoPE(xt, pos, p)
	return download(t, b, xt)
}

func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

var ropeTestParams = []kernels.RoPEParams{
	{HeadDim: 64, NDims: 64, Base: 10000, FreqScale: 1},
	{HeadDim: 64, NDims: 64, Base: 10000, Style: kernels.RoPENeoX},
	{HeadDim: 64, NDims: 22, Base: 500000, FreqScale: 0.25},
	{HeadDim: 80, NDims: 22, Base: 1e6, Style: kernels.RoPENeoX, FreqScale: 1},
	{HeadDim: 128, NDims: 128, Base: 500000, FreqScale: 1, FreqFactors: make([]float32, 64)},
}

func init() {
	f := ropeTestParams[4].FreqFactors
	for i := range f {
		f[i] = 1 + float32(i%7)
	}
}

// TestRoPESIMDMatchesScalar: both paths rotate in float64 with the same
// operations, so they must agree bit for bit, in both styles, with partial
// rotation and odd pair counts.
func TestRoPESIMDMatchesScalar(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for i, rp := range ropeTestParams {
		for _, T := range []int{1, 5, 40} {
			cols := 3 * rp.HeadDim
			x := randRows(rng, T, cols, 2)
			pos := make([]int32, T)
			for k := range pos {
				pos[k] = int32(rng.IntN(9000))
			}
			got, want := ropeRun(t, p.simd, x, T, cols, pos, rp), ropeRun(t, p.scalar, x, T, cols, pos, rp)
			if k := sameBits(got, want); k >= 0 {
				t.Fatalf("params %d, T=%d: x[%d] = %g on %s, %g on scalar", i, T, k, got[k], p.simd.ISA(), want[k])
			}
		}
	}
}

// TestRoPEMemo runs a sequence of RoPE calls on one backend, whose angle
// memo then hits, misses and is replaced, and checks every result against
// a fresh backend's (which computes every angle anew).
func TestRoPEMemo(t *testing.T) {
	if !isaSupported(isaAVX2) {
		t.Skip("this CPU has no AVX2")
	}
	long, err := newISA(kernels.Options{Threads: 2}, "avx2")
	if err != nil {
		t.Fatal(err)
	}
	defer long.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	posA, posB := []int32{40, 41, 7, 0, 300}, []int32{40, 41, 7, 0, 301}
	factors := append([]float32(nil), ropeTestParams[4].FreqFactors...)
	calls := []struct {
		pos []int32
		p   int
	}{{posA, 0}, {posA, 0}, {posA, 1}, {posB, 0}, {posA, 0}, {posA, 2}, {posA, 3}, {posA, 0}, {posB[:4], 0}, {posA, 4}, {posA, 4}}
	for i, c := range calls {
		rp := ropeTestParams[c.p]
		if i == len(calls)-1 {
			// Same slice contents, new factors: the memo must notice.
			rp.FreqFactors = append([]float32(nil), factors...)
			rp.FreqFactors[3] *= 1.5
		}
		T, cols := len(c.pos), 2*rp.HeadDim
		x := randRows(rng, T, cols, 2)
		got := ropeRun(t, long, x, T, cols, c.pos, rp)
		fresh, err := newISA(kernels.Options{Threads: 2}, "avx2")
		if err != nil {
			t.Fatal(err)
		}
		want := ropeRun(t, fresh, x, T, cols, c.pos, rp)
		fresh.Close()
		if k := sameBits(got, want); k >= 0 {
			t.Fatalf("call %d: x[%d] = %g after earlier calls, %g fresh", i, k, got[k], want[k])
		}
	}
}

// TestSiLUMulSIMDMatchesScalar covers vector bodies, both tails and
// arguments far beyond exp's range (e^−g overflowing and vanishing).
func TestSiLUMulSIMDMatchesScalar(t *testing.T) {
	p := newPair(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 7, 8, 15, 16, 17, 40, 5635} {
		for _, T := range []int{1, 3, 16} {
			t.Run(fmt.Sprintf("n=%d,T=%d", n, T), func(t *testing.T) {
				g, u := randRows(rng, T, n, 4), randRows(rng, T, n, 1)
				for i := 0; i < len(g); i += 13 {
					g[i] *= 40
				}
				run := func(b *Backend) []float32 {
					gt, ut := upload(t, b, kernels.F32, T, n, g), upload(t, b, kernels.F32, T, n, u)
					out, err := b.Alloc(kernels.F32, T, n)
					if err != nil {
						t.Fatal(err)
					}
					b.SiLUMul(out, gt, ut)
					return download(t, b, out)
				}
				got, want := run(p.simd), run(p.scalar)
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-30+2e-6*math.Abs(float64(want[i])) || math.IsNaN(float64(got[i])) {
						t.Fatalf("y[%d] (g=%g, u=%g) = %g on %s, %g on scalar", i, g[i], u[i], got[i], p.simd.ISA(), want[i])
					}
				}
			})
		}
	}
}

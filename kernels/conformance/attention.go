package conformance

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"spillway/kernels"
)

// attnCase is one Attention batch: sequences given as {context, queries}.
type attnCase struct {
	name           string
	heads, kvHeads int
	hd, bs         int     // HeadDim, cache BlockSize
	window         int     // sliding window; 0 = unlimited
	scale          float32 // 0: 1/sqrt(HeadDim)
	seqs           [][2]int
	share          bool // sequence 1's table starts with sequence 0's full blocks (a prefix-cache hit)
	pad            int  // unused blocks at the end of every table, as a recorded graph pads them
}

// attnCases mix decodes (1 query), prefill chunks over a cached prefix, whole
// prompts and an idle sequence (0 queries), across GQA ratios 1:1, 2:1 and
// 4:1, sliding windows shorter than a block and spanning blocks, and a
// softmax dominated by one key (scale 1).
var attnCases = []attnCase{
	{name: "decode,MHA", heads: 4, kvHeads: 4, hd: 64, bs: 16, seqs: [][2]int{{1, 1}, {17, 1}, {40, 1}, {64, 1}}},
	{name: "prefill,GQA2", heads: 4, kvHeads: 2, hd: 64, bs: 16, seqs: [][2]int{{13, 13}, {16, 16}, {33, 33}}},
	{name: "mixed,GQA2", heads: 4, kvHeads: 2, hd: 64, bs: 16, seqs: [][2]int{{1, 1}, {37, 17}, {50, 1}, {33, 33}, {16, 3}, {20, 0}}},
	{name: "mixed,GQA4", heads: 8, kvHeads: 2, hd: 32, bs: 16, seqs: [][2]int{{5, 1}, {70, 20}, {17, 17}, {100, 1}}},
	{name: "window7,GQA2", heads: 4, kvHeads: 2, hd: 64, bs: 16, window: 7, seqs: [][2]int{{1, 1}, {30, 1}, {40, 12}, {9, 9}}},
	{name: "window20,GQA4,bs8", heads: 4, kvHeads: 1, hd: 64, bs: 8, window: 20, seqs: [][2]int{{64, 1}, {45, 45}, {21, 5}}},
	{name: "peaky,scale1", heads: 2, kvHeads: 2, hd: 64, bs: 16, scale: 1, seqs: [][2]int{{30, 1}, {25, 10}}},
	{name: "hd128,shared-prefix", heads: 2, kvHeads: 1, hd: 128, bs: 16, share: true, seqs: [][2]int{{40, 1}, {48, 8}}},
	// Tables far longer than the contexts: a GPU sizes its key splits by
	// the table, then shares each context among them.
	{name: "decode,GQA4,padded-tables", heads: 8, kvHeads: 2, hd: 128, bs: 16, pad: 120, seqs: [][2]int{{1, 1}, {40, 1}, {100, 1}, {300, 1}}},
	{name: "mixed,padded-tables", heads: 4, kvHeads: 2, hd: 64, bs: 16, pad: 64, seqs: [][2]int{{37, 17}, {70, 1}, {5, 5}}},
}

func testAttention(h *harness) {
	for _, c := range attnCases {
		for _, dt := range KVTypes {
			h.t.Run(fmt.Sprintf("%s/%s", c.name, dt), func(t *testing.T) { h.sub(t).attention(c, dt) })
		}
	}
}

func (h *harness) attention(c attnCase, dt kernels.DType) {
	ab, numBlocks := h.attnBatch(c)
	spec := kernels.KVSpec{NumLayers: 2, NumBlocks: numBlocks, BlockSize: c.bs, NumKVHeads: c.kvHeads, HeadDim: c.hd, DType: dt}
	used := make([]bool, spec.Slots())
	for i, ctx := range ab.CtxLen {
		for p := 0; p < int(ctx); p++ {
			used[int(ab.BlockTables[i][p/c.bs])*c.bs+p%c.bs] = true
		}
	}
	cbe, cref, init := h.caches(spec, used)
	T := int(ab.QStart[len(ab.QStart)-1])
	cols := c.heads * c.hd
	q := h.actIn(T, cols, true, h.normal(1))     // (T, heads·hd)
	out := h.output(h.act, T, cols, true)        // (T, heads·hd)
	h.be.Attention(out.be, q.be, cbe, 1, ab)     // layer 1: layer 0 holds other data
	h.ref.Attention(out.ref, q.ref, cref, 1, ab) //
	tol := widen(tolAttention, h.act)
	tol.Atol += attentionHalfExtra[h.act]
	h.checkTol("out", cols, h.got(out), h.want(out), tol)
	h.unchanged("q", q)
	h.cacheUnchanged(cbe, init)
}

// cacheUnchanged fails the test when c's bytes differ from init (per
// layer: K, V).
func (h *harness) cacheUnchanged(c *kernels.KVCache, init [][]byte) {
	h.t.Helper()
	for i, x := range append(c.K[:len(c.K):len(c.K)], c.V...) {
		got := make([]byte, x.Bytes())
		h.must(h.be.Download(got, x), "Download KV cache")
		if !bytes.Equal(got, init[i]) {
			h.t.Errorf("%s: Attention wrote into the KV cache (tensor %d)", h.be.Name(), i)
		}
	}
}

// attnBatch lays c's sequences out over a shuffled pool of blocks, so no
// table is contiguous; odd-numbered tables carry one spare block past what
// their context needs, and every table c.pad more. It returns the batch
// and the pool size.
func (h *harness) attnBatch(c attnCase) (*kernels.AttnBatch, int) {
	n := len(c.seqs)
	shared := 0
	if c.share {
		shared = min(c.seqs[0][0], c.seqs[1][0]) / c.bs
	}
	total := 3 - shared // a few blocks nobody uses
	for i, s := range c.seqs {
		total += (s[0]+c.bs-1)/c.bs + i%2 + c.pad
	}
	pool := h.rng.Perm(total)
	ab := &kernels.AttnBatch{
		QStart: make([]int32, n+1), CtxLen: make([]int32, n), BlockTables: make([][]int32, n),
		NumHeads: c.heads, NumKVHeads: c.kvHeads, HeadDim: c.hd, Window: c.window,
		Scale: c.scale,
	}
	if ab.Scale == 0 {
		ab.Scale = float32(1 / math.Sqrt(float64(c.hd)))
	}
	for i, s := range c.seqs {
		ab.CtxLen[i] = int32(s[0])
		ab.QStart[i+1] = ab.QStart[i] + int32(s[1])
		need := (s[0]+c.bs-1)/c.bs + i%2 + c.pad
		var table []int32
		if i == 1 && shared > 0 {
			table = append(table, ab.BlockTables[0][:shared]...)
			need -= shared
		}
		for _, b := range pool[:need] {
			table = append(table, int32(b))
		}
		pool = pool[need:]
		ab.BlockTables[i] = table
	}
	return ab, total
}

// caches allocates spec's cache on both backends and uploads the same
// bytes into every layer: N(0, 1) values in used slots, ±300 in the rest,
// which a kernel reading past a context or outside its table would trip
// on. used == nil marks every slot used. init holds the uploaded bytes:
// every layer's K, then every layer's V.
func (h *harness) caches(spec kernels.KVSpec, used []bool) (be, ref *kernels.KVCache, init [][]byte) {
	h.t.Helper()
	be, err := h.be.AllocKV(spec)
	h.must(err, "AllocKV")
	ref, err = h.ref.AllocKV(spec)
	h.must(err, "reference AllocKV")
	width := spec.NumKVHeads * spec.HeadDim
	if len(be.K) != spec.NumLayers || len(be.V) != spec.NumLayers {
		h.t.Fatalf("AllocKV(%+v): %d K and %d V layers", spec, len(be.K), len(be.V))
	}
	init = make([][]byte, 2*spec.NumLayers)
	for l := 0; l < spec.NumLayers; l++ {
		for kv, pair := range [][2]kernels.Tensor{{be.K[l], ref.K[l]}, {be.V[l], ref.V[l]}} {
			if tb := pair[0]; tb.DType != spec.DType || tb.Rows != spec.Slots() || tb.Cols != width {
				h.t.Fatalf("AllocKV(%+v): layer %d tensor is %v", spec, l, tb)
			}
			vals := make([]float32, spec.Slots()*width) // (slots, width)
			for i := range vals {
				if used == nil || used[i/width] {
					vals[i] = float32(h.rng.NormFloat64())
				} else {
					vals[i] = float32(300 * (1 - 2*float64(h.rng.IntN(2))))
				}
			}
			data := encode(spec.DType, vals, width)
			init[kv*spec.NumLayers+l] = data
			h.must(h.be.Upload(pair[0], data), "Upload to KV cache")
			h.must(h.ref.Upload(pair[1], data), "reference Upload to KV cache")
		}
	}
	return be, ref, init
}

func testStoreKV(h *harness) {
	for _, dt := range KVTypes {
		for _, T := range []int{1, 3, 17} {
			h.t.Run(fmt.Sprintf("%s/T=%d", dt, T), func(t *testing.T) { h.sub(t).storeKV(dt, T) })
		}
	}
}

// storeKV writes T rows into random slots of layer 1 and compares both
// layers of both caches in full: the written slots must hold exactly the
// reference's rounding (round to nearest even, as ggml's conversions do)
// and every other slot must be untouched.
func (h *harness) storeKV(dt kernels.DType, T int) {
	spec := kernels.KVSpec{NumLayers: 2, NumBlocks: 5, BlockSize: 16, NumKVHeads: 2, HeadDim: 64, DType: dt}
	width := spec.NumKVHeads * spec.HeadDim
	cbe, cref, _ := h.caches(spec, nil)
	slots := make([]int32, T)
	for i, s := range h.rng.Perm(spec.Slots())[:T] {
		slots[i] = int32(s)
	}
	k := h.actIn(T, width, T > 1, h.activations()) // (T, nKV·hd)
	v := h.actIn(T, width, T > 1, h.activations()) // (T, nKV·hd)
	h.be.StoreKV(cbe, 1, k.be, v.be, slots)
	h.ref.StoreKV(cref, 1, k.ref, v.ref, slots)
	h.sync()
	for l := 0; l < spec.NumLayers; l++ {
		for kv, pair := range [][2]kernels.Tensor{{cbe.K[l], cref.K[l]}, {cbe.V[l], cref.V[l]}} {
			got := make([]byte, pair[0].Bytes())
			want := make([]byte, pair[1].Bytes())
			h.must(h.be.Download(got, pair[0]), "Download KV cache")
			h.must(h.ref.Download(want, pair[1]), "reference Download KV cache")
			what := fmt.Sprintf("layer %d %c", l, "KV"[kv])
			h.checkTol(what, width, decode(dt, got, width), decode(dt, want, width), Tol{})
		}
	}
	h.unchanged("k, v", k, v)
}

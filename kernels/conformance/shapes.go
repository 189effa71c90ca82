package conformance

import (
	"testing"

	"spillway/kernels"
)

// shapeFix holds the tensors the shape checks misuse.
type shapeFix struct {
	x, y, x2, x65    kernels.Tensor // act (3, 64), (3, 64), (2, 64), (3, 65)
	w, w96           kernels.Tensor // F32 (5, 64), (5, 96)
	norm, norm65     kernels.Tensor // F32 (1, 64), (1, 65)
	out, out4, out25 kernels.Tensor // act (3, 5), (3, 4), (2, 5)
	e96, o65         kernels.Tensor // act (2, 96), (3, 65)
	c                *kernels.KVCache
}

func (h *harness) shapeFixtures() shapeFix {
	alloc := func(dt kernels.DType, rows, cols int) kernels.Tensor {
		t, err := h.be.Alloc(dt, rows, cols)
		h.must(err, "Alloc")
		return t
	}
	act, f32 := h.act, kernels.F32
	f := shapeFix{
		x: alloc(act, 3, 64), y: alloc(act, 3, 64), x2: alloc(act, 2, 64), x65: alloc(act, 3, 65),
		w: alloc(f32, 5, 64), w96: alloc(f32, 5, 96), norm: alloc(f32, 1, 64), norm65: alloc(f32, 1, 65),
		out: alloc(act, 3, 5), out4: alloc(act, 3, 4), out25: alloc(act, 2, 5),
		e96: alloc(act, 2, 96), o65: alloc(act, 3, 65),
	}
	var err error
	f.c, err = h.be.AllocKV(kernels.KVSpec{NumLayers: 1, NumBlocks: 2, BlockSize: 16, NumKVHeads: 1, HeadDim: 64, DType: kernels.F16})
	h.must(err, "AllocKV")
	return f
}

// shapeCase is one call that must panic.
type shapeCase struct {
	name string
	call func()
}

func shapeCases(be kernels.Backend, f shapeFix) []shapeCase {
	batch := func(ctx int32, table ...int32) *kernels.AttnBatch {
		return &kernels.AttnBatch{
			QStart: []int32{0, 3}, CtxLen: []int32{ctx}, BlockTables: [][]int32{table},
			NumHeads: 1, NumKVHeads: 1, HeadDim: 64, Scale: 0.125,
		}
	}
	rope := kernels.RoPEParams{HeadDim: 64, NDims: 64, Base: 10000, FreqScale: 1}
	return []shapeCase{
		{"MatMul/k", func() { be.MatMul(f.out, f.x, f.w96) }},
		{"MatMul/n", func() { be.MatMul(f.out4, f.x, f.w) }},
		{"MatMul/T", func() { be.MatMul(f.out25, f.x, f.w) }},
		{"RMSNorm/w", func() { be.RMSNorm(f.y, f.x, f.norm65, 1e-5) }},
		{"RMSNorm/out", func() { be.RMSNorm(f.x2, f.x, f.norm, 1e-5) }},
		{"Add/rows", func() { be.Add(f.y, f.x, f.x2) }},
		{"Add/cols", func() { be.Add(f.y, f.x, f.x65) }},
		{"SiLUMul/up", func() { be.SiLUMul(f.y, f.x, f.x65) }},
		{"SiLUMul/out", func() { be.SiLUMul(f.x2, f.x, f.y) }},
		{"Embed/ids", func() { be.Embed(f.y, f.w, []int32{0, 1}) }},
		{"Embed/cols", func() { be.Embed(f.e96, f.w, []int32{0, 1}) }},
		{"Embed/id-range", func() { be.Embed(f.y, f.w, []int32{0, 5, 1}) }},
		{"Embed/id-negative", func() { be.Embed(f.y, f.w, []int32{0, -1, 1}) }},
		{"RoPE/pos", func() { be.RoPE(f.y, []int32{0, 1}, rope) }},
		{"RoPE/heads", func() { be.RoPE(f.x65, []int32{0, 1, 2}, rope) }},
		{"StoreKV/cols", func() { be.StoreKV(f.c, 0, f.x65, f.x65, []int32{0, 1, 2}) }},
		{"StoreKV/slots", func() { be.StoreKV(f.c, 0, f.x, f.y, []int32{0, 1}) }},
		{"StoreKV/slot-range", func() { be.StoreKV(f.c, 0, f.x, f.y, []int32{0, 32, 1}) }},
		{"StoreKV/layer", func() { be.StoreKV(f.c, 1, f.x, f.y, []int32{0, 1, 2}) }},
		{"Attention/q", func() { be.Attention(f.o65, f.x65, f.c, 0, batch(3, 0)) }},
		{"Attention/out", func() { be.Attention(f.x2, f.x, f.c, 0, batch(3, 0)) }},
		{"Attention/qrows", func() { be.Attention(f.x2, f.x2, f.c, 0, batch(3, 0)) }},
		{"Attention/ctx", func() { be.Attention(f.y, f.x, f.c, 0, batch(2, 0)) }},
		{"Attention/table", func() { be.Attention(f.y, f.x, f.c, 0, batch(20, 1)) }},
		{"Attention/block", func() { be.Attention(f.y, f.x, f.c, 0, batch(3, 2)) }},
		{"Attention/layer", func() { be.Attention(f.y, f.x, f.c, 1, batch(3, 0)) }},
	}
}

// testShapes checks that every op rejects inconsistent shapes, ids and
// slots with a panic (a programming error, never a silent out-of-bounds
// access) before touching memory.
func testShapes(h *harness) {
	for _, tc := range shapeCases(h.be, h.shapeFixtures()) {
		h.t.Run(tc.name, func(t *testing.T) {
			if msg, ok := panics(tc.call); ok {
				t.Logf("%s panicked: %v", h.be.Name(), msg)
			} else {
				t.Errorf("%s did not panic on a bad %s call", h.be.Name(), tc.name)
			}
		})
	}
}

// panics runs f and reports whether it panicked, and with what.
func panics(f func()) (msg any, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			msg, ok = r, true
		}
	}()
	f()
	return nil, false
}

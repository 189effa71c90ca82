//go:build cgo

package cuda

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
)

// graphRig is a toy decode step over 4 sequences: embed, q/k/v
// projections, RoPE, StoreKV, paged attention and an F32 output product.
type graphRig struct {
	be                  *Backend
	table, wq, wk, wo   kernels.Tensor
	x, q, k, v, att, lg kernels.Tensor
	c                   *kernels.KVCache
}

func newGraphRig(t *testing.T, be *Backend) *graphRig {
	rng := rand.New(rand.NewPCG(1, 2))
	weight := func(dt kernels.DType, rows, cols int) kernels.Tensor {
		vals := make([]float32, rows*cols)
		for i := range vals {
			vals[i] = float32(rng.NormFloat64() * 0.3)
		}
		data := make([]byte, rows*dt.RowBytes(cols))
		for r := 0; r < rows; r++ {
			quant.QuantizeRow(dt, data[r*dt.RowBytes(cols):(r+1)*dt.RowBytes(cols)], vals[r*cols:(r+1)*cols])
		}
		w, err := be.FromHost(dt, rows, cols, data)
		must(t, err)
		return w
	}
	alloc := func(dt kernels.DType, rows, cols int) kernels.Tensor {
		x, err := be.Alloc(dt, rows, cols)
		must(t, err)
		return x
	}
	r := &graphRig{be: be, table: weight(kernels.Q8_0, 50, 64), wq: weight(kernels.Q4_K, 128, 256),
		wk: weight(kernels.Q6_K, 128, 256), wo: weight(kernels.F16, 50, 128)}
	act := be.ActDType()
	r.x, r.q, r.k, r.v = alloc(act, 4, 64), alloc(act, 4, 128), alloc(act, 4, 64), alloc(act, 4, 64)
	r.att, r.lg = alloc(act, 4, 128), alloc(kernels.F32, 4, 50)
	var err error
	r.c, err = be.AllocKV(kernels.KVSpec{NumLayers: 1, NumBlocks: 8, BlockSize: 16, NumKVHeads: 1, HeadDim: 64, DType: kernels.F16})
	must(t, err)
	return r
}

// step issues the ops; x is 64 wide, so the q and k projections read it
// through a zero-padded 256-wide view made by Embed of a wider table.
func (r *graphRig) step(ids, pos, slots []int32, ab *kernels.AttnBatch) error {
	be, rp := r.be, kernels.RoPEParams{HeadDim: 64, NDims: 64, Base: 10000, FreqScale: 1}
	be.Embed(r.x, r.table, ids)
	x4 := kernels.Tensor{DType: r.x.DType, Rows: 1, Cols: 256, Buf: r.x.Buf, Off: r.x.Off}
	q1 := r.q.Slice(0, 1)
	be.MatMul(q1, x4, r.wq)
	be.MatMul(r.k.Slice(0, 1), x4, r.wk.Slice(0, 64))
	be.MatMul(r.v.Slice(0, 1), x4, r.wk.Slice(64, 64))
	be.RoPE(r.q, pos, rp)
	be.RoPE(r.k, pos, rp)
	be.StoreKV(r.c, 0, r.k, r.v, slots)
	be.Attention(r.att, r.q, r.c, 0, ab)
	be.MatMul(r.lg, r.att, r.wo)
	return nil
}

// graphInputs fills the step-s inputs in place: sequence i decodes its
// token at position 5+3i+s, from a fixed two-block table.
func graphInputs(s int, ids, pos, slots []int32, ab *kernels.AttnBatch) {
	for i := range 4 {
		p := int32(5 + 3*i + s)
		ids[i] = int32((7*i + 3*s) % 50)
		pos[i] = p
		ab.CtxLen[i] = p + 1
		slots[i] = ab.BlockTables[i][p/16]*16 + p%16
	}
}

// TestGraphReplay records the toy step once and replays it over changing
// inputs; every replay must produce exactly what running the ops does.
func TestGraphReplay(t *testing.T) {
	be := newCUDA(t, kernels.F16)
	defer be.Close()
	direct, graphed := newGraphRig(t, be), newGraphRig(t, be)
	ids, pos, slots := make([]int32, 4), make([]int32, 4), make([]int32, 4)
	ab := &kernels.AttnBatch{QStart: []int32{0, 1, 2, 3, 4}, CtxLen: make([]int32, 4),
		BlockTables: [][]int32{{0, 1}, {2, 3}, {4, 5}, {6, 7}}, NumHeads: 2, NumKVHeads: 1, HeadDim: 64, Scale: 0.125}
	graphInputs(0, ids, pos, slots, ab)
	replay, release, err := be.CaptureGraph(func() error { return graphed.step(ids, pos, slots, ab) })
	must(t, err)
	defer func() { must(t, release()) }()
	want, got := make([]byte, direct.lg.Bytes()), make([]byte, graphed.lg.Bytes())
	for s := range 6 {
		graphInputs(s, ids, pos, slots, ab)
		must(t, direct.step(ids, pos, slots, ab))
		must(t, be.Download(want, direct.lg))
		must(t, replay())
		must(t, be.Download(got, graphed.lg))
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d: graph replay differs from direct execution", s)
		}
	}
	must(t, be.Sync())
	// A batch of another shape cannot replay the recording.
	ab.BlockTables[0] = append(ab.BlockTables[0], 0)
	if err := replay(); err == nil {
		t.Fatal("replay accepted a batch whose table width changed")
	}
}

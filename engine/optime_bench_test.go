package engine_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"spillway/engine"
	"spillway/engine/model"
	"spillway/kernels"
)

// timedBackend wraps a backend and adds up wall time per op, syncing
// after each so asynchronous backends are charged correctly.
type timedBackend struct {
	kernels.Backend
	t map[string]time.Duration
}

func (b *timedBackend) time(op string, f func()) {
	t0 := time.Now()
	f()
	b.Backend.Sync()
	b.t[op] += time.Since(t0)
}

func (b *timedBackend) Embed(o, t kernels.Tensor, ids []int32) {
	b.time("Embed", func() { b.Backend.Embed(o, t, ids) })
}
func (b *timedBackend) RMSNorm(o, x, w kernels.Tensor, e float32) {
	b.time("RMSNorm", func() { b.Backend.RMSNorm(o, x, w, e) })
}
func (b *timedBackend) MatMul(o, x, w kernels.Tensor) {
	b.time(fmt.Sprintf("MatMul %dx%d", w.Rows, w.Cols), func() { b.Backend.MatMul(o, x, w) })
}

// MatMulN keeps the fused call the engine makes when the wrapped backend
// has one (kernels.MultiMatMuler), timed under the names of its weights;
// without it the breakdown would time separate MatMuls the engine never
// runs.
func (b *timedBackend) MatMulN(outs []kernels.Tensor, x kernels.Tensor, ws []kernels.Tensor) {
	name := "MatMulN"
	for i, w := range ws {
		sep := " "
		if i > 0 {
			sep = "+"
		}
		name += fmt.Sprintf("%s%dx%d", sep, w.Rows, w.Cols)
	}
	b.time(name, func() {
		if mm, ok := b.Backend.(kernels.MultiMatMuler); ok {
			mm.MatMulN(outs, x, ws)
			return
		}
		for i := range ws {
			b.Backend.MatMul(outs[i], x, ws[i])
		}
	})
}
func (b *timedBackend) Add(o, a, c kernels.Tensor) { b.time("Add", func() { b.Backend.Add(o, a, c) }) }
func (b *timedBackend) SiLUMul(o, g, u kernels.Tensor) {
	b.time("SiLUMul", func() { b.Backend.SiLUMul(o, g, u) })
}
func (b *timedBackend) RoPE(x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	b.time("RoPE", func() { b.Backend.RoPE(x, pos, p) })
}
func (b *timedBackend) StoreKV(c *kernels.KVCache, l int, k, v kernels.Tensor, s []int32) {
	b.time("StoreKV", func() { b.Backend.StoreKV(c, l, k, v, s) })
}
func (b *timedBackend) Attention(o, q kernels.Tensor, c *kernels.KVCache, l int, ab *kernels.AttnBatch) {
	b.time("Attention", func() { b.Backend.Attention(o, q, c, l, ab) })
}
func (b *timedBackend) Download(dst []byte, src kernels.Tensor) error {
	var err error
	b.time("Download", func() { err = b.Backend.Download(dst, src) })
	return err
}

// BenchmarkStepBreakdown prints where one decode step of 1 and 16
// sequences spends its time, op by op (TinyLlama-1.1B Q4_0 by default).
// Run: go test -run XXX -bench StepBreakdown -benchtime 1x -v ./engine/
func BenchmarkStepBreakdown(b *testing.B) {
	e := openEngine(b, benchModel(b), 0) // one full context: enough for 16 short sequences of any model
	defer e.Close()
	for _, n := range []int{1, 16} {
		tb := &timedBackend{Backend: e.Backend(), t: map[string]time.Duration{}}
		m, err := model.New(e.Desc, tb, 512)
		if err != nil {
			b.Fatal(err)
		}
		in, logits := decodeInput(e, n, 40)
		// One untimed step: backends that pack weights on first use do it here.
		if err := m.Forward(in, e.KV, logits); err != nil {
			b.Fatal(err)
		}
		clear(tb.t)
		t0 := time.Now()
		const steps = 8
		for i := 0; i < steps; i++ {
			if err := m.Forward(in, e.KV, logits); err != nil {
				b.Fatal(err)
			}
		}
		total := time.Since(t0) / steps
		var names []string
		for k := range tb.t {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool { return tb.t[names[i]] > tb.t[names[j]] })
		b.Logf("%d sequences: %.1f ms per step", n, total.Seconds()*1000)
		for _, k := range names {
			b.Logf("  %-22s %7.2f ms  %5.1f%%", k, (tb.t[k]/steps).Seconds()*1000, 100*float64(tb.t[k]/steps)/float64(total))
		}
	}
}

// decodeInput is one decode step of n sequences with ctx cached tokens each
// (contents irrelevant for timing): sequence i owns blocks [i·k, (i+1)·k).
func decodeInput(e *engine.Engine, n, ctx int) (*model.Input, []float32) {
	bs := e.KV.Spec.BlockSize
	k := (ctx + bs) / bs
	in := &model.Input{Attn: &kernels.AttnBatch{QStart: []int32{0}}}
	for i := 0; i < n; i++ {
		table := make([]int32, k)
		for j := range table {
			table[j] = int32(i*k + j)
		}
		in.Tokens = append(in.Tokens, int32(100+i))
		in.Pos = append(in.Pos, int32(ctx))
		in.Slots = append(in.Slots, table[ctx/bs]*int32(bs)+int32(ctx%bs))
		in.LogitRows = append(in.LogitRows, int32(i))
		in.Attn.QStart = append(in.Attn.QStart, int32(i+1))
		in.Attn.CtxLen = append(in.Attn.CtxLen, int32(ctx+1))
		in.Attn.BlockTables = append(in.Attn.BlockTables, table)
	}
	return in, make([]float32, n*e.Model.Cfg.VocabSize)
}

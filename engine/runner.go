package engine

import (
	"fmt"

	"spillway/engine/model"
	"spillway/kernels"
)

// Runner evaluates one sequence over the engine's KV pool, using blocks
// 0, 1, 2, ... in order. It serves `generate` and `eval`, which run a
// single sequence; the scheduler drives many through batching instead.
type Runner struct {
	e      *Engine
	n      int     // tokens in the cache
	blocks []int32 // block table: identity
}

// NewRunner starts an empty sequence.
func (e *Engine) NewRunner() *Runner { return &Runner{e: e} }

// Len is the number of tokens evaluated so far.
func (r *Runner) Len() int { return r.n }

// Eval appends tokens to the sequence and returns the logits of every new
// position when all is set, else of the last one: (rows, VocabSize).
func (r *Runner) Eval(tokens []int32, all bool) ([]float32, error) {
	slots := r.e.NumBlocks() * r.e.KV.Spec.BlockSize
	if r.n+len(tokens) > slots {
		return nil, fmt.Errorf("engine: sequence of %d tokens exceeds the KV cache of %d", r.n+len(tokens), slots)
	}
	V := r.e.Model.Cfg.VocabSize
	var out []float32
	for len(tokens) > 0 {
		n := min(len(tokens), r.e.Model.MaxTokens())
		rows := []int32{int32(n - 1)}
		if all {
			rows = make([]int32, n)
			for i := range rows {
				rows[i] = int32(i)
			}
		}
		lg := make([]float32, len(rows)*V)
		if err := r.step(tokens[:n], rows, lg); err != nil {
			return nil, err
		}
		switch {
		case out == nil && n == len(tokens):
			out = lg // one chunk (a decode step): no copy
		case all || n == len(tokens):
			out = append(out, lg...)
		}
		tokens = tokens[n:]
	}
	return out, nil
}

func (r *Runner) step(tokens []int32, rows []int32, logits []float32) error {
	bs := r.e.KV.Spec.BlockSize
	T := len(tokens)
	in := &model.Input{Tokens: tokens, Pos: make([]int32, T), Slots: make([]int32, T), LogitRows: rows}
	for i := range tokens {
		p := r.n + i
		in.Pos[i] = int32(p)
		in.Slots[i] = int32(p) // identity block table: slot == position
	}
	ctx := r.n + T
	for len(r.blocks)*bs < ctx {
		r.blocks = append(r.blocks, int32(len(r.blocks)))
	}
	in.Attn = &kernels.AttnBatch{QStart: []int32{0, int32(T)}, CtxLen: []int32{int32(ctx)}, BlockTables: [][]int32{r.blocks}}
	if err := r.e.Model.Forward(in, r.e.KV, logits); err != nil {
		return err
	}
	r.n = ctx
	return nil
}

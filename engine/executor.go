package engine

import (
	"spillway/batching"
	"spillway/engine/model"
	"spillway/kernels"
)

// Execute runs one continuous-batching step: the batch's tokens through
// the model over the paged KV pool, writing the logits of b.LogitRows to
// logits (len(b.LogitRows), VocabSize). It implements scheduler.Executor.
func (e *Engine) Execute(b *batching.Batch, logits []float32) error {
	in := &model.Input{
		Tokens: b.Tokens, Pos: b.Positions, Slots: b.Slots, LogitRows: b.LogitRows,
		Attn: &kernels.AttnBatch{QStart: b.QueryStart, CtxLen: b.ContextLens, BlockTables: b.BlockTables},
	}
	return e.Model.Forward(in, e.KV, logits)
}

// VocabSize is the length of a logits row.
func (e *Engine) VocabSize() int { return e.Model.Cfg.VocabSize }

package scheduler

import (
	"fmt"
	"time"

	"spillway/batching"
)

// Executor runs one forward step. The scheduler depends on the engine only
// through it, so tests drive the scheduler with a fake, deterministically.
type Executor interface {
	// Execute computes b and writes the logits of b.LogitRows to logits,
	// (len(b.LogitRows), VocabSize) row-major.
	Execute(b *batching.Batch, logits []float32) error
	VocabSize() int
}

// Decoder turns a sequence's tokens into text incrementally, holding back
// incomplete UTF-8.
type Decoder interface {
	Add(id int32) string
	Flush() string
}

// Vocab is what the scheduler needs of the tokenizer.
type Vocab interface {
	NewDecoder(prompt []int32) Decoder
	IsEOG(id int32) bool
}

// Options configure a Scheduler.
type Options struct {
	MaxNumSeqs          int // running sequences per step (vLLM --max-num-seqs)
	MaxNumBatchedTokens int // tokens per step (vLLM --max-num-batched-tokens)
	MaxQueue            int // waiting requests before Submit returns ErrSaturated
	ContextLen          int // the model's context length
	Blocks              batching.Config
	// StaticBatching admits new requests only when nothing runs: the
	// request-level batching of older servers, kept to measure against.
	StaticBatching bool
	// Now is the clock (tests inject one); nil = time.Now.
	Now func() time.Time
}

func (o *Options) defaults() error {
	if o.MaxNumSeqs <= 0 {
		o.MaxNumSeqs = 64
	}
	if o.MaxNumBatchedTokens <= 0 {
		o.MaxNumBatchedTokens = 512
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 1024
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ContextLen <= 0 {
		return fmt.Errorf("scheduler: context length %d must be positive", o.ContextLen)
	}
	if o.MaxNumBatchedTokens < o.MaxNumSeqs {
		return fmt.Errorf("scheduler: --max-num-batched-tokens %d is below --max-num-seqs %d: every running sequence needs a token per step",
			o.MaxNumBatchedTokens, o.MaxNumSeqs)
	}
	return nil
}

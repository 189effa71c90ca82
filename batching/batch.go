package batching

import (
	"fmt"
	"math"
)

// Batch is the flat input of one engine step: the pending tokens of any
// number of sequences (prefill chunks and decodes alike), laid out the way
// kernels.AttnBatch and Backend.StoreKV read them. It is plain data: no
// pointers into the scheduler's sequences or the engine.
//
// Sequence i owns rows [QueryStart[i], QueryStart[i+1]) of Tokens,
// Positions and Slots. Its context holds ContextLens[i] tokens, of which
// these rows are the last; BlockTables[i] has the blocks covering them.
type Batch struct {
	BlockSize int

	Tokens    []int32 // (T,) token ids
	Positions []int32 // (T,) position of each token in its sequence
	Slots     []int32 // (T,) KV slot: BlockTables[i][p/BlockSize]·BlockSize + p%BlockSize

	SeqIDs      []uint64  // (nseq,)
	Sampling    []any     // (nseq,) each Sequence.Sampling, carried for the engine
	QueryStart  []int32   // (nseq+1,) AttnBatch.QStart
	ContextLens []int32   // (nseq,) AttnBatch.CtxLen
	BlockTables [][]int32 // (nseq,) AttnBatch.BlockTables: copies, ceil(ctx/BlockSize) blocks each

	// LogitRows are the rows whose logits the engine samples: the last row
	// of every sequence whose pending tokens all fit in this step. A prefill
	// chunk that stops short of the end samples nothing.
	LogitRows  []int32 // (nsample,)
	SampleSeqs []int32 // (nsample,) the sequence index (into SeqIDs) of each

	tables []int32             // backing store of BlockTables
	seen   map[uint64]struct{} // SeqIDs already added
}

// NewBatch returns an empty batch for blocks of blockSize tokens. A zero
// Batch with BlockSize set works too.
func NewBatch(blockSize int) *Batch {
	return &Batch{BlockSize: blockSize, QueryStart: []int32{0}, seen: map[uint64]struct{}{}}
}

// Reset empties the batch, keeping its buffers for the next step. Slices
// handed out from the previous step are overwritten from here on.
func (b *Batch) Reset() {
	b.Tokens, b.Positions, b.Slots = b.Tokens[:0], b.Positions[:0], b.Slots[:0]
	clear(b.Sampling) // drop references for the garbage collector
	b.SeqIDs, b.Sampling = b.SeqIDs[:0], b.Sampling[:0]
	b.QueryStart, b.ContextLens = append(b.QueryStart[:0], 0), b.ContextLens[:0]
	b.BlockTables, b.tables = b.BlockTables[:0], b.tables[:0]
	b.LogitRows, b.SampleSeqs = b.LogitRows[:0], b.SampleSeqs[:0]
	clear(b.seen)
}

// NumTokens is T, the number of rows.
func (b *Batch) NumTokens() int { return len(b.Tokens) }

// NumSeqs is the number of sequences in the batch.
func (b *Batch) NumSeqs() int { return len(b.SeqIDs) }

// Add schedules seq's next n pending tokens, Tokens[NumComputed :
// NumComputed+n]. It does not change seq: after the step has run, the
// scheduler calls BlockManager.Commit(seq, n).
func (b *Batch) Add(seq *Sequence, n int) error {
	start, end := seq.NumComputed, seq.NumComputed+n
	if err := b.check(seq, n); err != nil {
		return err
	}
	if len(b.QueryStart) == 0 { // a zero Batch
		b.QueryStart = append(b.QueryStart, 0)
	}
	if b.seen == nil {
		b.seen = map[uint64]struct{}{}
	}
	bs := b.BlockSize
	for p := start; p < end; p++ {
		b.Tokens = append(b.Tokens, seq.Tokens[p])
		b.Positions = append(b.Positions, int32(p))
		b.Slots = append(b.Slots, seq.BlockTable[p/bs]*int32(bs)+int32(p%bs))
	}
	i := int32(len(b.SeqIDs))
	b.SeqIDs = append(b.SeqIDs, seq.ID)
	b.Sampling = append(b.Sampling, seq.Sampling)
	b.QueryStart = append(b.QueryStart, int32(len(b.Tokens)))
	b.ContextLens = append(b.ContextLens, int32(end))
	off := len(b.tables)
	b.tables = append(b.tables, seq.BlockTable[:blocksFor(end, bs)]...)
	// A view of the backing store; if a later append moves the store, this
	// view keeps the old array, whose contents never change.
	b.BlockTables = append(b.BlockTables, b.tables[off:len(b.tables):len(b.tables)])
	if end == len(seq.Tokens) {
		b.LogitRows = append(b.LogitRows, int32(len(b.Tokens)-1))
		b.SampleSeqs = append(b.SampleSeqs, i)
	}
	b.seen[seq.ID] = struct{}{}
	return nil
}

// check rejects what would make a wrong step rather than a failing one.
func (b *Batch) check(seq *Sequence, n int) error {
	start, end := seq.NumComputed, seq.NumComputed+n
	switch {
	case b.BlockSize <= 0:
		return fmt.Errorf("batching: batch has block size %d", b.BlockSize)
	case n <= 0 || start < 0 || end > len(seq.Tokens):
		return fmt.Errorf("batching: sequence %d: %d tokens after %d computed, of %d", seq.ID, n, start, len(seq.Tokens))
	case end > math.MaxInt32 || len(b.Tokens)+n > math.MaxInt32:
		return fmt.Errorf("batching: sequence %d: positions past 2³¹", seq.ID)
	case blocksFor(end, b.BlockSize) > len(seq.BlockTable):
		return fmt.Errorf("batching: sequence %d: %d tokens need %d blocks, table has %d",
			seq.ID, end, blocksFor(end, b.BlockSize), len(seq.BlockTable))
	}
	if _, dup := b.seen[seq.ID]; dup {
		return fmt.Errorf("batching: sequence %d added twice to one batch", seq.ID)
	}
	return nil
}

package batching_test

import (
	"testing"

	"spillway/batching"
	"spillway/kernels"
)

// TestBatchFeedsAttnBatch builds batches through the BlockManager (prefix
// hits, chunked prefill, decodes) and checks that they are valid
// kernels.AttnBatch input, with slots where kernels.KVCache says they are.
func TestBatchFeedsAttnBatch(t *testing.T) {
	const bs, nblocks = 4, 16
	m, err := batching.NewBlockManager(batching.Config{NumBlocks: nblocks, BlockSize: bs})
	if err != nil {
		t.Fatal(err)
	}
	cache := &kernels.KVCache{Spec: kernels.KVSpec{NumLayers: 1, NumBlocks: nblocks, BlockSize: bs, NumKVHeads: 2, HeadDim: 8}}
	prompt := []int32{5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	a := batching.NewSequence(1, prompt, 0, nil)
	b := batching.NewSequence(2, prompt, 0, nil)
	for _, s := range []*batching.Sequence{a, b} {
		if err := m.Allocate(s); err != nil {
			t.Fatal(err)
		}
	}
	batch := batching.NewBatch(bs)
	// a: a chunk of 7 then the last 3; b: all 10 at once.
	for round, sizes := range [][2]int{{7, 10}, {3, 0}} {
		batch.Reset()
		var sched []*batching.Sequence
		for i, s := range []*batching.Sequence{a, b} {
			if sizes[i] == 0 {
				continue
			}
			if err := batch.Add(s, sizes[i]); err != nil {
				t.Fatal(err)
			}
			sched = append(sched, s)
		}
		checkAgainstKernels(t, batch, cache)
		for i, s := range sched {
			if err := m.Commit(s, int(batch.QueryStart[i+1]-batch.QueryStart[i])); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("round %d: %d rows, %d sequences, sample rows %v", round, batch.NumTokens(), batch.NumSeqs(), batch.LogitRows)
	}
	// A third sequence hits the two full blocks and computes only the rest.
	c := batching.NewSequence(3, append(prompt, 99), 0, nil)
	if err := m.Allocate(c); err != nil {
		t.Fatal(err)
	}
	a.AppendToken(42)
	if err := m.Append(a); err != nil {
		t.Fatal(err)
	}
	batch.Reset()
	for _, s := range []*batching.Sequence{a, c} {
		if err := batch.Add(s, s.NumPending()); err != nil {
			t.Fatal(err)
		}
	}
	if c.NumCached != 8 || batch.ContextLens[1] != 11 || batch.QueryStart[2]-batch.QueryStart[1] != 3 {
		t.Fatalf("c: %d cached, context %d", c.NumCached, batch.ContextLens[1])
	}
	checkAgainstKernels(t, batch, cache)
}

// checkAgainstKernels validates the batch as kernels will see it.
func checkAgainstKernels(t *testing.T, b *batching.Batch, c *kernels.KVCache) {
	t.Helper()
	ab := &kernels.AttnBatch{QStart: b.QueryStart, CtxLen: b.ContextLens, BlockTables: b.BlockTables,
		NumHeads: 4, NumKVHeads: 2, HeadDim: 8, Scale: 0.35}
	if err := ab.Validate(b.NumTokens(), c); err != nil {
		t.Fatal(err)
	}
	bs := c.Spec.BlockSize
	for i := 0; i < ab.NumSeqs(); i++ {
		nq := ab.QStart[i+1] - ab.QStart[i]
		for j := int32(0); j < nq; j++ {
			row := ab.QStart[i] + j
			p := ab.CtxLen[i] - nq + j // AttnBatch: query j sits at CtxLen-nq+j
			if b.Positions[row] != p {
				t.Fatalf("row %d: position %d, AttnBatch implies %d", row, b.Positions[row], p)
			}
			if slot := ab.BlockTables[i][p/int32(bs)]*int32(bs) + p%int32(bs); b.Slots[row] != slot || int(slot) >= c.Spec.Slots() {
				t.Fatalf("row %d: slot %d, KVCache layout says %d", row, b.Slots[row], slot)
			}
		}
	}
}

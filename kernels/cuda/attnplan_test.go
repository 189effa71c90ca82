package cuda

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
)

// randomBatch builds a valid AttnBatch over a shuffled pool of blocks:
// nseq sequences with random contexts and query counts (0 allowed).
func randomBatch(rng *rand.Rand, nseq, heads, kvHeads, bs int) (*kernels.AttnBatch, *kernels.KVCache) {
	ab := &kernels.AttnBatch{
		QStart: make([]int32, nseq+1), CtxLen: make([]int32, nseq), BlockTables: make([][]int32, nseq),
		NumHeads: heads, NumKVHeads: kvHeads, HeadDim: 64, Scale: 0.125,
	}
	total := 0
	for i := range nseq {
		ctx := 1 + rng.IntN(300)
		nq := min(ctx, rng.IntN(3)*rng.IntN(40))
		ab.CtxLen[i] = int32(ctx)
		ab.QStart[i+1] = ab.QStart[i] + int32(nq)
		total += (ctx+bs-1)/bs + i%2
	}
	pool := rng.Perm(total)
	for i := range nseq {
		need := (int(ab.CtxLen[i])+bs-1)/bs + i%2 // odd sequences carry a spare block
		for _, b := range pool[:need] {
			ab.BlockTables[i] = append(ab.BlockTables[i], int32(b))
		}
		pool = pool[need:]
	}
	c := &kernels.KVCache{Spec: kernels.KVSpec{NumLayers: 1, NumBlocks: total, BlockSize: bs, NumKVHeads: kvHeads, HeadDim: 64, DType: kernels.F16}}
	return ab, c
}

// checkPlan decodes the staged metadata and checks it against the batch:
// every query row in exactly one tile of its own sequence, positions as
// AttnBatch defines them, tables copied, and the splits covering every
// key position a query can see.
func checkPlan(t *testing.T, ab *kernels.AttnBatch, c *kernels.KVCache, sms int) {
	t.Helper()
	p := planAttention(ab, c.Spec.BlockSize, sms)
	size, offPos, offTab := p.metaBytes()
	meta := make([]byte, size)
	if err := p.fillMeta(meta, ab, p.T, c, sms); err != nil {
		t.Fatal(err)
	}
	u32 := func(o int) int { return int(int32(binary.LittleEndian.Uint32(meta[o:]))) }
	owner := make([]int, p.T)
	for i := range owner {
		owner[i] = -1
	}
	for tile := 0; tile < p.ntiles; tile++ {
		seq, r0, n, pnew := u32(16*tile), u32(16*tile+4), u32(16*tile+8), u32(16*tile+12)
		if n < 1 || n > p.qr || n*p.hc > attnUnits {
			t.Fatalf("tile %d has %d rows (qr %d, hc %d)", tile, n, p.qr, p.hc)
		}
		// The kernel reads the cache below pnew before its PDL wait:
		// it must be the sequence's first position of this step.
		if want := int(ab.CtxLen[seq] - (ab.QStart[seq+1] - ab.QStart[seq])); pnew != want {
			t.Fatalf("tile %d (seq %d): first new position %d, want %d", tile, seq, pnew, want)
		}
		for r := r0; r < r0+n; r++ {
			if r < int(ab.QStart[seq]) || r >= int(ab.QStart[seq+1]) || owner[r] >= 0 {
				t.Fatalf("tile %d (seq %d) claims row %d (owner %d)", tile, seq, r, owner[r])
			}
			owner[r] = seq
		}
	}
	for i := 0; i < p.nseq; i++ {
		nq := int(ab.QStart[i+1] - ab.QStart[i])
		for j := 0; j < nq; j++ {
			r := int(ab.QStart[i]) + j
			if owner[r] != i || u32(offPos+4*r) != int(ab.CtxLen[i])-nq+j {
				t.Fatalf("row %d: owner %d, position %d", r, owner[r], u32(offPos+4*r))
			}
		}
		for j, blk := range ab.BlockTables[i] {
			if u32(offTab+4*(p.W*i+j)) != int(blk) {
				t.Fatalf("sequence %d table entry %d", i, j)
			}
		}
	}
	// Every split has at least one 32-key tile of a full table to share.
	if keys := p.W * c.Spec.BlockSize; p.nsplit < 1 || p.nsplit > maxSplits || (p.nsplit-1)*attnKeys >= keys {
		t.Fatalf("%d splits over %d keys", p.nsplit, keys)
	}
	// A split grid's counters fit the 2·sms the backend allocates.
	if p.counters() > 2*sms || (p.nsplit > 1) != (p.counters() > 0) {
		t.Fatalf("%d splits need %d counters (%d SMs)", p.nsplit, p.counters(), sms)
	}
}

func TestAttnPlan(t *testing.T) {
	cases := []struct{ nseq, heads, kv, bs, sms int }{
		{1, 32, 8, 16, 132}, // one long decode: split-K
		{4, 4, 4, 16, 108},  // MHA
		{8, 8, 2, 16, 132},  // GQA 4
		{5, 64, 2, 8, 16},   // group of 32 > 16 units: head chunks
		{64, 32, 32, 16, 132},
		{3, 28, 4, 32, 84}, // group of 7 (Qwen2)
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.nseq), uint64(tc.heads)))
			for range 50 {
				ab, c := randomBatch(rng, tc.nseq, tc.heads, tc.kv, tc.bs)
				checkPlan(t, ab, c, tc.sms)
			}
		})
	}
}

// TestAttnPlanReplay checks the guard graph replays rely on: a batch whose
// layout changed since the plan was made is refused, not misread.
func TestAttnPlanReplay(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	ab, c := randomBatch(rng, 4, 8, 2, 16)
	p := planAttention(ab, 16, 132)
	size, _, _ := p.metaBytes()
	ab.BlockTables[0] = append(ab.BlockTables[0], ab.BlockTables[1]...)
	c.Spec.NumBlocks += 0
	if err := p.fillMeta(make([]byte, size), ab, p.T, c, 132); err == nil {
		t.Fatal("fillMeta accepted a batch whose table width changed")
	}
}

// FuzzAttnPlan feeds arbitrary batch shapes: fillMeta must reject invalid
// batches with an error and lay out valid ones consistently, never panic.
func FuzzAttnPlan(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(8), uint8(2), uint8(16))
	f.Add(uint64(9), uint8(1), uint8(32), uint8(32), uint8(8))
	f.Fuzz(func(t *testing.T, seed uint64, nseq, heads, kv, bs uint8) {
		if nseq == 0 || nseq > 32 || kv == 0 || heads == 0 || bs == 0 {
			return
		}
		rng := rand.New(rand.NewPCG(seed, 0))
		ab, c := randomBatch(rng, int(nseq), int(heads), int(kv), int(bs))
		if ab.Validate(int(ab.QStart[nseq]), c) != nil {
			p := planAttention(ab, int(bs), 132)
			size, _, _ := p.metaBytes()
			if p.fillMeta(make([]byte, size), ab, p.T, c, 132) == nil {
				t.Fatal("fillMeta accepted a batch Validate rejects")
			}
			return
		}
		checkPlan(t, ab, c, 132)
	})
}

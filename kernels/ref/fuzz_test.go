package ref_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"spillway/kernels"
)

// FuzzAttentionBatch feeds Attention arbitrary batch descriptions. The
// batch is the one input of an op that carries indices (block ids, lengths)
// into memory, so the property is: a batch either runs, or panics with a
// "ref: Attention: ..." message, never with an out-of-range access. And a
// batch that AttnBatch.Validate accepts must run.
func FuzzAttentionBatch(f *testing.F) {
	f.Add([]byte{2, 1, 3, 1, 4, 2, 5, 2, 1, 3}, uint8(4), uint8(2), uint8(0)) // valid: a decode and a 2-query chunk
	f.Add([]byte{1, 5, 5, 2, 3, 1}, uint8(2), uint8(2), uint8(3))
	f.Add([]byte{3, 0, 0, 1, 1, 1, 1, 9, 2, 2, 0}, uint8(1), uint8(1), uint8(1))
	f.Add([]byte{2, 2, 1, 1, 200, 0, 0, 1, 3}, uint8(2), uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, raw []byte, heads, kvHeads, window uint8) {
		const hd, bs, blocks = 2, 4, 6
		b := newRef(t)
		kv, err := b.AllocKV(kernels.KVSpec{NumLayers: 1, NumBlocks: blocks, BlockSize: bs, NumKVHeads: 2, HeadDim: hd, DType: kernels.F16})
		if err != nil {
			t.Fatal(err)
		}
		ab := &kernels.AttnBatch{NumHeads: int(heads % 9), NumKVHeads: int(kvHeads % 4), HeadDim: hd, Scale: 1, Window: int(window % 8)}
		rows := decodeBatch(ab, raw)
		if rows < 0 || rows > 64 || ab.NumHeads == 0 {
			return
		}
		q := tensor(t, b, rows, ab.NumHeads*hd)
		out := tensor(t, b, rows, ab.NumHeads*hd)
		valid := ab.NumKVHeads == 2 && ab.Validate(rows, kv) == nil
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if _, rt := r.(runtime.Error); rt || !strings.HasPrefix(fmt.Sprint(r), "ref: Attention: ") {
				t.Fatalf("batch %+v: panic %v", ab, r)
			}
			if valid {
				t.Fatalf("batch %+v passed Validate but panicked: %v", ab, r)
			}
		}()
		b.Attention(out, q, kv, 0, ab)
	})
}

// decodeBatch fills ab's sequences from raw: a count, then per sequence a
// query count, a context length, a table length and the table's block ids
// (signed bytes, so negative ids occur). It returns the total query rows.
func decodeBatch(ab *kernels.AttnBatch, raw []byte) int {
	next := func() int {
		if len(raw) == 0 {
			return 0
		}
		v := int(int8(raw[0]))
		raw = raw[1:]
		return v
	}
	n := next() & 7
	ab.QStart = []int32{0}
	for i := 0; i < n; i++ {
		nq, ctx, tl := next(), next(), next()&7
		ab.QStart = append(ab.QStart, ab.QStart[i]+int32(nq))
		ab.CtxLen = append(ab.CtxLen, int32(ctx))
		table := make([]int32, tl)
		for j := range table {
			table[j] = int32(next())
		}
		ab.BlockTables = append(ab.BlockTables, table)
	}
	return int(ab.QStart[n])
}

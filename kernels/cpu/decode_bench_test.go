//go:build cgo

package cpu

import (
	"fmt"
	"testing"

	"spillway/kernels"
)

// tlRoPE is TinyLlama-1.1B's RoPE: head_dim 64, normal style, base 10000.
var tlRoPE = kernels.RoPEParams{HeadDim: 64, NDims: 64, Base: 10000, FreqScale: 1}

// BenchmarkDecodeOps times the non-GEMM ops of one layer of a batched
// decode step at TinyLlama-1.1B's shape (32 query heads, 4 kv heads of 64,
// F16 cache, 40 cached tokens, ffn 5632) for 1 and 16 sequences, and of a
// 512-token prefill chunk: RoPE of q and k, SiLUMul, Attention. Multiply
// by 22 layers for a step. Run on one thread and on the default pool.
func BenchmarkDecodeOps(b *testing.B) {
	for _, threads := range []int{1, 0} {
		be, err := New(kernels.Options{Threads: threads})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("threads=%d", be.Threads()), func(b *testing.B) { decodeOps(b, be) })
		be.Close()
	}
}

func decodeOps(b *testing.B, be *Backend) {
	for _, T := range []int{1, 16, 512} {
		pos := make([]int32, T)
		for i := range pos {
			pos[i] = int32(40 + i%7)
			if T == 512 {
				pos[i] = int32(i)
			}
		}
		q, _ := be.Alloc(kernels.F32, T, 32*64)
		k, _ := be.Alloc(kernels.F32, T, 4*64)
		b.Run(fmt.Sprintf("RoPE/T=%d", T), func(b *testing.B) {
			for b.Loop() {
				be.RoPE(q, pos, tlRoPE)
				be.RoPE(k, pos, tlRoPE)
			}
		})
		g, _ := be.Alloc(kernels.F32, T, 5632)
		u, _ := be.Alloc(kernels.F32, T, 5632)
		b.Run(fmt.Sprintf("SiLUMul/T=%d", T), func(b *testing.B) {
			for b.Loop() {
				be.SiLUMul(g, g, u)
			}
		})
	}
	for _, c := range []struct{ seqs, nq, ctx, layers int }{{1, 1, 41, 1}, {16, 1, 41, 1}, {16, 1, 41, 64}, {1, 512, 512, 1}} {
		b.Run(fmt.Sprintf("Attention/seqs=%d,nq=%d,ctx=%d,layers=%d", c.seqs, c.nq, c.ctx, c.layers), func(b *testing.B) {
			benchAttn(b, be, c.seqs, c.nq, c.ctx, c.layers)
		})
	}
}

// benchAttn times one Attention call of seqs sequences with nq queries each
// over ctx positions (TinyLlama-1.1B heads, F16 cache of 16-slot blocks),
// cycling through the given number of cache layers: with many, the cache
// comes from DRAM as it does in a forward pass.
func benchAttn(b *testing.B, be *Backend, seqs, nq, ctx, layers int) {
	const heads, kvHeads, hd, bs = 32, 4, 64, 16
	blocksPer := (ctx + bs - 1) / bs
	kv, err := be.AllocKV(kernels.KVSpec{NumLayers: layers, NumBlocks: seqs * blocksPer, BlockSize: bs, NumKVHeads: kvHeads, HeadDim: hd, DType: kernels.F16})
	if err != nil {
		b.Fatal(err)
	}
	T := seqs * nq
	q, _ := be.Alloc(kernels.F32, T, heads*hd)
	out, _ := be.Alloc(kernels.F32, T, heads*hd)
	ab := &kernels.AttnBatch{NumHeads: heads, NumKVHeads: kvHeads, HeadDim: hd, Scale: 0.125, QStart: []int32{0}}
	for s := 0; s < seqs; s++ {
		tab := make([]int32, blocksPer)
		for i := range tab {
			tab[i] = int32(s*blocksPer + i)
		}
		ab.BlockTables = append(ab.BlockTables, tab)
		ab.CtxLen = append(ab.CtxLen, int32(ctx))
		ab.QStart = append(ab.QStart, int32((s+1)*nq))
	}
	l := 0
	for b.Loop() {
		be.Attention(out, q, kv, l, ab)
		l = (l + 1) % layers
	}
}

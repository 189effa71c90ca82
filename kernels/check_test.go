package kernels

import (
	"strings"
	"testing"
)

func TestCheckRoPE(t *testing.T) {
	x := Tensor{DType: F32, Rows: 2, Cols: 128}
	ok := RoPEParams{HeadDim: 64, NDims: 64, Base: 10000}
	cases := []struct {
		name string
		edit func(*RoPEParams) []int32
		want string
	}{
		{"ok", func(*RoPEParams) []int32 { return []int32{0, 1} }, ""},
		{"positions", func(*RoPEParams) []int32 { return []int32{0} }, "1 positions"},
		{"heads", func(p *RoPEParams) []int32 { p.HeadDim = 48; p.NDims = 48; return []int32{0, 1} }, "whole number of heads"},
		{"odd dims", func(p *RoPEParams) []int32 { p.NDims = 63; return []int32{0, 1} }, "must be even"},
		{"style", func(p *RoPEParams) []int32 { p.Style = 7; return []int32{0, 1} }, "unknown style"},
		{"factors", func(p *RoPEParams) []int32 { p.FreqFactors = make([]float32, 3); return []int32{0, 1} }, "3 freq factors"},
	}
	for _, c := range cases {
		p := ok
		pos := c.edit(&p)
		err := p.CheckRoPE(x, pos)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestCheckAttention(t *testing.T) {
	c := &KVCache{Spec: KVSpec{NumLayers: 1, NumBlocks: 4, BlockSize: 16, NumKVHeads: 2, HeadDim: 8, DType: F16}}
	q := Tensor{DType: F32, Rows: 3, Cols: 32}
	good := func() *AttnBatch {
		return &AttnBatch{QStart: []int32{0, 3}, CtxLen: []int32{20}, BlockTables: [][]int32{{2, 0}},
			NumHeads: 4, NumKVHeads: 2, HeadDim: 8}
	}
	cases := []struct {
		name string
		edit func(*AttnBatch)
		want string
	}{
		{"ok", func(*AttnBatch) {}, ""},
		{"heads", func(b *AttnBatch) { b.NumHeads = 3 }, "for 3 heads"},
		{"kv heads", func(b *AttnBatch) { b.NumKVHeads = 4 }, "4 kv heads"},
		{"short table", func(b *AttnBatch) { b.BlockTables[0] = b.BlockTables[0][:1] }, "needs 2 blocks"},
		{"bad block", func(b *AttnBatch) { b.BlockTables[0][1] = 9 }, "uses block 9"},
	}
	for _, cs := range cases {
		b := good()
		cs.edit(b)
		err := b.CheckAttention(q, q, c)
		if (cs.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), cs.want)) {
			t.Errorf("%s: error %v, want %q", cs.name, err, cs.want)
		}
	}
	if err := (*AttnBatch)(nil).CheckAttention(q, q, c); err == nil {
		t.Error("nil batch accepted")
	}
}

func TestCheckAlias(t *testing.T) {
	buf := &fakeBuf{4096}
	a := Tensor{DType: F32, Rows: 4, Cols: 32, Buf: buf}
	b := a.Slice(2, 2)
	other := Tensor{DType: F32, Rows: 4, Cols: 32, Buf: &fakeBuf{4096}}
	cases := []struct {
		name      string
		out, in   Tensor
		allowSame bool
		bad       bool
	}{
		{"other buffer", a, other, false, false},
		{"same view allowed", a, a, true, false},
		{"same view refused", a, a, false, true},
		{"partial overlap", a, b, true, true},
		{"disjoint rows", a.Slice(0, 2), b, false, false},
	}
	for _, c := range cases {
		err := CheckAlias(c.out, c.in, "x", c.allowSame)
		if (err != nil) != c.bad {
			t.Errorf("%s: error %v, want error %v", c.name, err, c.bad)
		}
	}
}

type fakeBuf struct{ n int }

func (f *fakeBuf) Bytes() int { return f.n }

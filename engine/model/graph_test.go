package model

import (
	"slices"
	"testing"

	"spillway/kernels"
)

func TestGraphBuckets(t *testing.T) {
	for _, c := range []struct {
		max  int
		want []int
	}{
		{0, nil},
		{1, []int{1}},
		{3, []int{1, 2}},
		{20, []int{1, 2, 4, 8, 16}},
		{64, []int{1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64}},
	} {
		if got := graphBuckets(c.max); !slices.Equal(got, c.want) {
			t.Errorf("graphBuckets(%d) = %v, want %v", c.max, got, c.want)
		}
	}
	if b := graphBuckets(256); len(b) != 3+32 || b[len(b)-1] != 256 {
		t.Errorf("graphBuckets(256) = %v", b)
	}
}

// TestGraphBucket: only batches of single-query sequences with tables that
// fit the recordings replay, each in the smallest bucket that holds it.
func TestGraphBucket(t *testing.T) {
	m := &Model{g: &graphs{cfg: GraphConfig{TableWidth: 4, MaxBatch: 16}, buckets: graphBuckets(16)}}
	decode := func(n, width int) *Input {
		in := &Input{Tokens: make([]int32, n), Attn: &kernels.AttnBatch{QStart: []int32{0}}}
		for i := 0; i < n; i++ {
			in.Attn.QStart = append(in.Attn.QStart, int32(i+1))
			in.Attn.CtxLen = append(in.Attn.CtxLen, 5)
			in.Attn.BlockTables = append(in.Attn.BlockTables, make([]int32, width))
		}
		return in
	}
	prefill := decode(3, 1)
	prefill.Tokens = make([]int32, 4)
	prefill.Attn.QStart[3] = 4
	for _, c := range []struct {
		name string
		in   *Input
		want int
	}{
		{"one", decode(1, 1), 1},
		{"three padded", decode(3, 4), 4},
		{"nine padded", decode(9, 2), 16},
		{"sixteen", decode(16, 4), 16},
		{"over the largest bucket", decode(17, 1), 0},
		{"table wider than recorded", decode(2, 5), 0},
		{"a prefill chunk", prefill, 0},
	} {
		if got := m.graphBucket(c.in); got != c.want {
			t.Errorf("%s: bucket %d, want %d", c.name, got, c.want)
		}
	}
	if got := (&Model{}).graphBucket(decode(1, 1)); got != 0 {
		t.Errorf("graphs off: bucket %d", got)
	}
}

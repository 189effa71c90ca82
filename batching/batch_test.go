package batching

import (
	"reflect"
	"testing"
)

// step is one sequence's part of a hand-built batch.
type step struct {
	seq *Sequence
	n   int
}

func running(id uint64, tokens, computed int, table ...int32) *Sequence {
	toks := make([]int32, tokens)
	for i := range toks {
		toks[i] = int32(100*id) + int32(i)
	}
	s := NewSequence(id, toks, 0, id*10)
	s.NumComputed, s.BlockTable = computed, table
	return s
}

func TestBatchAdd(t *testing.T) {
	// Block size 4. A: a whole 6-token prompt. B: a decode at position 9.
	// C: a 4-token chunk of a 12-token prompt, positions 4..7, no sample.
	a := running(1, 6, 0, 2, 5)
	b := running(2, 10, 9, 0, 1, 7)
	c := running(3, 12, 4, 3, 4, 6)
	batch := NewBatch(4)
	for _, s := range []step{{a, 6}, {b, 1}, {c, 4}} {
		if err := batch.Add(s.seq, s.n); err != nil {
			t.Fatal(err)
		}
	}
	want := &Batch{
		BlockSize:   4,
		Tokens:      []int32{100, 101, 102, 103, 104, 105, 209, 304, 305, 306, 307},
		Positions:   []int32{0, 1, 2, 3, 4, 5, 9, 4, 5, 6, 7},
		Slots:       []int32{8, 9, 10, 11, 20, 21, 29, 16, 17, 18, 19},
		SeqIDs:      []uint64{1, 2, 3},
		Sampling:    []any{uint64(10), uint64(20), uint64(30)},
		QueryStart:  []int32{0, 6, 7, 11},
		ContextLens: []int32{6, 10, 8},
		BlockTables: [][]int32{{2, 5}, {0, 1, 7}, {3, 4}},
		LogitRows:   []int32{5, 6},
		SampleSeqs:  []int32{0, 1},
	}
	want.tables, want.seen = batch.tables, batch.seen
	if !reflect.DeepEqual(batch, want) {
		t.Fatalf("batch\n%+v\nwant\n%+v", batch, want)
	}
	if a.NumComputed != 0 {
		t.Error("Add changed the sequence")
	}
	batch.Reset()
	if batch.NumTokens() != 0 || batch.NumSeqs() != 0 || len(batch.QueryStart) != 1 || len(batch.LogitRows) != 0 {
		t.Fatalf("Reset left %+v", batch)
	}
	if err := batch.Add(b, 1); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestBatchAddRejects(t *testing.T) {
	cases := []struct {
		name string
		seq  *Sequence
		n    int
	}{
		{"no tokens", running(1, 4, 0, 0), 0},
		{"more than pending", running(1, 4, 2, 0), 3},
		{"table too short", running(1, 9, 0, 0, 1), 9},
		{"negative", running(1, 4, 0, 0), -1},
	}
	for _, c := range cases {
		if err := NewBatch(4).Add(c.seq, c.n); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	b := NewBatch(4)
	s := running(1, 8, 0, 0, 1)
	if err := b.Add(s, 4); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(s, 4); err == nil {
		t.Error("the same sequence twice in one batch was accepted")
	}
	var zero Batch
	if err := zero.Add(s, 1); err == nil {
		t.Error("a batch with block size 0 was accepted")
	}
	zero.BlockSize = 4
	if err := zero.Add(s, 1); err != nil || !reflect.DeepEqual(zero.QueryStart, []int32{0, 1}) {
		t.Errorf("zero Batch with a block size: %v, query starts %v", err, zero.QueryStart)
	}
}

// TestBatchTablesSurviveGrowth: views into the flat table store stay right
// when later Adds reallocate it.
func TestBatchTablesSurviveGrowth(t *testing.T) {
	b := NewBatch(1)
	var want [][]int32
	for i := range 50 {
		table := make([]int32, i+1)
		for j := range table {
			table[j] = int32(1000*i + j)
		}
		if err := b.Add(running(uint64(i), i+1, 0, table...), i+1); err != nil {
			t.Fatal(err)
		}
		want = append(want, table)
	}
	if !reflect.DeepEqual(b.BlockTables, want) {
		t.Fatal("block tables changed as the batch grew")
	}
}

package batching

import (
	"errors"
	"slices"
	"testing"
)

func newManager(t *testing.T, blocks, bs int) *BlockManager {
	t.Helper()
	m, err := NewBlockManager(Config{NumBlocks: blocks, BlockSize: bs})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func seqOf(id uint64, salt uint64, toks ...int32) *Sequence {
	return NewSequence(id, toks, salt, nil)
}

// admit allocates and computes seq's whole prompt, as one prefill would.
func admit(t *testing.T, m *BlockManager, seq *Sequence) {
	t.Helper()
	if err := m.Allocate(seq); err != nil {
		t.Fatal(err)
	}
	if err := m.Commit(seq, seq.NumPending()); err != nil {
		t.Fatal(err)
	}
}

func TestNewBlockManager(t *testing.T) {
	cases := []struct {
		cfg Config
		ok  bool
	}{
		{Config{NumBlocks: 10}, true},
		{Config{NumBlocks: 1, BlockSize: 1}, true},
		{Config{NumBlocks: 0, BlockSize: 16}, false},
		{Config{NumBlocks: 4, BlockSize: -1}, false},
		{Config{NumBlocks: 1 << 28, BlockSize: 16}, false}, // 2³² slots
	}
	for _, c := range cases {
		m, err := NewBlockManager(c.cfg)
		if (err == nil) != c.ok {
			t.Errorf("%+v: err %v, want ok %v", c.cfg, err, c.ok)
		}
		if err == nil && (m.BlockSize() == 0 || m.Stats().Free != c.cfg.NumBlocks) {
			t.Errorf("%+v: block size %d, stats %+v", c.cfg, m.BlockSize(), m.Stats())
		}
	}
}

// TestPrefixCaching walks one scenario with block size 4 and checks the
// exact blocks, counters and LRU order at each step.
func TestPrefixCaching(t *testing.T) {
	m := newManager(t, 6, 4)
	prompt := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	a := seqOf(1, 0, prompt...)
	admit(t, m, a)
	if !slices.Equal(a.BlockTable, []int32{0, 1, 2}) || a.NumCached != 0 || a.NumComputed != 10 {
		t.Fatalf("a: table %v, cached %d, computed %d", a.BlockTable, a.NumCached, a.NumComputed)
	}
	// b shares the two full blocks and gets a fresh third one.
	b := seqOf(2, 0, prompt...)
	admit(t, m, b)
	if !slices.Equal(b.BlockTable, []int32{0, 1, 3}) || b.NumCached != 8 {
		t.Fatalf("b: table %v, cached %d; want [0 1 3], 8", b.BlockTable, b.NumCached)
	}
	// Another tenant finds nothing.
	c := seqOf(3, TenantSalt("other"), prompt...)
	if m.NumAvailable() != 2 || m.CanAllocate(c) {
		t.Fatal("tenant c can allocate 3 blocks with 2 free")
	}
	if err := m.Allocate(c); !errors.Is(err, ErrNoFreeBlocks) || len(c.BlockTable) != 0 {
		t.Fatalf("Allocate without room: %v, table %v", err, c.BlockTable)
	}
	m.Free(a) // block 2 (never full) is free again; 0 and 1 are still b's
	m.Free(b) // 3 → free; 1 then 0 → LRU, so the prefix tail goes first
	st := m.Stats()
	if st.Used != 0 || st.Cached != 2 || st.Free != 4 || st.HitTokens != 8 || st.QueryTokens != 20 {
		t.Fatalf("stats after freeing: %+v", st)
	}
	// c needs 3 blocks: free ones first, cached ones only when needed.
	if err := m.Allocate(c); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Cached != 2 || st.Evictions != 0 {
		t.Fatalf("allocation evicted with free blocks left: %+v", st)
	}
	d := seqOf(4, TenantSalt("other"), 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7)
	if err := m.Allocate(d); err != nil {
		t.Fatal(err)
	}
	// d took the last free block, then evicted block 1 (LRU head) and kept 0.
	if st := m.Stats(); st.Evictions != 2 || st.Cached != 0 {
		t.Fatalf("after eviction: %+v, table %v", st, d.BlockTable)
	}
}

func TestHitsLeaveTheLastTokenToCompute(t *testing.T) {
	m := newManager(t, 8, 4)
	admit(t, m, seqOf(1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	cases := []struct {
		prompt  []int32
		cached  int
		pending int
	}{
		{[]int32{1, 2, 3, 4, 5, 6, 7, 8}, 4, 4},    // a full final block is recomputed
		{[]int32{1, 2, 3, 4, 5, 6, 7, 8, 0}, 8, 1}, // two blocks hit, one token left
		{[]int32{1, 2, 3, 4}, 0, 4},                // the only block holds the last token
		{[]int32{1, 2, 3, 5, 5, 6, 7, 8, 9}, 0, 9}, // first block differs: no hit at all
		{[]int32{0, 2, 3, 4, 5, 6, 7, 8, 9}, 0, 9}, // the chain starts at the first block
	}
	for i, c := range cases {
		s := seqOf(uint64(10+i), 0, c.prompt...)
		if err := m.Allocate(s); err != nil {
			t.Fatal(err)
		}
		if s.NumCached != c.cached || s.NumPending() != c.pending {
			t.Errorf("prompt %v: cached %d pending %d, want %d and %d", c.prompt, s.NumCached, s.NumPending(), c.cached, c.pending)
		}
		m.Free(s)
	}
}

// TestBlocksAreCachedOnlyWhenComputed: a chunked prefill seals its blocks
// chunk by chunk; before that, nobody may hit them.
func TestBlocksAreCachedOnlyWhenComputed(t *testing.T) {
	m := newManager(t, 8, 4)
	prompt := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	a := seqOf(1, 0, prompt...)
	if err := m.Allocate(a); err != nil {
		t.Fatal(err)
	}
	probe := func(want int) {
		t.Helper()
		b := seqOf(2, 0, prompt...)
		if err := m.Allocate(b); err != nil {
			t.Fatal(err)
		}
		if b.NumCached != want {
			t.Errorf("after %d computed tokens: %d cached, want %d", a.NumComputed, b.NumCached, want)
		}
		m.Free(b)
	}
	probe(0)
	steps := []struct{ n, cached int }{{3, 0}, {2, 4}, {3, 8}}
	for _, s := range steps {
		if err := m.Commit(a, s.n); err != nil {
			t.Fatal(err)
		}
		probe(s.cached)
	}
	for _, bad := range []int{-1, 2} { // 8 computed of 9: at most 1 more
		if err := m.Commit(a, bad); err == nil {
			t.Errorf("Commit(%d) after %d of %d accepted", bad, a.NumComputed, len(a.Tokens))
		}
	}
}

func TestHashCollisionIsNotAHit(t *testing.T) {
	m := newManager(t, 8, 4)
	admit(t, m, seqOf(1, 0, 1, 2, 3, 4, 5))
	// Pretend another prompt's first block hashes like block 0.
	other := []int32{9, 9, 9, 9, 9}
	m.byHash[chainHash(hashRoot, 0, other[:4])] = 0
	s := seqOf(2, 0, other...)
	if err := m.Allocate(s); err != nil {
		t.Fatal(err)
	}
	if s.NumCached != 0 || s.BlockTable[0] == 0 {
		t.Fatalf("collision taken as a hit: table %v, cached %d", s.BlockTable, s.NumCached)
	}
}

func TestAppend(t *testing.T) {
	m := newManager(t, 3, 4)
	s := seqOf(1, 0, 1, 2, 3)
	admit(t, m, s)
	for tok := int32(4); tok <= 12; tok++ {
		s.AppendToken(tok)
		if err := m.Append(s); err != nil {
			t.Fatalf("token %d: %v", tok, err)
		}
		if err := m.Commit(s, 1); err != nil {
			t.Fatal(err)
		}
		if want := blocksFor(s.Len(), 4); len(s.BlockTable) != want {
			t.Fatalf("%d tokens in %d blocks, want %d", s.Len(), len(s.BlockTable), want)
		}
	}
	s.AppendToken(13) // needs a fourth block
	if m.CanAppend(s) || !errors.Is(m.Append(s), ErrNoFreeBlocks) || len(s.BlockTable) != 3 {
		t.Fatalf("appended past the pool: table %v", s.BlockTable)
	}
	if err := m.Append(seqOf(2, 0, 1)); err == nil {
		t.Error("Append accepted a sequence that was never allocated")
	}
}

func TestFork(t *testing.T) {
	m := newManager(t, 16, 4)
	parent := seqOf(1, 5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	admit(t, m, parent)
	cases := []struct {
		name   string
		tokens []int32
		salt   uint64
		shared int // blocks
		err    bool
	}{
		{"same prompt shares full blocks", []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5, 2, false},
		{"block-aligned prompt recomputes its last block", []int32{1, 2, 3, 4, 5, 6, 7, 8}, 5, 1, false},
		{"own first sample after the prompt", []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 42}, 5, 2, false},
		{"diverging second block", []int32{1, 2, 3, 4, 0, 6, 7, 8, 9}, 5, 1, false},
		{"another salt", []int32{1, 2, 3, 4, 5}, 6, 0, true},
		{"no tokens", nil, 5, 0, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			child := NewSequence(uint64(10+i), c.tokens, c.salt, nil)
			err := m.Fork(parent, child)
			if (err != nil) != c.err {
				t.Fatalf("err %v, want error %v", err, c.err)
			}
			if err != nil {
				return
			}
			if !slices.Equal(child.BlockTable[:c.shared], parent.BlockTable[:c.shared]) ||
				slices.Contains(parent.BlockTable, child.BlockTable[c.shared]) ||
				child.NumComputed != c.shared*4 || len(child.BlockTable) != blocksFor(len(c.tokens), 4) {
				t.Fatalf("child table %v computed %d; parent %v; want %d shared", child.BlockTable, child.NumComputed, parent.BlockTable, c.shared)
			}
			checkInvariants(t, m, []*Sequence{parent, child}, nil)
			m.Free(child)
		})
	}
}

func TestEvictCached(t *testing.T) {
	m := newManager(t, 8, 2)
	s := seqOf(1, 0, 1, 2, 3, 4, 5, 6, 7)
	admit(t, m, s)
	m.Free(s)
	if st := m.Stats(); st.Cached != 3 {
		t.Fatalf("%d cached blocks after freeing, want 3", st.Cached)
	}
	if n := m.EvictCached(1); n != 1 || m.Stats().Cached != 2 {
		t.Fatalf("EvictCached(1) = %d, %d left", n, m.Stats().Cached)
	}
	// The tail block went first, so the head of the prefix still hits.
	again := seqOf(2, 0, 1, 2, 3, 4, 5, 6, 7)
	admit(t, m, again)
	if again.NumCached != 4 {
		t.Fatalf("after evicting the tail, %d tokens hit, want 4", again.NumCached)
	}
	m.Free(again)
	if n := m.EvictCached(-1); n != 3 || len(m.byHash) != 0 || m.Stats().Free != 8 {
		t.Fatalf("EvictCached(-1) = %d, %d hashes left, stats %+v", n, len(m.byHash), m.Stats())
	}
}

func TestDisabledPrefixCaching(t *testing.T) {
	m, err := NewBlockManager(Config{NumBlocks: 8, BlockSize: 2, DisablePrefixCaching: true})
	if err != nil {
		t.Fatal(err)
	}
	admit(t, m, seqOf(1, 0, 1, 2, 3, 4, 5))
	s := seqOf(2, 0, 1, 2, 3, 4, 5)
	admit(t, m, s)
	if s.NumCached != 0 || len(m.byHash) != 0 {
		t.Fatalf("prefix caching off but %d tokens hit", s.NumCached)
	}
}

func TestUsage(t *testing.T) {
	m := newManager(t, 4, 2)
	s := seqOf(1, 0, 1, 2, 3)
	admit(t, m, s)
	if u := m.Usage(); u != 0.5 {
		t.Fatalf("usage %v with 2 of 4 blocks used, want 0.5", u)
	}
	m.Free(s) // one cached block: evictable, so not counted
	if u := m.Usage(); u != 0 {
		t.Fatalf("usage %v after freeing, want 0", u)
	}
}

func TestTenantSalt(t *testing.T) {
	if TenantSalt("") != 0 || TenantSalt("a") == 0 || TenantSalt("a") == TenantSalt("b") || TenantSalt("a") != TenantSalt("a") {
		t.Fatal("TenantSalt must be 0 for no tenant, non-zero, distinct and stable otherwise")
	}
}

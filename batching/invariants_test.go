package batching

import (
	"slices"
	"testing"
)

// checkInvariants verifies everything doc.go promises about m and the
// sequences that hold its blocks; kv is the shadow cache (nil to skip).
func checkInvariants(t testing.TB, m *BlockManager, live []*Sequence, kv []uint64) {
	t.Helper()
	checkPlacement(t, m)
	checkRefs(t, m, live)
	checkHashes(t, m)
	for _, seq := range live {
		checkSequence(t, m, seq, kv)
	}
}

// checkPlacement: every block is in exactly one of used, free, LRU.
func checkPlacement(t testing.TB, m *BlockManager) {
	t.Helper()
	where := make([]string, len(m.blocks))
	for _, id := range m.free {
		if where[id] != "" {
			t.Fatalf("block %d twice in the free list", id)
		}
		where[id] = "free"
	}
	n, prev := 0, int32(-1)
	for id := m.lruHead; id >= 0; id = m.blocks[id].next {
		if where[id] != "" || m.blocks[id].prev != prev {
			t.Fatalf("block %d: in the LRU and %q, or broken links", id, where[id])
		}
		where[id], prev = "lru", id
		n++
	}
	if n != m.lruLen || prev != m.lruTail {
		t.Fatalf("LRU walk found %d blocks ending at %d; recorded %d ending at %d", n, prev, m.lruLen, m.lruTail)
	}
	for id, b := range m.blocks {
		switch {
		case b.ref < 0:
			t.Fatalf("block %d has ref %d", id, b.ref)
		case b.ref > 0 && where[id] != "":
			t.Fatalf("block %d is used (ref %d) and in the %s list", id, b.ref, where[id])
		case b.ref == 0 && where[id] == "":
			t.Fatalf("block %d leaked: no references and in no list", id)
		case where[id] == "lru" && !b.cached:
			t.Fatalf("block %d is in the LRU without cached content", id)
		case where[id] == "free" && (b.cached || b.hashed):
			t.Fatalf("block %d is free but keeps content", id)
		}
	}
	if st := m.Stats(); st.Used+st.Free+st.Cached != st.NumBlocks || st.Used < 0 {
		t.Fatalf("stats %+v do not add up", st)
	}
}

// checkRefs: ref counts equal the number of block-table entries.
func checkRefs(t testing.TB, m *BlockManager, live []*Sequence) {
	t.Helper()
	count := make([]int32, len(m.blocks))
	for _, seq := range live {
		for _, id := range seq.BlockTable {
			count[id]++
		}
	}
	for id, b := range m.blocks {
		if b.ref != count[id] {
			t.Fatalf("block %d has ref %d but %d table entries", id, b.ref, count[id])
		}
	}
}

// checkHashes: every cached hash names a block holding exactly the tokens
// it was computed from, and every cached block is reachable by its hash.
func checkHashes(t testing.TB, m *BlockManager) {
	t.Helper()
	for h, id := range m.byHash {
		b := &m.blocks[id]
		if !b.cached || !b.hashed || b.hash != h {
			t.Fatalf("hash %x maps to block %d (cached %v, hash %x)", h, id, b.cached, b.hash)
		}
		if got := chainHash(b.parent, b.salt, m.blockTokens(id)); got != h {
			t.Fatalf("block %d is cached under %x but its content hashes to %x", id, h, got)
		}
	}
	for id, b := range m.blocks {
		if b.cached && m.byHash[b.hash] != int32(id) {
			t.Fatalf("cached block %d is not reachable by its hash", id)
		}
		if b.cached && !m.caching {
			t.Fatalf("block %d cached with prefix caching off", id)
		}
	}
}

// checkSequence: the table covers the tokens, computed blocks describe the
// sequence's own prefix, blocks still being written are not shared, and the
// shadow cache holds the sequence's prefix at every computed position.
func checkSequence(t testing.TB, m *BlockManager, seq *Sequence, kv []uint64) {
	t.Helper()
	bs := m.bs
	if seq.NumComputed > len(seq.Tokens) || len(seq.BlockTable) < blocksFor(len(seq.Tokens), bs) {
		t.Fatalf("sequence %d: %d computed of %d tokens, %d blocks", seq.ID, seq.NumComputed, len(seq.Tokens), len(seq.BlockTable))
	}
	parent := hashRoot
	for i, id := range seq.BlockTable {
		b := &m.blocks[id]
		if i >= seq.NumComputed/bs {
			if b.ref != 1 {
				t.Fatalf("sequence %d writes block %d (index %d), which has %d users", seq.ID, id, i, b.ref)
			}
			continue
		}
		toks := seq.Tokens[i*bs : (i+1)*bs]
		if !b.hashed || b.parent != parent || b.salt != seq.Salt || !slices.Equal(m.blockTokens(id), toks) {
			t.Fatalf("sequence %d: computed block %d (index %d) does not describe its tokens %v", seq.ID, id, i, toks)
		}
		parent = b.hash
	}
	h := prefixHash(nil)
	for p := 0; kv != nil && p < seq.NumComputed; p++ {
		h = prefixStep(h, seq.Tokens[p])
		slot := int(seq.BlockTable[p/bs])*bs + p%bs
		if kv[slot] != h {
			t.Fatalf("sequence %d position %d: slot %d holds another prefix's keys and values", seq.ID, p, slot)
		}
	}
}

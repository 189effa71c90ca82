package batching

import (
	"fmt"
	"slices"
)

// prefixHits appends to dst the cached blocks holding seq's leading full
// blocks, stopping at the first miss. It never covers the last token: a
// sequence must compute at least one token to get logits (vLLM caps hits
// at num_tokens - 1 the same way).
func (m *BlockManager) prefixHits(seq *Sequence, dst []int32) []int32 {
	if !m.caching {
		return dst
	}
	parent := hashRoot
	for i := 0; (i+1)*m.bs <= len(seq.Tokens)-1; i++ {
		toks := seq.Tokens[i*m.bs : (i+1)*m.bs]
		h := chainHash(parent, seq.Salt, toks)
		id, ok := m.byHash[h]
		// The hash alone could collide; the stored content cannot.
		if !ok || m.blocks[id].parent != parent || m.blocks[id].salt != seq.Salt ||
			!slices.Equal(m.blockTokens(id), toks) {
			break
		}
		dst = append(dst, id)
		parent = h
	}
	return dst
}

// unreferenced counts the blocks of ids that sit in the LRU: reusing them
// takes them out of what is available.
func (m *BlockManager) unreferenced(ids []int32) int {
	n := 0
	for _, id := range ids {
		if m.blocks[id].ref == 0 {
			n++
		}
	}
	return n
}

// CanAllocate reports whether Allocate(seq) would succeed now.
func (m *BlockManager) CanAllocate(seq *Sequence) bool {
	m.scratch = m.prefixHits(seq, m.scratch[:0])
	need := blocksFor(len(seq.Tokens), m.bs) - len(m.scratch)
	return need <= m.NumAvailable()-m.unreferenced(m.scratch)
}

// Allocate admits a sequence that holds no blocks (new, or preempted and
// freed): it reuses the cached blocks of its longest cached prefix and
// takes fresh blocks for the rest of its tokens. seq.NumComputed and
// seq.NumCached become the number of tokens found.
func (m *BlockManager) Allocate(seq *Sequence) error {
	if len(seq.BlockTable) != 0 {
		return fmt.Errorf("batching: sequence %d already holds %d blocks", seq.ID, len(seq.BlockTable))
	}
	if len(seq.Tokens) == 0 {
		return fmt.Errorf("batching: sequence %d has no tokens", seq.ID)
	}
	hits := m.prefixHits(seq, seq.BlockTable[:0])
	need := blocksFor(len(seq.Tokens), m.bs) - len(hits)
	if need > m.NumAvailable()-m.unreferenced(hits) {
		return ErrNoFreeBlocks
	}
	// Retain the hits before taking fresh blocks, so that no eviction can
	// pick one of them.
	for _, id := range hits {
		m.retain(id)
	}
	table := hits
	for range need {
		table = append(table, m.take())
	}
	seq.BlockTable = table
	seq.NumComputed = len(hits) * m.bs
	seq.NumCached = seq.NumComputed
	m.stats.QueryTokens += int64(len(seq.Tokens))
	m.stats.HitTokens += int64(seq.NumCached)
	return nil
}

// CanAppend reports whether Append(seq) would succeed now.
func (m *BlockManager) CanAppend(seq *Sequence) bool {
	return blocksFor(len(seq.Tokens), m.bs)-len(seq.BlockTable) <= m.NumAvailable()
}

// Append extends seq's block table to cover all its tokens, after the
// caller appended sampled tokens (usually one: a new block every
// BlockSize tokens).
func (m *BlockManager) Append(seq *Sequence) error {
	if len(seq.BlockTable) == 0 {
		return fmt.Errorf("batching: sequence %d was not allocated", seq.ID)
	}
	if !m.CanAppend(seq) {
		return ErrNoFreeBlocks
	}
	for len(seq.BlockTable) < blocksFor(len(seq.Tokens), m.bs) {
		seq.BlockTable = append(seq.BlockTable, m.take())
	}
	return nil
}

// Commit records that a step computed seq's next n pending tokens: it
// advances seq.NumComputed and seals every block that became full, which
// makes it findable by later sequences with the same salt. Blocks are
// registered here, after their keys and values exist, and not at
// allocation: with chunked prefill a block allocated now may be computed
// several steps later, and nobody may reuse it before that.
func (m *BlockManager) Commit(seq *Sequence, n int) error {
	end := seq.NumComputed + n
	if n < 0 || end > len(seq.Tokens) || blocksFor(end, m.bs) > len(seq.BlockTable) {
		return fmt.Errorf("batching: sequence %d: commit of %d tokens after %d (of %d, %d blocks)",
			seq.ID, n, seq.NumComputed, len(seq.Tokens), len(seq.BlockTable))
	}
	for i := seq.NumComputed / m.bs; i < end/m.bs; i++ {
		m.seal(seq, i)
	}
	seq.NumComputed = end
	return nil
}

// seal hashes seq's full, computed block i and registers it unless an
// equal block is registered already (the first one stays: both hold the
// same keys and values).
func (m *BlockManager) seal(seq *Sequence, i int) {
	id := seq.BlockTable[i]
	b := &m.blocks[id]
	if b.hashed {
		return
	}
	parent := hashRoot
	if i > 0 {
		parent = m.blocks[seq.BlockTable[i-1]].hash
	}
	toks := seq.Tokens[i*m.bs : (i+1)*m.bs]
	b.hash, b.parent, b.salt = chainHash(parent, seq.Salt, toks), parent, seq.Salt
	b.hashed = true
	copy(m.blockTokens(id), toks)
	if _, dup := m.byHash[b.hash]; m.caching && !dup {
		m.byHash[b.hash] = id
		b.cached = true
	}
}

// Free releases all of seq's blocks (finished, cancelled or preempted)
// and resets its cache counters; its tokens stay, so a preempted sequence
// can be allocated again and recomputed. Blocks are released last first,
// so the LRU evicts the tails of prefixes before their heads.
func (m *BlockManager) Free(seq *Sequence) {
	for i := len(seq.BlockTable) - 1; i >= 0; i-- {
		m.release(seq.BlockTable[i])
	}
	seq.BlockTable = seq.BlockTable[:0]
	seq.NumComputed, seq.NumCached = 0, 0
}

// forkShared is the number of leading blocks child can share with parent:
// full, computed in parent, equal in content, and not covering child's last
// token (which must be computed for logits).
func (m *BlockManager) forkShared(parent, child *Sequence) int {
	n := 0
	for i := 0; i < parent.NumComputed/m.bs && (i+1)*m.bs <= len(child.Tokens)-1; i++ {
		lo, hi := i*m.bs, (i+1)*m.bs
		if !slices.Equal(parent.Tokens[lo:hi], child.Tokens[lo:hi]) {
			break
		}
		n++
	}
	return n
}

// CanFork reports whether Fork(parent, child) would succeed now.
func (m *BlockManager) CanFork(parent, child *Sequence) bool {
	return blocksFor(len(child.Tokens), m.bs)-m.forkShared(parent, child) <= m.NumAvailable()
}

// Fork gives child (no blocks yet, tokens set by the caller, typically
// parent's prompt for the n > 1 choices of one request) parent's computed
// full blocks that hold child's own prefix, by reference, and fresh blocks
// for the rest. Only full blocks are shared, so no block is ever written
// by two sequences and copy-on-write is not needed: the partial tail is
// recomputed by the child (at most BlockSize tokens).
func (m *BlockManager) Fork(parent, child *Sequence) error {
	switch {
	case len(child.BlockTable) != 0:
		return fmt.Errorf("batching: fork into sequence %d, which already holds blocks", child.ID)
	case len(child.Tokens) == 0:
		return fmt.Errorf("batching: fork into sequence %d, which has no tokens", child.ID)
	case child.Salt != parent.Salt:
		return fmt.Errorf("batching: fork of sequence %d into %d across prefix-cache salts", parent.ID, child.ID)
	}
	if !m.CanFork(parent, child) {
		return ErrNoFreeBlocks
	}
	shared := m.forkShared(parent, child)
	table := child.BlockTable[:0]
	for _, id := range parent.BlockTable[:shared] {
		m.retain(id)
		table = append(table, id)
	}
	for len(table) < blocksFor(len(child.Tokens), m.bs) {
		table = append(table, m.take())
	}
	child.BlockTable = table
	child.NumComputed = shared * m.bs
	child.NumCached = child.NumComputed
	return nil
}

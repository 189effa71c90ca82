package batching

import (
	"errors"
	"fmt"
	"math"
)

// DefaultBlockSize is the number of token slots per KV block (vLLM's).
const DefaultBlockSize = 16

// ErrNoFreeBlocks is returned by an act (Allocate, Append, Fork) whose Can
// question would have said no; nothing was changed.
var ErrNoFreeBlocks = errors.New("batching: not enough free KV blocks")

// Config sizes a BlockManager. The pool never grows.
type Config struct {
	NumBlocks int
	BlockSize int // 0 = DefaultBlockSize
	// DisablePrefixCaching turns off sharing through the hash map: full
	// blocks are neither registered nor looked up. Fork still shares.
	DisablePrefixCaching bool
}

// block is the manager's record of one KV block.
type block struct {
	ref int32 // number of block-table entries naming this block
	// hashed: the block is full and computed, and hash, parent, salt and
	// the manager's tokens row describe its content.
	hashed bool
	// cached: byHash[hash] is this block. Cached blocks with ref 0 sit in
	// the LRU instead of the free list.
	cached             bool
	hash, parent, salt uint64
	prev, next         int32 // LRU links while in the LRU; -1 = none
}

// BlockManager owns a fixed pool of KV blocks: which are free, which are
// used by how many sequences, and which hold a reusable prefix.
//
// A block is in exactly one place: used (ref > 0), the free list (ref 0,
// no reusable content) or the LRU (ref 0, cached content, evicted only
// when the free list is empty). Not safe for concurrent use: the
// scheduler's goroutine owns it.
type BlockManager struct {
	bs      int
	caching bool
	blocks  []block
	tokens  []int32 // (NumBlocks, BlockSize) content of hashed blocks, for hit checks
	free    []int32 // stack of free block ids
	lruHead int32   // least recently released cached block; -1 = none
	lruTail int32   // most recently released one
	lruLen  int
	byHash  map[uint64]int32
	scratch []int32 // prefix-hit lookups of CanAllocate
	stats   Stats
}

// Stats count blocks now and prefix-cache traffic since start.
type Stats struct {
	NumBlocks int
	Used      int // referenced by at least one sequence
	Free      int // no reusable content
	Cached    int // unreferenced but holding a cached prefix (evictable)
	// QueryTokens and HitTokens are vLLM's prefix_cache_queries and
	// prefix_cache_hits: tokens looked up at admission, tokens found.
	QueryTokens int64
	HitTokens   int64
	Evictions   int64 // cached blocks reused for other content
}

// NewBlockManager returns a manager with every block free.
func NewBlockManager(c Config) (*BlockManager, error) {
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.NumBlocks <= 0 || c.BlockSize <= 0 {
		return nil, fmt.Errorf("batching: %d blocks of %d tokens: both must be positive", c.NumBlocks, c.BlockSize)
	}
	// Slots are int32 in kernels.AttnBatch and StoreKV.
	if int64(c.NumBlocks)*int64(c.BlockSize) > math.MaxInt32 {
		return nil, fmt.Errorf("batching: %d blocks of %d tokens exceed 2³¹ slots", c.NumBlocks, c.BlockSize)
	}
	m := &BlockManager{
		bs:      c.BlockSize,
		caching: !c.DisablePrefixCaching,
		blocks:  make([]block, c.NumBlocks),
		tokens:  make([]int32, c.NumBlocks*c.BlockSize),
		free:    make([]int32, c.NumBlocks),
		lruHead: -1,
		lruTail: -1,
		byHash:  make(map[uint64]int32),
	}
	for i := range m.blocks {
		m.blocks[i].prev, m.blocks[i].next = -1, -1
		// Pop order 0, 1, 2…: the stack holds ids in reverse.
		m.free[i] = int32(c.NumBlocks - 1 - i)
	}
	return m, nil
}

// BlockSize is the number of token slots per block.
func (m *BlockManager) BlockSize() int { return m.bs }

// NumBlocks is the size of the pool.
func (m *BlockManager) NumBlocks() int { return len(m.blocks) }

// NumAvailable is how many blocks an allocation can take now: free ones
// plus evictable cached ones.
func (m *BlockManager) NumAvailable() int { return len(m.free) + m.lruLen }

// Usage is the fraction of blocks referenced by sequences, vLLM's
// kv_cache_usage_perc (evictable cached blocks count as free).
func (m *BlockManager) Usage() float64 {
	return float64(len(m.blocks)-m.NumAvailable()) / float64(len(m.blocks))
}

// Stats returns the current counts.
func (m *BlockManager) Stats() Stats {
	s := m.stats
	s.NumBlocks = len(m.blocks)
	s.Free = len(m.free)
	s.Cached = m.lruLen
	s.Used = len(m.blocks) - s.Free - s.Cached
	return s
}

// take returns a block with ref 1 and no content: from the free list, or
// by evicting the least recently used cached block. The caller has checked
// NumAvailable.
func (m *BlockManager) take() int32 {
	var id int32
	if n := len(m.free); n > 0 {
		id = m.free[n-1]
		m.free = m.free[:n-1]
	} else {
		id = m.lruHead
		m.lruRemove(id)
		m.forget(id)
		m.stats.Evictions++
	}
	m.blocks[id].ref = 1
	return id
}

// retain adds a reference to a block that may be sitting in the LRU.
func (m *BlockManager) retain(id int32) {
	b := &m.blocks[id]
	if b.ref == 0 {
		m.lruRemove(id)
	}
	b.ref++
}

// release drops a reference; an unreferenced block keeps its content in the
// LRU if it is cached and goes back to the free list otherwise.
func (m *BlockManager) release(id int32) {
	b := &m.blocks[id]
	b.ref--
	if b.ref > 0 {
		return
	}
	if b.cached {
		m.lruPush(id)
		return
	}
	b.hashed = false
	m.free = append(m.free, id)
}

// forget drops a block's content and its hash-map entry.
func (m *BlockManager) forget(id int32) {
	b := &m.blocks[id]
	if b.cached && m.byHash[b.hash] == id {
		delete(m.byHash, b.hash)
	}
	b.cached, b.hashed = false, false
}

func (m *BlockManager) lruPush(id int32) {
	b := &m.blocks[id]
	b.prev, b.next = m.lruTail, -1
	if m.lruTail >= 0 {
		m.blocks[m.lruTail].next = id
	} else {
		m.lruHead = id
	}
	m.lruTail = id
	m.lruLen++
}

func (m *BlockManager) lruRemove(id int32) {
	b := &m.blocks[id]
	if b.prev >= 0 {
		m.blocks[b.prev].next = b.next
	} else {
		m.lruHead = b.next
	}
	if b.next >= 0 {
		m.blocks[b.next].prev = b.prev
	} else {
		m.lruTail = b.prev
	}
	b.prev, b.next = -1, -1
	m.lruLen--
}

// EvictCached drops the content of up to n unreferenced cached blocks,
// least recently used first, and returns how many it dropped. n < 0 drops
// them all (vLLM's reset_prefix_cache).
func (m *BlockManager) EvictCached(n int) int {
	done := 0
	for m.lruHead >= 0 && (n < 0 || done < n) {
		id := m.lruHead
		m.lruRemove(id)
		m.forget(id)
		m.free = append(m.free, id)
		m.stats.Evictions++
		done++
	}
	return done
}

// blockTokens is the stored content of a hashed block.
func (m *BlockManager) blockTokens(id int32) []int32 {
	return m.tokens[int(id)*m.bs : (int(id)+1)*m.bs]
}

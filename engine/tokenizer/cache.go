package tokenizer

import (
	"strings"
	"sync"
	"sync/atomic"
)

// wordCache remembers the tokens of recently seen words (BPE words and
// SentencePiece chunks): natural text repeats a small set of words, and a
// lookup is far cheaper than merging. It is safe for concurrent use and
// bounded: when full it starts over.
type wordCache struct {
	m   sync.Map // string -> []int32, never modified once stored
	n   atomic.Int32
	off bool // benchmarks measure the merge code alone
}

const (
	maxCachedWord = 64      // longer words are rare and not worth keeping
	maxCacheWords = 1 << 16 // bounds the cache to a few MB
)

func (c *wordCache) get(word string) ([]int32, bool) {
	if c.off || len(word) > maxCachedWord {
		return nil, false
	}
	v, ok := c.m.Load(word)
	if !ok {
		return nil, false
	}
	return v.([]int32), true
}

func (c *wordCache) put(word string, ids []int32) {
	if c.off || len(word) > maxCachedWord {
		return
	}
	if c.n.Add(1) > maxCacheWords {
		c.m.Clear()
		c.n.Store(0)
	}
	// word usually points into the caller's text; keep a copy, not the text.
	c.m.Store(strings.Clone(word), append([]int32(nil), ids...))
}

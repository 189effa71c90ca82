package tokenizer

import "math"

// pqueue is a binary min-heap ordered by an integer key. container/heap
// would box every element in an interface and a comparison method would
// not inline; the merge loops push and pop millions of these per second.
type pqueue[P any] []pqItem[P]

type pqItem[P any] struct {
	key uint64
	val P
}

func (q *pqueue[P]) push(key uint64, val P) {
	h := append(*q, pqItem[P]{key, val})
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].key <= h[i].key {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	*q = h
}

func (q *pqueue[P]) pop() P {
	h := *q
	top := h[0].val
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		m := 2*i + 1
		if m >= len(h) {
			break
		}
		if r := m + 1; r < len(h) && h[r].key < h[m].key {
			m = r
		}
		if h[i].key <= h[m].key {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// rankKey orders merges by rank, then leftmost first.
func rankKey(rank, left int32) uint64 { return uint64(uint32(rank))<<32 | uint64(uint32(left)) }

// scoreKey orders merges by score, highest first, then leftmost first.
func scoreKey(score float32, left int32) uint64 {
	b := math.Float32bits(score)
	if b>>31 != 0 {
		b = ^b // negative: larger magnitude sorts lower
	} else {
		b |= 1 << 31
	}
	return uint64(^b)<<32 | uint64(uint32(left))
}

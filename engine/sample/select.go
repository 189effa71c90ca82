package sample

import (
	"math/bits"
	"slices"
)

// cand is a candidate token and a key: a logit while selecting the top k,
// a weight exp((l-max)/T) once the distribution is built, a logprob when
// processedLogprobs ranks Result.Top.
type cand struct {
	id int32
	w  float32
}

// better is the one order used for every selection: larger key first, and
// on equal keys the lower token id, as llama.cpp's greedy sampler does. It
// is a strict total order because ids are distinct, so every selection has
// exactly one answer whatever the input order.
func better(a, b cand) bool {
	return a.w > b.w || (a.w == b.w && a.id < b.id)
}

func cmpBetter(a, b cand) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// topSet keeps the k best candidates offered to it in a min-heap whose root
// is the worst kept one, so a full scan costs O(V log k) at worst and O(V)
// when, as usual, most offers lose to the root at once.
type topSet struct {
	h []cand // (≤ k,) heap ordered by !better
	k int
}

func newTopSet(buf []cand, k int) topSet {
	return topSet{h: buf[:0], k: k}
}

// offer considers one candidate.
func (t *topSet) offer(c cand) {
	if len(t.h) < t.k {
		t.h = append(t.h, c)
		t.up(len(t.h) - 1)
		return
	}
	if t.k == 0 || !better(c, t.h[0]) {
		return
	}
	t.h[0] = c
	t.down(0)
}

func (t *topSet) up(i int) {
	h := t.h
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (t *topSet) down(i int) {
	h := t.h
	for {
		w := i
		l, r := 2*i+1, 2*i+2
		if l < len(h) && better(h[w], h[l]) {
			w = l
		}
		if r < len(h) && better(h[w], h[r]) {
			w = r
		}
		if w == i {
			return
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// sorted returns the kept candidates, best first.
func (t *topSet) sorted() []cand {
	slices.SortFunc(t.h, cmpBetter)
	return t.h
}

// topLogits selects the k best (logit, id) pairs of x into buf, best first.
// NaN logits are never selected.
func topLogits(buf []cand, x []float32, k int) []cand {
	t := newTopSet(buf, k)
	for i, v := range x {
		if v != v {
			continue
		}
		// Inline pre-check: once the heap is full almost every token loses
		// to its root, and this keeps the common path free of calls.
		if len(t.h) == k && (k == 0 || v < t.h[0].w) {
			continue
		}
		t.offer(cand{int32(i), v})
	}
	return t.sorted()
}

// nucleus reorders c so that c[:n] is the top-p nucleus and returns n: the
// shortest prefix of c in better-order whose mass reaches p·total, i.e.
// token j is kept iff the mass of the tokens before it is below p·total
// (vLLM's rule: cumulative ascending mass ≤ 1-p is removed). c[:n] is left
// in no particular but deterministic order.
//
// It is a quickselect on accumulated mass, expected O(len(c)) with no full
// sort; ranges of 32 or fewer, or ranges that partition badly too often, are
// sorted instead, so the worst case is O(n log n).
func nucleus(c []cand, total float64, p float32) int {
	target := float64(p) * total
	var acc float64 // mass of c[:lo], all kept
	lo, hi := 0, dropTail(c, total, p)
	budget := 2 * bits.Len(uint(len(c)))
	for hi-lo > 32 && budget > 0 {
		budget--
		q := partition(c, lo, hi)
		var massBetter float64
		for _, x := range c[lo:q] {
			massBetter += float64(x.w)
		}
		if acc+massBetter >= target {
			hi = q // the pivot and everything after it are out
			continue
		}
		acc += massBetter + float64(c[q].w)
		lo = q + 1
		if acc >= target {
			return lo
		}
	}
	slices.SortFunc(c[lo:hi], cmpBetter)
	for j := lo; j < hi; j++ {
		if acc >= target {
			return j
		}
		acc += float64(c[j].w)
	}
	return hi
}

// dropTail moves the tokens that may belong to the nucleus to the front of
// c and returns their count, in a few linear passes without sorting. A
// token of weight w among m survivors has at most D + m·w of mass not
// better than it, D being the mass already dropped (all of it lighter).
// If that leaves p·total or more of better mass, it is out. On a peaked
// distribution this removes all but a few dozen of 128k tokens before the
// quickselect sees them.
func dropTail(c []cand, total float64, p float32) int {
	rest := (1 - float64(p)) * total // the most mass the dropped tail can hold
	m := len(c)
	for range 3 {
		tau := rest / float64(m) * (1 - 1e-9) // the margin absorbs rounding
		k := 0
		for i := range m {
			if float64(c[i].w) > tau {
				c[k], c[i] = c[i], c[k]
				k++
			} else {
				rest -= float64(c[i].w)
			}
		}
		if k == m || k == 0 { // k == 0 only by rounding: keep the last round's set
			return m
		}
		m = k
	}
	return m
}

// partition moves the candidates better than a median-of-three pivot to
// c[lo:q], the pivot to c[q] and the rest after it, and returns q.
func partition(c []cand, lo, hi int) int {
	mid := lo + (hi-lo)/2
	a, b, d := lo, mid, hi-1
	if better(c[b], c[a]) {
		a, b = b, a
	}
	if better(c[d], c[b]) {
		b = d
		if better(c[b], c[a]) {
			b = a
		}
	}
	c[b], c[hi-1] = c[hi-1], c[b]
	pivot := c[hi-1]
	q := lo
	for i := lo; i < hi-1; i++ {
		if better(c[i], pivot) {
			c[i], c[q] = c[q], c[i]
			q++
		}
	}
	c[q], c[hi-1] = c[hi-1], c[q]
	return q
}

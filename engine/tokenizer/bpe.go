package tokenizer

import (
	"fmt"
	"strings"
)

// Byte-pair encoding of one pre-tokenized word, as in llama.cpp's
// llm_tokenizer_bpe_session and Hugging Face's BPE model: the word starts as
// one symbol per character (per byte for byte-level vocabularies), and the
// adjacent pair with the lowest merge rank is merged, the leftmost one on
// ties, until no pair has a merge rule.

// mergeRule is the rank of a merge and the token it produces.
type mergeRule struct{ rank, id int32 }

type bpeModel struct {
	// merges maps left<<32|right token ids to their rule.
	merges       map[uint64]mergeRule
	nMerges      int
	ignoreMerges bool // a word that is itself a token skips merging
	byteLevel    bool // words are spelled in GPT-2's byte alphabet
	// charTok[b] is the token of byte b's byte-level character, or -1.
	charTok [256]int32
	// Character-level vocabularies (tokenizer.json without ByteLevel):
	// unknown characters become <0xNN> tokens (byteFallback) or <unk>.
	byteFallback bool
	fuseUnk      bool
	unk          int32
}

func pairKey(l, r int32) uint64 { return uint64(uint32(l))<<32 | uint64(uint32(r)) }

// addMerges parses "left right" rules in rank order. Rules whose parts or
// result are not tokens cannot fire in a well-formed vocabulary and are
// skipped; a repeated pair keeps its first rank, as llama.cpp does.
func (t *Tokenizer) addMerges(rules []string) error {
	t.bpe.merges = make(map[uint64]mergeRule, len(rules))
	for rank, rule := range rules {
		// The separator is the first space after the first byte, so that a
		// rule for the token " " itself (non-byte-level vocabularies) parses.
		sp := -1
		if len(rule) > 1 {
			sp = strings.IndexByte(rule[1:], ' ')
		}
		if sp < 0 {
			return fmt.Errorf("merge rule %d %q has no space separator", rank, rule)
		}
		left, right := rule[:sp+1], rule[sp+2:]
		t.addMerge(left, right, rank)
	}
	t.bpe.nMerges = len(t.bpe.merges)
	return nil
}

func (t *Tokenizer) addMerge(left, right string, rank int) {
	l, r, m := t.lookup(left), t.lookup(right), t.lookup(left+right)
	if l == none || r == none || m == none {
		return
	}
	k := pairKey(l, r)
	if _, dup := t.bpe.merges[k]; !dup {
		t.bpe.merges[k] = mergeRule{rank: int32(rank), id: m}
	}
}

// bpeSym is a symbol of the word being merged; n is its length in input
// bytes (0 once merged into its left neighbour).
type bpeSym struct {
	id         int32
	n          int32
	prev, next int32
}

// bpeBigram is a queued merge; the queue orders by rank, then leftmost.
type bpeBigram struct {
	id          int32
	left, right int32
	size        int32
}

// bpeWord appends the tokens of one word.
func (t *Tokenizer) bpeWord(word string, out []int32, sc *scratch) []int32 {
	if word == "" {
		return out
	}
	if ids, ok := t.cache.get(word); ok {
		return append(out, ids...)
	}
	start := len(out)
	out = t.bpeWordUncached(word, out, sc)
	t.cache.put(word, out[start:])
	return out
}

// bpeWordUncached is bpeWord without the cache.
func (t *Tokenizer) bpeWordUncached(word string, out []int32, sc *scratch) []int32 {
	if t.bpe.ignoreMerges {
		id, ok := t.ids[word]
		if t.bpe.byteLevel {
			sc.buf = byteLevelEncode(sc.buf[:0], word)
			id, ok = t.ids[string(sc.buf)] // a lookup by string(bytes) does not allocate
		}
		if ok {
			return append(out, id)
		}
	}
	syms := t.bpeSymbols(word, sc.bpe[:0])
	if len(syms) <= maxSmallWord {
		syms = t.bpeMergeSmall(syms)
	} else {
		syms = t.bpeMerge(syms, sc)
	}
	for i := range syms {
		if syms[i].n > 0 && syms[i].id != none {
			out = append(out, syms[i].id)
		}
	}
	sc.bpe = syms
	return out
}

// bpeSymbols splits a word into its initial symbols.
func (t *Tokenizer) bpeSymbols(word string, syms []bpeSym) []bpeSym {
	add := func(id int32, n int) {
		i := int32(len(syms))
		syms = append(syms, bpeSym{id: id, n: int32(n), prev: i - 1, next: i + 1})
	}
	if t.bpe.byteLevel {
		for i := 0; i < len(word); i++ {
			add(t.bpe.charTok[word[i]], 1)
		}
	} else {
		for i := 0; i < len(word); {
			n := min(utf8Len(word[i]), len(word)-i)
			if id, ok := t.ids[word[i:i+n]]; ok {
				add(id, n)
			} else if t.bpe.byteFallback && t.hasBytes(word[i:i+n]) {
				for k := range n {
					add(t.byteTok[word[i+k]], 1)
				}
			} else if k := len(syms) - 1; t.bpe.fuseUnk && k >= 0 && syms[k].id == t.bpe.unk && t.bpe.unk != none {
				syms[k].n += int32(n)
			} else {
				add(t.bpe.unk, n)
			}
			i += n
		}
	}
	syms[len(syms)-1].next = -1
	return syms
}

func (t *Tokenizer) hasBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if t.byteTok[s[i]] == none {
			return false
		}
	}
	return true
}

// bpeMerge applies merge rules until none fits.
func (t *Tokenizer) bpeMerge(syms []bpeSym, sc *scratch) []bpeSym {
	q := sc.bpeQ[:0]
	try := func(l, r int32) {
		if l < 0 || r < 0 {
			return
		}
		rule, ok := t.bpe.merges[pairKey(syms[l].id, syms[r].id)]
		if ok {
			q.push(rankKey(rule.rank, l), bpeBigram{id: rule.id, left: l, right: r, size: syms[l].n + syms[r].n})
		}
	}
	for i := 1; i < len(syms); i++ {
		try(int32(i-1), int32(i))
	}
	for len(q) > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue // one side changed since this pair was queued
		}
		l.id, l.n = b.id, l.n+r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		try(l.prev, b.left)
		try(b.left, l.next)
	}
	sc.bpeQ = q
	return syms
}

// maxSmallWord is the symbol count up to which bpeMergeSmall is used.
const maxSmallWord = 48

// bpeMergeSmall merges like bpeMerge, rescanning the pair ranks instead of
// keeping a heap: for the short words that dominate real text, a scan of a
// few pairs beats heap upkeep. It picks the same merges (lowest rank, then
// leftmost) and returns the surviving symbols in order.
func (t *Tokenizer) bpeMergeSmall(syms []bpeSym) []bpeSym {
	const noRule = int32(1<<31 - 1)
	var rules [maxSmallWord]mergeRule // rules[i] merges syms[i] and syms[i+1]
	pair := func(i int) mergeRule {
		if r, ok := t.bpe.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			return r
		}
		return mergeRule{rank: noRule}
	}
	n := len(syms)
	for i := 0; i+1 < n; i++ {
		rules[i] = pair(i)
	}
	for n > 1 {
		best := 0
		for i := 1; i+1 < n; i++ {
			if rules[i].rank < rules[best].rank {
				best = i
			}
		}
		if rules[best].rank == noRule {
			break
		}
		syms[best].id = rules[best].id
		syms[best].n += syms[best+1].n
		copy(syms[best+1:n], syms[best+2:n])
		copy(rules[best+1:n-1], rules[best+2:n])
		n--
		if best+1 < n {
			rules[best] = pair(best)
		}
		if best > 0 {
			rules[best-1] = pair(best - 1)
		}
	}
	return syms[:n]
}

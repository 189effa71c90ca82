package tokenizer

// SentencePiece-style merging as in llama.cpp's llm_tokenizer_spm: the text
// (already space-escaped) is split into UTF-8 characters, then the adjacent
// pair whose concatenation is the highest-scoring token is merged, the
// leftmost one on ties, until no pair forms a token.

// spmSym is one symbol: the bytes text[start:start+n] (n = 0 once merged
// into its left neighbour), linked to its neighbours.
type spmSym struct {
	start, n   int32
	prev, next int32
}

// spmBigram is a candidate merge of symbols left and right; size is their
// byte length when it was queued, which detects stale entries. The queue
// orders candidates by score, highest first, then leftmost first.
type spmBigram struct {
	left, right int32
	size        int32
}

type spmSession struct {
	t    *Tokenizer
	text string
	syms []spmSym
	q    pqueue[spmBigram]
}

// spmEncode appends the tokens of text, whose spaces are already "▁".
func (t *Tokenizer) spmEncode(text string, out []int32, sc *scratch) []int32 {
	if text == "" {
		return out
	}
	if ids, ok := t.cache.get(text); ok {
		return append(out, ids...)
	}
	start := len(out)
	out = t.spmMerge(text, out, sc)
	t.cache.put(text, out[start:])
	return out
}

// spmMerge is spmEncode without the cache.
func (t *Tokenizer) spmMerge(text string, out []int32, sc *scratch) []int32 {
	s := spmSession{t: t, text: text, syms: sc.spm[:0], q: sc.spmQ[:0]}
	for offs, i := 0, int32(0); offs < len(text); i++ {
		n := min(utf8Len(text[offs]), len(text)-offs)
		s.syms = append(s.syms, spmSym{start: int32(offs), n: int32(n), prev: i - 1, next: i + 1})
		offs += n
	}
	s.syms[len(s.syms)-1].next = -1
	for i := 1; i < len(s.syms); i++ {
		s.try(int32(i-1), int32(i))
	}
	for len(s.q) > 0 {
		b := s.q.pop()
		l, r := &s.syms[b.left], &s.syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			s.syms[r.next].prev = b.left
		}
		s.try(l.prev, b.left)
		s.try(b.left, l.next)
	}
	for i := int32(0); i != -1; i = s.syms[i].next {
		out = s.emit(s.syms[i], out)
	}
	sc.spm, sc.spmQ = s.syms, s.q
	return out
}

// try queues the merge of two adjacent symbols if it forms a token.
func (s *spmSession) try(left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := s.syms[left], s.syms[right]
	id, ok := s.t.ids[s.text[l.start:r.start+r.n]]
	if !ok {
		return
	}
	s.q.push(scoreKey(s.t.scores[id], left), spmBigram{left: left, right: right, size: l.n + r.n})
}

// emit appends a final symbol: its token, or its bytes as byte tokens.
// A merged symbol is always a token; only single characters can miss.
func (s *spmSession) emit(sym spmSym, out []int32) []int32 {
	piece := s.text[sym.start : sym.start+sym.n]
	if id, ok := s.t.ids[piece]; ok {
		return append(out, id)
	}
	start := len(out)
	for i := 0; i < len(piece); i++ {
		id := s.t.byteTok[piece[i]]
		if id == none {
			// llama.cpp then tries the raw byte as a token
			id = s.t.lookup(piece[i : i+1])
		}
		if id == none {
			// and throws when that fails too; one <unk> for the character
			// keeps the text accounted for instead.
			out = out[:start]
			if s.t.unk != none {
				out = append(out, s.t.unk)
			}
			return out
		}
		out = append(out, id)
	}
	return out
}

package tokenizer

import (
	"strings"
	"sync"
	"unicode/utf8"
)

// scratch holds per-call buffers, pooled so that Encode allocates little
// more than its result.
type scratch struct {
	spm    []spmSym
	spmQ   pqueue[spmBigram]
	bpe    []bpeSym
	bpeQ   pqueue[bpeBigram]
	spans  []span
	spans2 []span
	frags  []frag
	frags2 []frag
	buf    []byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// frag is a piece of the input: a special token (tok >= 0) or the text
// text[lo:hi].
type frag struct {
	tok    int32
	lo, hi int32
}

// maxPiece bounds the text encoded in one pass: offsets are int32 and
// escaping or U+FFFD substitution can triple a text. Longer inputs (never
// a real prompt) are encoded piece by piece, cut at a character boundary.
const maxPiece = 1 << 28

// Encode tokenizes text.
func (t *Tokenizer) Encode(text string, o EncodeOptions) []int32 {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	out := make([]int32, 0, min(len(text), maxPiece)/4+len(t.prefix)+len(t.suffix)+1)
	if o.AddSpecial {
		out = append(out, t.prefix...)
	}
	for len(text) > 0 {
		piece := text
		if len(piece) > maxPiece {
			cut := maxPiece
			for cut > maxPiece-4 && !utf8.RuneStart(text[cut]) {
				cut--
			}
			piece = text[:cut]
		}
		text = text[len(piece):]
		if t.hf != nil {
			out = t.hfEncode(piece, o.ParseSpecial, out, sc)
		} else {
			out = t.ggufEncode(piece, o.ParseSpecial, out, sc)
		}
	}
	if o.AddSpecial {
		out = append(out, t.suffix...)
	}
	return out
}

// ggufEncode follows llama.cpp's llama_tokenize_impl.
func (t *Tokenizer) ggufEncode(text string, parseSpecial bool, out []int32, sc *scratch) []int32 {
	frags := t.partition(text, parseSpecial, sc)
	afterSpecial := true // SPM: a space is prefixed at the start and after specials
	for _, f := range frags {
		if f.tok >= 0 {
			out = append(out, f.tok)
			afterSpecial = true
			continue
		}
		piece := text[f.lo:f.hi]
		switch t.kind {
		case KindSPM:
			buf := sc.buf[:0]
			if t.addSpacePrefix && afterSpecial {
				buf = append(buf, spaceMark...)
			}
			buf = appendEscaped(buf, piece)
			sc.buf = buf
			out = t.spmChunks(string(buf), out, sc)
		case KindBPE:
			out = t.bpeText(sanitize(piece), t.split, out, sc)
		}
		afterSpecial = false
	}
	return out
}

// bpeText pre-tokenizes a sanitized piece and encodes its words.
func (t *Tokenizer) bpeText(piece string, sp splitter, out []int32, sc *scratch) []int32 {
	for _, w := range sp.split(piece, sc) {
		out = t.bpeWord(piece[w.lo:w.hi], out, sc)
	}
	return out
}

// spmChunks encodes escaped text. When no token has a "▁" right after
// another character, no merge can cross the start of a "▁" run, so the
// text is encoded run by run: same tokens, shorter queues.
func (t *Tokenizer) spmChunks(text string, out []int32, sc *scratch) []int32 {
	if !t.spmSplit {
		return t.spmEncode(text, out, sc)
	}
	start := 0
	for i := 1; i < len(text); {
		k := strings.Index(text[i:], spaceMark)
		if k < 0 {
			break
		}
		i += k
		if !strings.HasSuffix(text[:i], spaceMark) {
			out = t.spmEncode(text[start:i], out, sc)
			start = i
		}
		i += len(spaceMark)
	}
	return t.spmEncode(text[start:], out, sc)
}

// spmSplittable reports whether spmChunks may split at "▁" runs.
func (v *vocab) spmSplittable() bool {
	for _, s := range v.texts {
		for i := 1; i < len(s); i++ {
			k := strings.Index(s[i:], spaceMark)
			if k < 0 {
				break
			}
			i += k
			if !strings.HasSuffix(s[:i], spaceMark) {
				return false
			}
		}
	}
	return true
}

// spaceMark is SentencePiece's visible space, U+2581.
const spaceMark = "\u2581"

func appendEscaped(dst []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(append(dst, s[:i]...), spaceMark...)
		s = s[i+1:]
	}
}

// partition splits text at special tokens the way llama.cpp's
// tokenizer_st_partition does: token by token, longest text first, each
// splitting every text fragment at all its occurrences. Control and unknown
// tokens take part only when parseSpecial; user-defined ones always do.
func (t *Tokenizer) partition(text string, parseSpecial bool, sc *scratch) []frag {
	frags := sc.frags[:0]
	if text == "" {
		return frags
	}
	frags = append(frags, frag{tok: none, lo: 0, hi: int32(len(text))})
	next := sc.frags2[:0]
	for _, id := range t.specials {
		a := t.attrs[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		tok := t.texts[id]
		if !strings.Contains(text, tok) {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.tok >= 0 {
				next = append(next, f)
				continue
			}
			next = splitAt(text, f, id, tok, a, next)
		}
		frags, next = next, frags
	}
	sc.frags, sc.frags2 = frags, next
	return frags
}

// splitAt splits text fragment f at every occurrence of tok.
func splitAt(text string, f frag, id int32, tok string, a attr, out []frag) []frag {
	lo, hi := int(f.lo), int(f.hi)
	for lo < hi {
		k := strings.Index(text[lo:hi], tok)
		if k < 0 {
			break
		}
		m := lo + k
		left := m
		if a&attrLStrip != 0 {
			for left > lo && isCSpace(text[left-1]) {
				left--
			}
		}
		if left > lo {
			out = append(out, frag{tok: none, lo: int32(lo), hi: int32(left)})
		}
		out = append(out, frag{tok: id})
		lo = m + len(tok)
		if a&attrRStrip != 0 {
			for lo < hi && isCSpace(text[lo]) {
				lo++
			}
		}
	}
	if lo < hi {
		out = append(out, frag{tok: none, lo: int32(lo), hi: int32(hi)})
	}
	return out
}

// isCSpace is C's isspace in the C locale.
func isCSpace(b byte) bool {
	return b == ' ' || (b >= '\t' && b <= '\r')
}

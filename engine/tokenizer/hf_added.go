package tokenizer

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"
)

// addedSet finds tokenizer.json added tokens in text the way Hugging Face
// does: scanning left to right, the longest token starting at a position
// wins. Tokens matched after normalization are matched in their normalized
// spelling (with a Prepend("▁") normalizer, "<s>" is found as "▁<s>").
type addedSet struct {
	byFirst map[byte][]addedPat // candidates by first byte, longest first
}

type addedPat struct {
	id  int32
	pat string
}

// addedSets splits added tokens into those matched on the raw input and
// those matched after normalization.
func (t *Tokenizer) addedSets(added []hfAdded) (raw, norm addedSet) {
	raw.byFirst, norm.byFirst = map[byte][]addedPat{}, map[byte][]addedPat{}
	for _, a := range added {
		set, pat := raw.byFirst, a.Content
		if a.Normalized {
			set, pat = norm.byFirst, t.hf.normalize(pat)
		}
		if pat == "" {
			continue
		}
		set[pat[0]] = append(set[pat[0]], addedPat{int32(a.ID), pat})
	}
	for _, m := range []map[byte][]addedPat{raw.byFirst, norm.byFirst} {
		for _, ps := range m {
			slices.SortStableFunc(ps, func(x, y addedPat) int { return cmp.Compare(len(y.pat), len(x.pat)) })
		}
	}
	return raw, norm
}

// split partitions text into added tokens and text fragments. Special
// tokens are skipped unless parseSpecial.
func (s *addedSet) split(t *Tokenizer, text string, parseSpecial bool, out []frag) []frag {
	prev := 0
	for i := 0; i < len(text); {
		id, end := s.match(t, text, i, parseSpecial)
		if id == none {
			i++
			continue
		}
		a := t.attrs[id]
		left := i
		if a&attrLStrip != 0 {
			left = len(strings.TrimRightFunc(text[prev:i], isSpace)) + prev
		}
		if a&attrRStrip != 0 {
			end = len(text) - len(strings.TrimLeftFunc(text[end:], isSpace))
		}
		if left > prev {
			out = append(out, frag{tok: none, lo: int32(prev), hi: int32(left)})
		}
		out = append(out, frag{tok: id})
		prev, i = end, end
	}
	if prev < len(text) {
		out = append(out, frag{tok: none, lo: int32(prev), hi: int32(len(text))})
	}
	return out
}

// match returns the longest eligible token at text[i:] and its end.
func (s *addedSet) match(t *Tokenizer, text string, i int, parseSpecial bool) (int32, int) {
	for _, p := range s.byFirst[text[i]] {
		a := t.attrs[p.id]
		if a&attrControl != 0 && !parseSpecial {
			continue
		}
		if !strings.HasPrefix(text[i:], p.pat) {
			continue
		}
		end := i + len(p.pat)
		if a&attrSingleWord != 0 && (wordBefore(text, i) || wordAfter(text, end)) {
			continue
		}
		return p.id, end
	}
	return none, 0
}

func isWordRune(r rune) bool { return r == '_' || flagsOf(r)&(cfLetter|cfNumber) != 0 }

func wordBefore(s string, i int) bool {
	r, n := utf8.DecodeLastRuneInString(s[:i])
	return n > 0 && isWordRune(r)
}

func wordAfter(s string, i int) bool {
	r, n := utf8.DecodeRuneInString(s[i:])
	return n > 0 && isWordRune(r)
}

// hfEncode runs the tokenizer.json pipeline: raw added tokens, normalizer,
// normalized added tokens, pre-tokenizer, BPE.
func (t *Tokenizer) hfEncode(text string, parseSpecial bool, out []int32, sc *scratch) []int32 {
	p := t.hf
	text = ValidUTF8(text)
	for _, f := range p.raw.split(t, text, parseSpecial, nil) {
		if f.tok >= 0 {
			out = append(out, f.tok)
			continue
		}
		norm := p.normalize(text[f.lo:f.hi])
		for _, g := range p.norm2.split(t, norm, parseSpecial, nil) {
			if g.tok >= 0 {
				out = append(out, g.tok)
				continue
			}
			words := []hfWord{{norm[g.lo:g.hi], f.lo == 0 && g.lo == 0}}
			for _, st := range p.pre {
				words = st(words)
			}
			for _, w := range words {
				out = t.bpeWord(w.text, out, sc)
			}
		}
	}
	return out
}

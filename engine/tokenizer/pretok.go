package tokenizer

import "unicode/utf8"

// Pre-tokenizers split a text fragment into words before BPE. llama.cpp
// applies a list of regexes in turn, each one splitting every piece left by
// the previous one into matches and the text between them; the common ones
// (GPT-2, Llama 3) it implements by hand. These are hand-written equivalents
// of those regexes; pretok_test.go checks them against regexp2.

// span is a byte range [lo, hi) of the fragment being split.
type span struct{ lo, hi int32 }

// stage splits s[lo:hi] into consecutive spans covering it exactly.
type stage func(s string, lo, hi int, out []span) []span

// splitter is a pre-tokenizer: its stages run in order.
type splitter []stage

// split returns the words of s (which must be sanitized).
func (sp splitter) split(s string, sc *scratch) []span {
	cur := append(sc.spans[:0], span{0, int32(len(s))})
	if len(sp) == 0 {
		sc.spans = cur
		return cur
	}
	next := sc.spans2[:0]
	for _, st := range sp {
		next = next[:0]
		for _, p := range cur {
			next = st(s, int(p.lo), int(p.hi), next)
		}
		cur, next = next, cur
	}
	sc.spans, sc.spans2 = cur, next
	return cur
}

// cursor reads code points of s[lo:hi]; beyond hi it reports r = -1 and no
// flags, as llama.cpp's OUT_OF_RANGE.
type cursor struct {
	s      string
	lo, hi int
	out    []span
	prev   int // end of the last span emitted
}

func (c *cursor) at(pos int) (r rune, n int, f cflag) {
	if pos >= c.hi || pos < c.lo {
		return -1, 0, 0
	}
	if b := c.s[pos]; b < utf8.RuneSelf {
		return rune(b), 1, asciiFlags[b]
	}
	r, n = runeAt(c.s, pos)
	return r, n, slowFlags(r)
}

// emit closes the span ending at end.
func (c *cursor) emit(end int) {
	if end > c.prev {
		c.out = append(c.out, span{int32(c.prev), int32(end)})
	}
	c.prev = end
}

// contraction returns the length of 's|'t|'re|'ve|'m|'ll|'d at pos
// (ignoring case when fold), or 0.
func (c *cursor) contraction(pos int, fold bool) int {
	if r, _, _ := c.at(pos); r != '\'' {
		return 0
	}
	lower := func(r rune) rune {
		if fold && r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	r1, _, _ := c.at(pos + 1)
	r1 = lower(r1)
	switch r1 {
	case 's', 't', 'm', 'd':
		return 2
	}
	r2, _, _ := c.at(pos + 2)
	r2 = lower(r2)
	if (r1 == 'r' && r2 == 'e') || (r1 == 'v' && r2 == 'e') || (r1 == 'l' && r2 == 'l') {
		return 3
	}
	return 0
}

// runIn advances from pos over code points with a flag in mask.
func (c *cursor) runIn(pos int, mask cflag) int {
	for {
		r, n, f := c.at(pos)
		if r < 0 || f&mask == 0 {
			return pos
		}
		pos += n
	}
}

// runOut advances from pos over code points with no flag in mask.
func (c *cursor) runOut(pos int, mask cflag) int {
	for {
		r, n, f := c.at(pos)
		if r < 0 || f&mask != 0 {
			return pos
		}
		pos += n
	}
}

// runNewlines advances over \r and \n.
func (c *cursor) runNewlines(pos int) int {
	for pos < c.hi && (c.s[pos] == '\r' || c.s[pos] == '\n') {
		pos++
	}
	return pos
}

// spaces scans the whitespace run at pos: its end, the start of its last
// code point, and the end of its last \r or \n (0 if none).
func (c *cursor) spaces(pos int) (end, last, lastNL int) {
	end, last = pos, pos
	for {
		r, n, f := c.at(end)
		if r < 0 || f&cfSpace == 0 {
			return end, last, lastNL
		}
		if r == '\r' || r == '\n' {
			lastNL = end + n
		}
		last = end
		end += n
	}
}

// splitGPT2 is 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(s string, lo, hi int, out []span) []span {
	c := cursor{s: s, lo: lo, hi: hi, out: out, prev: lo}
	for pos := lo; pos < hi; {
		if k := c.contraction(pos, false); k > 0 {
			pos += k
			c.emit(pos)
			continue
		}
		r, n, f := c.at(pos)
		start := pos
		if r == ' ' {
			// The optional leading space binds to what follows it.
			if r2, _, f2 := c.at(pos + 1); r2 >= 0 && f2&cfSpace == 0 {
				start, f = pos+1, f2
			}
		}
		switch {
		case f&cfLetter != 0:
			pos = c.runIn(start, cfLetter)
		case f&cfNumber != 0:
			pos = c.runIn(start, cfNumber)
		case f&cfSpace == 0:
			pos = c.runOut(start, cfSpace|cfLetter|cfNumber)
		default:
			pos = c.whitespace(pos, n, false)
			continue
		}
		c.emit(pos)
	}
	return c.out
}

// whitespace handles \s*[\r\n]+ (when nl), \s+(?!\S) and \s+ at pos, or
// a lone unmatched code point of n bytes; it returns the new position.
func (c *cursor) whitespace(pos, n int, nl bool) int {
	end, last, lastNL := c.spaces(pos)
	switch {
	case nl && lastNL > 0:
		pos = lastNL
	case end == pos:
		pos += n
	case last > pos:
		if r, _, _ := c.at(end); r >= 0 {
			pos = last // leave the last space to the word that follows
		} else {
			pos = end
		}
	default:
		pos = end
	}
	c.emit(pos)
	return pos
}

// splitLlama3 is Llama 3's
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with at most digits numbers per word (3; Qwen2 uses 1).
func splitLlama3(digits int) stage {
	const other = cfSpace | cfLetter | cfNumber
	return func(s string, lo, hi int, out []span) []span {
		c := cursor{s: s, lo: lo, hi: hi, out: out, prev: lo}
		for pos := lo; pos < hi; {
			if k := c.contraction(pos, true); k > 0 {
				pos += k
				c.emit(pos)
				continue
			}
			r, n, f := c.at(pos)
			if r != '\r' && r != '\n' && f&cfNumber == 0 {
				if _, _, f2 := c.at(pos + n); f&cfLetter != 0 || f2&cfLetter != 0 {
					pos = c.runIn(pos+n, cfLetter)
					c.emit(pos)
					continue
				}
			}
			if f&cfNumber != 0 {
				pos = c.digitGroups(pos, digits)
				continue
			}
			start, f2 := pos, f
			if r == ' ' {
				_, _, f2 = c.at(pos + 1)
				start = pos + 1
			}
			if r2, _, _ := c.at(start); r2 >= 0 && f2&other == 0 {
				pos = c.runNewlines(c.runOut(start, other))
				c.emit(pos)
				continue
			}
			pos = c.whitespace(pos, n, true)
		}
		return c.out
	}
}

// digitGroups emits the number run at pos in groups of at most k.
func (c *cursor) digitGroups(pos, k int) int {
	for count := 0; ; count++ {
		r, n, f := c.at(pos)
		if r < 0 || f&cfNumber == 0 {
			break
		}
		if count == k {
			c.emit(pos)
			count = 0
		}
		pos += n
	}
	c.emit(pos)
	return pos
}

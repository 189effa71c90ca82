package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// cflag is a code point's class as the pre-tokenizers see it (llama.cpp's
// unicode_cpt_flags reduced to what the splitters test).
type cflag uint8

const (
	cfLetter cflag = 1 << iota // \p{L}
	cfNumber                   // \p{N}
	cfSpace                    // \s: Unicode White_Space
	cfPunct                    // \p{P}
	cfSymbol                   // \p{S}
	cfMark                     // \p{M}
)

var asciiFlags [utf8.RuneSelf]cflag

func init() {
	for r := range rune(utf8.RuneSelf) {
		asciiFlags[r] = slowFlags(r)
	}
}

// slowFlags classifies with the unicode tables.
func slowFlags(r rune) cflag {
	var f cflag
	switch {
	case unicode.IsLetter(r):
		f = cfLetter
	case unicode.IsNumber(r):
		f = cfNumber
	case unicode.IsPunct(r):
		f = cfPunct
	case unicode.IsSymbol(r):
		f = cfSymbol
	case unicode.IsMark(r):
		f = cfMark
	}
	if unicode.IsSpace(r) {
		f |= cfSpace
	}
	return f
}

func flagsOf(r rune) cflag {
	if r < utf8.RuneSelf && r >= 0 {
		return asciiFlags[r]
	}
	return slowFlags(r)
}

// decodeLlama decodes one code point at s[i:] the way llama.cpp's
// unicode_cpt_from_utf8 does: lead and continuation bits are checked, but
// overlong forms and surrogates are accepted. ok is false for an invalid
// sequence, which llama.cpp replaces by U+FFFD and skips one byte.
func decodeLlama(s string, i int) (r rune, n int, ok bool) {
	b0 := s[i]
	if b0 < 0x80 {
		return rune(b0), 1, true
	}
	var need int
	switch {
	case b0&0x40 == 0:
		return utf8.RuneError, 1, false
	case b0&0x20 == 0:
		need, r = 1, rune(b0&0x1f)
	case b0&0x10 == 0:
		need, r = 2, rune(b0&0x0f)
	case b0&0x08 == 0:
		need, r = 3, rune(b0&0x07)
	default:
		return utf8.RuneError, 1, false
	}
	if i+need >= len(s) {
		return utf8.RuneError, 1, false
	}
	for k := 1; k <= need; k++ {
		c := s[i+k]
		if c&0xc0 != 0x80 {
			return utf8.RuneError, 1, false
		}
		r = r<<6 | rune(c&0x3f)
	}
	if r > unicode.MaxRune {
		// llama.cpp cannot re-encode these and throws; treat as invalid.
		return utf8.RuneError, 1, false
	}
	return r, need + 1, true
}

// appendLlama encodes r like llama.cpp's unicode_cpt_to_utf8, which also
// writes surrogate code points (Go's encoder would substitute U+FFFD).
func appendLlama(dst []byte, r rune) []byte {
	if r >= 0xD800 && r <= 0xDFFF {
		return append(dst, byte(0xe0|r>>12), byte(0x80|(r>>6)&0x3f), byte(0x80|r&0x3f))
	}
	return utf8.AppendRune(dst, r)
}

// sanitize rewrites s so that each code point llama.cpp would decode is
// stored canonically and each invalid byte becomes U+FFFD. Valid UTF-8 is
// returned unchanged, so the common case costs one validation pass.
func sanitize(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n, ok := decodeLlama(s, i)
		if !ok {
			r = utf8.RuneError
		}
		out = appendLlama(out, r)
		i += n
	}
	return string(out)
}

// runeAt decodes the code point at s[i:] of a sanitized string.
func runeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n == 1 {
		// A surrogate written by appendLlama.
		r, n, _ = decodeLlama(s, i)
	}
	return r, n
}

// utf8Len is llama.cpp's unicode_len_utf8: the sequence length announced by
// a lead byte (1 for continuation bytes), used by the SPM and BPE symbol
// splitters, which never decode.
func utf8Len(b byte) int {
	return [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[b>>4]
}

// ValidUTF8 replaces every byte that is not part of a valid UTF-8 sequence
// by U+FFFD, one replacement per byte (as Go's range over a string does).
// It is what a Detokenizer's output adds up to.
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s)+8)
	for _, r := range s {
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

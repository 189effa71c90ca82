package tokenizer

import "unicode/utf8"

// GPT-2's byte-level alphabet: every byte maps to a printable code point so
// that vocabularies can be stored as text. Printable Latin-1 bytes map to
// themselves; the other 68 bytes map, in byte order, to U+0100, U+0101, ...
var (
	byteRune  [256]rune
	runeByte  [324]int16 // code point -> byte, -1 when not in the alphabet
	byteChars [256]string
)

func init() {
	for i := range runeByte {
		runeByte[i] = -1
	}
	next := rune(256)
	for b := range 256 {
		r := rune(b)
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if !printable {
			r = next
			next++
		}
		byteRune[b] = r
		runeByte[r] = int16(b)
		byteChars[b] = string(r)
	}
}

// byteLevelEncode appends the byte-level spelling of s.
func byteLevelEncode(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = utf8.AppendRune(dst, byteRune[s[i]])
	}
	return dst
}

// byteLevelDecode maps a byte-level token back to bytes. A code point
// outside the alphabet (only in malformed vocabularies) is kept as UTF-8.
func byteLevelDecode(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r >= 0 && int(r) < len(runeByte) && runeByte[r] >= 0 {
			out = append(out, byte(runeByte[r]))
			continue
		}
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

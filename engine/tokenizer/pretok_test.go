package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// alphabet mixes every class the pre-tokenizer regexes distinguish.
var alphabet = []string{
	"a", "Z", "s", "t", "S", "T", "re", "RE", "ve", "ll", "LL", "m", "d", "D", "é", "ß", "ж", "中", "文", "ا",
	"0", "7", "٣", "²", "Ⅻ", "'", "\"", ".", ",", "!", "?", "-", "$", "+", "<", "|", "`", "…", "。", "，",
	" ", " ", " ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\u2009", "\u0085", "\v", "\x1c",
	"\u0301", "\u200d", "😀", "🦙", "\x00", "\U000e0001", "ﬀ", "Ａ", "가", "ࠀ",
}

func randomText(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// regexSplit is the reference: the regex's matches and the text between
// them, as llama.cpp and Hugging Face split.
func regexSplit(t *testing.T, pattern string) func(string) []string {
	m, err := regexMatcher(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return func(s string) []string { return splitPieces(s, m(s), "Isolated", false) }
}

func stageSplit(st stage) func(string) []string {
	return func(s string) []string {
		var out []string
		for _, sp := range st(s, 0, len(s), nil) {
			out = append(out, s[sp.lo:sp.hi])
		}
		return out
	}
}

// TestSplittersMatchRegex compares the hand-written pre-tokenizers with
// regexp2 running the original regexes, on random text.
func TestSplittersMatchRegex(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		fast    stage
	}{
		{"gpt2", gpt2Regex, splitGPT2},
		{"llama3", llama3Regex, splitLlama3(3)},
		{"qwen2", qwen2Regex, splitLlama3(1)},
		{"digits", `\p{N}`, eachNumber()},
		{"digit runs", `\p{N}+`, runStage(nil, isNumber, 1, 0)},
		{"three digits", `[0-9][0-9][0-9]`, runStage(nil, isASCIIDigit, 3, 3)},
		{"punct", `[\p{P}\$\+<=>\^~\|]+`, punctRun("$+<=>^~|")},
		{"space letters", `\s?\p{L}+`, runStage(isSpace, isLetter, 1, 0)},
		{"poro", ` ?[^(\s|.,!?…。，、।۔،)]+`, poro()},
		{"trailing space", `\s+$`, trailingSpace},
	}
	r := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "Hello world", "I'm  fine\n\n  ok", "  \t\n x", "a'S b'Re", "12345678 ١٢٣٤"}
	for range 3000 {
		texts = append(texts, randomText(r, r.IntN(24)))
	}
	for _, c := range cases {
		ref, fast := regexSplit(t, c.pattern), stageSplit(c.fast)
		bad := 0
		for _, s := range texts {
			want, got := ref(s), fast(s)
			if !slices.Equal(got, want) {
				bad++
				if bad <= 3 {
					t.Errorf("%s %q:\n got %q\nwant %q", c.name, s, got, want)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d texts differ", c.name, bad, len(texts))
		}
	}
}

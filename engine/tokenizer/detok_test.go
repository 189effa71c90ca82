package tokenizer

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// vectorTexts returns every vector text with the tokenizer of each vocabulary.
func forEachVocab(t *testing.T, fn func(t *testing.T, tok *Tokenizer, texts []string)) {
	for _, vs := range vocabSets {
		t.Run(vs.name, func(t *testing.T) {
			tok := openGGUF(t, vs.gguf)
			var texts []string
			for _, c := range readVectors(t, sharedPath(t, vs.vectors+".inp"), sharedPath(t, vs.vectors+".out")) {
				texts = append(texts, c.text)
			}
			fn(t, tok, texts)
		})
	}
}

// TestDecodeRoundTrip: decoding what Encode produced gives the text back,
// with and without BOS, for every vector of every vocabulary.
func TestDecodeRoundTrip(t *testing.T) {
	forEachVocab(t, func(t *testing.T, tok *Tokenizer, texts []string) {
		for _, text := range texts {
			for _, o := range []EncodeOptions{{}, {AddSpecial: true}} {
				ids := tok.Encode(text, o)
				if got := tok.Decode(ids); got != text {
					t.Errorf("%+v: Decode(Encode(%q)) = %q", o, text, got)
				}
			}
		}
	})
}

// TestDetokenizerMatchesDecode: the streamed deltas add up to Decode, and
// every delta is valid UTF-8, for each vector cut at every prompt length.
func TestDetokenizerMatchesDecode(t *testing.T) {
	forEachVocab(t, func(t *testing.T, tok *Tokenizer, texts []string) {
		for _, text := range texts {
			ids := tok.Encode(text, EncodeOptions{AddSpecial: true})
			for cut := 0; cut <= len(ids); cut++ {
				checkStream(t, tok, ids, cut, DecodeOptions{})
			}
			checkStream(t, tok, ids, 0, DecodeOptions{Special: true})
		}
	})
}

// checkStream feeds ids[cut:] after the prompt ids[:cut].
func checkStream(t *testing.T, tok *Tokenizer, ids []int32, cut int, o DecodeOptions) {
	t.Helper()
	d := tok.NewDetokenizerWith(ids[:cut], o)
	var b strings.Builder
	for _, id := range ids[cut:] {
		delta := d.Add(id)
		if !utf8.ValidString(delta) {
			t.Fatalf("ids %v cut %d: delta %q is not valid UTF-8", ids, cut, delta)
		}
		b.WriteString(delta)
	}
	b.WriteString(d.Flush())
	// A character the prompt cut comes out whole with the first delta.
	whole := tok.DecodeWith(ids, o)
	prompt := tok.DecodeWith(ids[:cut], o)
	start := len(prompt) - incompleteTail([]byte(prompt))
	if want := ValidUTF8(whole[start:]); b.String() != want {
		t.Fatalf("ids %v cut %d %+v: streamed %q, Decode gives %q", ids, cut, o, b.String(), want)
	}
}

// TestDetokenizerHoldsPartialUTF8 feeds a character byte by byte.
func TestDetokenizerHoldsPartialUTF8(t *testing.T) {
	tok := fakeSPM(t)
	// "é" is not in the vocabulary: it becomes <0xC3> <0xA9>.
	ids := tok.Encode("é", EncodeOptions{})
	cases := []struct {
		name   string
		prompt []int32
		feed   []int32
		want   []string // delta per Add, then Flush
	}{
		{"split character", nil, ids, []string{"", "", "é", ""}},
		{"cut at flush", nil, ids[:2], []string{"", "", "\uFFFD"}},
		{"stray continuation", nil, []int32{tok.byteTok[0xA9]}, []string{"\uFFFD", ""}},
		{"prompt holds the lead byte", ids[:2], ids[2:], []string{"é", ""}},
		{"prompt lead never completed", ids[:2], []int32{tok.byteTok['a']}, []string{"a", ""}},
	}
	for _, c := range cases {
		d := tok.NewDetokenizer(c.prompt)
		var got []string
		for _, id := range c.feed {
			got = append(got, d.Add(id))
		}
		got = append(got, d.Flush())
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: deltas %q, want %q", c.name, got, c.want)
		}
	}
}

// TestConcurrentEncode: one tokenizer serves many goroutines (pooled
// scratch, shared word cache) with the results of a sequential run.
func TestConcurrentEncode(t *testing.T) {
	toks := []*Tokenizer{fakeSPM(t), fakeBPE(t, "llama-bpe"), fakeBPE(t, "gpt-2")}
	texts := []string{"the and the", "abc bca abc", "4123 in 4123", "é <|user|> é", "  a  b  "}
	for _, tok := range toks {
		want := make([][]int32, len(texts))
		for i, s := range texts {
			want[i] = tok.Encode(s, EncodeOptions{AddSpecial: true})
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for k := range 200 {
					i := (g + k) % len(texts)
					if got := tok.Encode(texts[i], EncodeOptions{AddSpecial: true}); !slices.Equal(got, want[i]) {
						t.Errorf("goroutine %d: %q gives %v, want %v", g, texts[i], got, want[i])
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

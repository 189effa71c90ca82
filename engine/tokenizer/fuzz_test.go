package tokenizer

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"spillway/internal/testenv"
)

// fuzzTokenizers are the vocabularies FuzzEncode runs: the in-memory ones
// always, the real ones when ../shared is present.
func fuzzTokenizers(f *testing.F) map[string]*Tokenizer {
	toks := map[string]*Tokenizer{
		"fake-spm": fakeSPM(f), "fake-gpt2": fakeBPE(f, "gpt-2"), "fake-llama3": fakeBPE(f, "llama-bpe"),
		"fake-deepseek": fakeBPE(f, "deepseek-llm"), "fake-falcon": fakeBPE(f, "falcon"),
	}
	if testenv.SharedDir() == "" {
		return toks
	}
	for _, vs := range vocabSets {
		if !strings.Contains(vs.name, "(") && vs.name != "phi-3" {
			toks[vs.name] = openGGUF(f, vs.gguf)
		}
	}
	return toks
}

// FuzzEncode: any input encodes without panicking to in-range ids, decodes
// back to itself (valid UTF-8 for byte-level vocabularies, any bytes for
// SentencePiece byte fallback), and streams to the same text.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", " ", "Hello world", "  a\n\n\tb ", "é中😀", "\xff\xfe", "<s>[INST]</s>", "<|user|>x",
		"I'm 12345 'RE", "a\u00a0b\u3000c", "\xed\xa0\x80", "\xc0\x80"} {
		f.Add(s)
	}
	if testenv.SharedDir() != "" {
		b, _ := os.ReadFile(testenv.Shared(f, "oracle/vocab/ggml-vocab-llama-bpe.gguf.inp"))
		for _, s := range strings.Split(string(b), "\n__ggml_vocab_test__\n") {
			f.Add(s)
		}
	}
	toks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, text string) {
		for name, tok := range toks {
			checkEncode(t, name, tok, text)
		}
	})
}

func checkEncode(t *testing.T, name string, tok *Tokenizer, text string) {
	for _, o := range []EncodeOptions{{}, {AddSpecial: true, ParseSpecial: true}} {
		ids := tok.Encode(text, o)
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("%s: Encode(%q) has id %d outside the vocabulary", name, text, id)
			}
		}
		d := tok.NewDetokenizer(nil)
		var b strings.Builder
		for _, id := range ids {
			delta := d.Add(id)
			if !utf8.ValidString(delta) {
				t.Fatalf("%s: invalid UTF-8 delta %q", name, delta)
			}
			b.WriteString(delta)
		}
		b.WriteString(d.Flush())
		whole := tok.Decode(ids)
		if b.String() != ValidUTF8(whole) {
			t.Fatalf("%s: streamed %q, Decode %q", name, b.String(), whole)
		}
		if o.ParseSpecial {
			continue
		}
		roundTrips := tok.kind == KindSPM || utf8.ValidString(text)
		if roundTrips && whole != text {
			t.Fatalf("%s: Decode(Encode(%q)) = %q (ids %v)", name, text, whole, ids)
		}
	}
}

// FuzzFromHF: tokenizer.json parsing never panics, and what it accepts
// can encode and decode.
func FuzzFromHF(f *testing.F) {
	for _, s := range []hfSpec{llama3Spec(), metaspaceSpec()} {
		data, _ := s.json(f)
		f.Add(data)
	}
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`))
	f.Add([]byte(`{"model":{"vocab":{"a":0}},"normalizer":{"type":"Sequence","normalizers":[{"type":"Replace","pattern":{"Regex":"a+"},"content":"b"}]}}`))
	f.Add([]byte(`{"model":{"vocab":{"a":0}},"pre_tokenizer":{"type":"Split","pattern":{"String":"a"},"behavior":"Contiguous","invert":true}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := parseHF(data, hfConfig{}, hfGenConfig{})
		if err != nil {
			return
		}
		for _, text := range []string{"", "ab ab", "a\u2581b <s>", "\xff12 3"} {
			ids := tok.Encode(text, EncodeOptions{AddSpecial: true, ParseSpecial: true})
			for _, id := range ids {
				if id < 0 || int(id) >= tok.VocabSize() {
					t.Fatalf("id %d outside the vocabulary", id)
				}
			}
			_ = tok.Decode(ids)
		}
		_ = tok.Summary().String()
	})
}

// FuzzFromGGUF: arbitrary tokenizer metadata never panics FromGGUF or the
// tokenizer it returns.
func FuzzFromGGUF(f *testing.F) {
	f.Add(true, "<unk>\n<s>\n</s>\n<0x41>\n▁\na\n▁a", "", "default", []byte{2, 3, 3, 6, 1, 1, 1})
	f.Add(false, "a\nb\nab\nĠ\nĠa", "a b\nĠ a\nĠa b", "gpt-2", []byte{1, 1, 1, 1, 4})
	f.Add(false, "a\nb\nab", "a b\nab", "llama-bpe", []byte{3})
	f.Fuzz(func(t *testing.T, spm bool, tokens, merges, pre string, types []byte) {
		md := fakeMD{kp + "tokens": strings.Split(tokens, "\n"), kp + "pre": pre}
		md[kp+"model"] = "gpt2"
		if spm {
			md[kp+"model"] = "llama"
		}
		if merges != "" {
			md[kp+"merges"] = strings.Split(merges, "\n")
		}
		tt := make([]int32, len(types))
		for i, b := range types {
			tt[i] = int32(b % 8)
		}
		md[kp+"token_type"] = tt
		tok, err := FromGGUF(md)
		if err != nil {
			return
		}
		for _, text := range []string{"", "ab ab", "a\u2581b <s>", "\xff12 3", tokens} {
			for _, id := range tok.Encode(text, EncodeOptions{AddSpecial: true, ParseSpecial: true}) {
				if id < 0 || int(id) >= tok.VocabSize() {
					t.Fatalf("id %d outside the vocabulary", id)
				}
			}
		}
	})
}

package tokenizer

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"spillway/engine/gguf"
	"spillway/internal/testenv"
)

// vocabCase is one llama.cpp test-tokenizer-0 vector.
type vocabCase struct {
	text string
	want []int32
}

// readVectors parses a <vocab>.gguf.inp/.out pair (format in
// ../shared/oracle/README.md §6).
func readVectors(t testing.TB, inp, out string) []vocabCase {
	t.Helper()
	in, err := os.ReadFile(inp)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	texts := strings.Split(string(in), sep)
	if texts[len(texts)-1] == "" {
		texts = texts[:len(texts)-1]
	}
	lines := strings.Split(strings.TrimSuffix(string(exp), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s has %d cases, %s %d lines", inp, len(texts), out, len(lines))
	}
	cases := make([]vocabCase, len(texts))
	for i, text := range texts {
		cases[i].text = text
		for _, f := range strings.Fields(lines[i]) {
			id, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				t.Fatalf("%s line %d: %v", out, i+1, err)
			}
			cases[i].want = append(cases[i].want, int32(id))
		}
	}
	return cases
}

// openGGUF loads the tokenizer of a GGUF file under ../shared.
func openGGUF(t testing.TB, rel string) *Tokenizer {
	t.Helper()
	f, err := gguf.Open(testenv.Shared(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// vocabSets are the llama.cpp vocabularies with test vectors.
var vocabSets = []struct {
	name, gguf, vectors string
}{
	{"llama-spm", "oracle/vocab/ggml-vocab-llama-spm.gguf", "oracle/vocab/ggml-vocab-llama-spm.gguf"},
	{"llama-spm (tiny-spm-F16)", "oracle/models/tiny-spm-F16.gguf", "oracle/vocab/ggml-vocab-llama-spm.gguf"},
	{"phi-3", "oracle/vocab/ggml-vocab-phi-3.gguf", "oracle/vocab/ggml-vocab-phi-3.gguf"},
	{"gpt-2", "oracle/vocab/ggml-vocab-gpt-2.gguf", "oracle/vocab/ggml-vocab-gpt-2.gguf"},
	{"llama-bpe", "oracle/models/tiny-bpe-Q4_K_M-embQ4_K.gguf", "oracle/vocab/ggml-vocab-llama-bpe.gguf"},
}

// TestVocabVectors checks llama.cpp's tokenizer vectors: no BOS, special
// text parsed as text, every case exact.
func TestVocabVectors(t *testing.T) {
	for _, vs := range vocabSets {
		t.Run(vs.name, func(t *testing.T) {
			tok := openGGUF(t, vs.gguf)
			inp := testenv.Shared(t, vs.vectors+".inp")
			cases := readVectors(t, inp, testenv.Shared(t, vs.vectors+".out"))
			pass := 0
			for i, c := range cases {
				got := tok.Encode(c.text, EncodeOptions{})
				if slices.Equal(got, c.want) {
					pass++
					continue
				}
				t.Errorf("case %d %q:\n got %v\nwant %v", i, c.text, got, c.want)
			}
			t.Logf("%s: %d/%d vectors pass", vs.name, pass, len(cases))
		})
	}
}

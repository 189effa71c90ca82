package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"spillway/internal/testenv"
)

// refFile is the part of a llama.cpp reference JSON these tests read.
type refFile struct {
	ModelFile string `json:"model_file"`
	AddBOS    bool   `json:"add_bos"`
	BOS       int32  `json:"bos_id"`
	Prompts   []struct {
		Name   string   `json:"name"`
		Text   string   `json:"text"`
		Tokens []int32  `json:"tokens"`
		Pieces []string `json:"pieces"`
	} `json:"prompts"`
}

func readRef(t *testing.T, path string) refFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r refFile
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// refModel finds the GGUF file a reference was made from.
func refModel(t *testing.T, name string) string {
	for _, dir := range []string{"oracle/models", "models", "models/derived"} {
		rel := filepath.Join(dir, name)
		if _, err := os.Stat(filepath.Join(testenv.SharedDir(), rel)); err == nil {
			return rel
		}
	}
	t.Skipf("skipping: %s is absent from ../shared", name)
	return ""
}

// TestReferencePrompts checks the prompt ids of every llama.cpp reference
// (add_special=true, parse_special=false), that decoding them gives the
// prompt back, and the pieces llama.cpp printed.
func TestReferencePrompts(t *testing.T) {
	if testenv.SharedDir() == "" {
		t.Skip("skipping: ../shared test data is absent (it is not part of the repository)")
	}
	var refs []string
	for _, pat := range []string{"oracle/refs/*.json", "models/refs/*.json"} {
		m, _ := filepath.Glob(filepath.Join(testenv.SharedDir(), pat))
		refs = append(refs, m...)
	}
	if len(refs) == 0 {
		t.Skip("skipping: no reference JSON under ../shared")
	}
	for _, path := range refs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			r := readRef(t, path)
			tok := openGGUF(t, refModel(t, r.ModelFile))
			if tok.AddBOS() != r.AddBOS || tok.BOS() != r.BOS {
				t.Errorf("add_bos %v bos %d, reference %v %d", tok.AddBOS(), tok.BOS(), r.AddBOS, r.BOS)
			}
			for _, p := range r.Prompts {
				got := tok.Encode(p.Text, EncodeOptions{AddSpecial: true})
				if !slices.Equal(got, p.Tokens) {
					t.Errorf("%s: tokens\n got %v\nwant %v", p.Name, got, p.Tokens)
				}
				if back := tok.Decode(p.Tokens); back != p.Text {
					t.Errorf("%s: Decode gives %q, want %q", p.Name, back, p.Text)
				}
				checkPieces(t, tok, p.Name, p.Tokens, p.Pieces)
			}
		})
	}
}

// checkPieces compares Render with llama.cpp's printed pieces, where those
// are exact (valid UTF-8; SPM's "▁" is printed as a space either way).
func checkPieces(t *testing.T, tok *Tokenizer, name string, ids []int32, pieces []string) {
	t.Helper()
	for i, id := range ids {
		if i >= len(pieces) {
			return
		}
		got := tok.Render(id, true)
		if utf8.ValidString(got) && got != strings.ReplaceAll(pieces[i], spaceMark, " ") {
			t.Errorf("%s: piece %d (id %d) = %q, llama.cpp %q", name, i, id, got, pieces[i])
		}
	}
}

// TestTinyStoriesGolden checks the goldens of ../shared/models/MANIFEST.md
// for the HF tokenizer.json, its GGUF twin and stories260K.
func TestTinyStoriesGolden(t *testing.T) {
	const prompt = "Once upon a time"
	hf, err := FromHF(testenv.Shared(t, "models/TinyStories-656K-hf"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tok  *Tokenizer
		want []int32
	}{
		{"TinyStories-656K-hf", hf, []int32{1, 80, 147, 201, 282, 57}},
		{"TinyStories-656K-f32.gguf", openGGUF(t, "models/derived/TinyStories-656K-f32.gguf"), []int32{1, 80, 147, 201, 282, 57}},
		{"stories260K.gguf", openGGUF(t, "models/stories260K.gguf"), []int32{1, 403, 407, 261, 378}},
	}
	for _, c := range cases {
		got := c.tok.Encode(prompt, EncodeOptions{AddSpecial: true})
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
		if back := c.tok.Decode(got); back != prompt {
			t.Errorf("%s: Decode gives %q", c.name, back)
		}
	}
}

// TestHFMatchesGGUFTwin encodes the references' prompts and every vector
// text with the HF tokenizer and its GGUF conversion: they must agree.
func TestHFMatchesGGUFTwin(t *testing.T) {
	hf, err := FromHF(testenv.Shared(t, "models/TinyStories-656K-hf"))
	if err != nil {
		t.Fatal(err)
	}
	gg := openGGUF(t, "models/derived/TinyStories-656K-f32.gguf")
	r := readRef(t, testenv.Shared(t, "models/refs/TinyStories-656K-f32.json"))
	texts := []string{}
	for _, p := range r.Prompts {
		texts = append(texts, p.Text)
	}
	for _, c := range readVectors(t, testenv.Shared(t, "oracle/vocab/ggml-vocab-llama-spm.gguf.inp"),
		testenv.Shared(t, "oracle/vocab/ggml-vocab-llama-spm.gguf.out")) {
		texts = append(texts, c.text)
	}
	compared := 0
	for _, text := range texts {
		if slices.Contains(hf.Encode(text, EncodeOptions{}), hf.unk) {
			// unknown characters: HF fuses runs of them into one <unk>,
			// llama.cpp has no rule (it throws), this package emits one each
			continue
		}
		compared++
		for _, o := range []EncodeOptions{{}, {AddSpecial: true}} {
			a, b := hf.Encode(text, o), gg.Encode(text, o)
			if !slices.Equal(a, b) {
				t.Errorf("%q %+v:\n  hf %v\ngguf %v", text, o, a, b)
			}
		}
	}
	t.Logf("%d of %d texts have no unknown characters and were compared", compared, len(texts))
	for _, p := range r.Prompts {
		if got := hf.Encode(p.Text, EncodeOptions{AddSpecial: true}); !slices.Equal(got, p.Tokens) {
			t.Errorf("%s: hf %v, reference %v", p.Name, got, p.Tokens)
		}
	}
}

// TestRealSummaries checks what `spillway inspect` shows for the shipped
// vocabularies against their metadata and llama.cpp's EOG rules.
func TestRealSummaries(t *testing.T) {
	cases := []struct {
		gguf              string
		vocab, merges     int
		bos, eos, eot     int32
		addBOS, byteLevel bool
		eog               []int32
	}{
		{"oracle/vocab/ggml-vocab-llama-spm.gguf", 32000, 0, 1, 2, -1, true, false, []int32{2}},
		{"oracle/vocab/ggml-vocab-phi-3.gguf", 32064, 0, 1, 32000, 32007, true, false, []int32{32000, 32007}},
		{"oracle/vocab/ggml-vocab-gpt-2.gguf", 50257, 50000, 50256, 50256, 50256, false, true, []int32{50256}},
		{"oracle/models/tiny-bpe-Q4_K_M-embQ4_K.gguf", 128256, 280147, 128000, 128001, 128009, true, true, []int32{128001, 128009}},
	}
	for _, c := range cases {
		i := openGGUF(t, c.gguf).Summary()
		if i.VocabSize != c.vocab || i.Merges != c.merges || i.BOS != c.bos || i.EOS != c.eos || i.EOT != c.eot ||
			i.AddBOS != c.addBOS || i.ByteLevel != c.byteLevel || !slices.Equal(i.EOG, c.eog) {
			t.Errorf("%s:\n%s", c.gguf, i)
		}
	}
}

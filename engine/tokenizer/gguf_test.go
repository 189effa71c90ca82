package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// Ids of the fake SentencePiece vocabulary (see spmMD).
const (
	spmByte0 = 3 // <0x00>
	spmSpace = 259 + iota - 1
	spmA
	spmB
	spmC
	spmSpA
	spmAB
	spmSpAB
	spmBC
	spmSpABC
)

func TestSPMEncode(t *testing.T) {
	tok := fakeSPM(t)
	b := func(c byte) int32 { return spmByte0 + int32(c) }
	cases := []struct {
		name string
		text string
		o    EncodeOptions
		want []int32
	}{
		{"empty", "", EncodeOptions{}, nil},
		{"empty with BOS", "", EncodeOptions{AddSpecial: true}, []int32{1}},
		{"merges by score", "abc", EncodeOptions{}, []int32{spmSpABC}},
		{"lower score loses", "bca", EncodeOptions{}, []int32{spmSpace, spmBC, spmA}},
		{"spaces become marks", "a b", EncodeOptions{}, []int32{spmSpA, spmSpace, spmB}},
		{"leading spaces", "  a", EncodeOptions{}, []int32{spmSpace, spmSpace, spmSpA}},
		{"byte fallback", "é", EncodeOptions{}, []int32{spmSpace, b(0xC3), b(0xA9)}},
		{"invalid UTF-8", "\xff", EncodeOptions{}, []int32{spmSpace, b(0xFF)}},
		{"BOS", "ab", EncodeOptions{AddSpecial: true}, []int32{1, spmSpAB}},
		{"special as text", "<s>a", EncodeOptions{}, []int32{spmSpace, b('<'), b('s'), b('>'), spmA}},
		{"special parsed", "<s>a", EncodeOptions{ParseSpecial: true}, []int32{1, spmSpA}},
		{"space after special", "a</s>b", EncodeOptions{ParseSpecial: true}, []int32{spmSpA, 2, spmSpace, spmB}},
	}
	for _, c := range cases {
		if got := tok.Encode(c.text, c.o); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q) = %v, want %v", c.name, c.text, got, c.want)
		}
	}
}

// Ids of the fake byte-level vocabulary (see bpeMD): bytes are 0-255.
const (
	bpeGt = 256 + iota
	bpeHe
	bpeGthe
	bpeIn
	bpeGa
	bpeGan
	bpeGand
	bpe12
	bpe123
	bpeEot
	bpeEnd
	bpeUser
	bpeXYZ
)

func TestBPEEncode(t *testing.T) {
	cases := []struct {
		pre  string
		text string
		o    EncodeOptions
		want []int32
	}{
		{"gpt-2", "the and", EncodeOptions{}, []int32{'t', bpeHe, bpeGand}},
		{"gpt-2", " the", EncodeOptions{}, []int32{bpeGthe}},
		{"gpt-2", "4123", EncodeOptions{}, []int32{'4', bpe123}},
		{"llama-bpe", "4123", EncodeOptions{}, []int32{'4', bpe12, '3'}},
		{"gpt-2", "xyz", EncodeOptions{}, []int32{'x', 'y', 'z'}},
		{"llama-bpe", "xyz", EncodeOptions{}, []int32{bpeXYZ}}, // ignore_merges
		{"gpt-2", "a<|eot|>", EncodeOptions{}, []int32{'a', '<', '|', 'e', 'o', 't', '|', '>'}},
		{"gpt-2", "a<|eot|>", EncodeOptions{ParseSpecial: true}, []int32{'a', bpeEot}},
		{"gpt-2", "a<|user|>b", EncodeOptions{}, []int32{'a', bpeUser, 'b'}},
		{"gpt-2", "in", EncodeOptions{AddSpecial: true}, []int32{bpeIn}},
		{"llama-bpe", "in", EncodeOptions{AddSpecial: true}, []int32{bpeEnd, bpeIn}},
		{"gpt-2", "é", EncodeOptions{}, []int32{0xC3, 0xA9}},
		{"gpt-2", "\xff", EncodeOptions{}, []int32{0xEF, 0xBF, 0xBD}}, // U+FFFD, as llama.cpp
		{"gpt-2", "a  b", EncodeOptions{}, []int32{'a', ' ', ' ', 'b'}},
	}
	for _, c := range cases {
		tok := fakeBPE(t, c.pre)
		if got := tok.Encode(c.text, c.o); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q, %+v) = %v, want %v", c.pre, c.text, c.o, got, c.want)
		}
	}
}

// TestAddSpecialDefaults: llama.cpp's add_bos defaults when the key is
// absent (true for SPM and llama-bpe, false for gpt-2), and the key wins.
func TestAddSpecialDefaults(t *testing.T) {
	cases := []struct {
		name    string
		md      fakeMD
		set     map[string]any
		wantBOS bool
		wantEOS bool
	}{
		{"spm default", spmMD(spmWords, spmScores), nil, true, false},
		{"spm add_bos false", spmMD(spmWords, spmScores), map[string]any{kp + "add_bos_token": false}, false, false},
		{"spm add_eos", spmMD(spmWords, spmScores), map[string]any{kp + "add_eos_token": true}, true, true},
		{"gpt-2 default", bpeMD("gpt-2", bpeMerges, nil, nil), nil, false, false},
		{"llama-bpe default", bpeMD("llama-bpe", bpeMerges, nil, nil), map[string]any{kp + "bos_token_id": 0}, true, false},
		{"llama-bpe add_bos false", bpeMD("llama-bpe", bpeMerges, nil, nil), map[string]any{kp + "add_bos_token": false}, false, false},
	}
	for _, c := range cases {
		for k, v := range c.set {
			c.md[k] = v
		}
		tok, err := FromGGUF(c.md)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		info := tok.Summary()
		if info.AddBOS != c.wantBOS || info.AddEOS != c.wantEOS {
			t.Errorf("%s: add_bos %v add_eos %v, want %v %v", c.name, info.AddBOS, info.AddEOS, c.wantBOS, c.wantEOS)
		}
		ids := tok.Encode("a", EncodeOptions{AddSpecial: true})
		if hasBOS := len(ids) > 0 && ids[0] == tok.BOS(); hasBOS != c.wantBOS {
			t.Errorf("%s: Encode gives %v", c.name, ids)
		}
	}
}

func TestEndOfGeneration(t *testing.T) {
	tok := fakeBPE(t, "gpt-2")
	if !tok.IsEOG(bpeEnd) || tok.IsEOG(bpeEot) || tok.IsEOG(-1) || tok.IsEOG(1<<30) {
		t.Errorf("EOG set %v", tok.EOG())
	}
	md := bpeMD("gpt-2", bpeMerges, []string{"<|eot|>", "<|end_of_text|>", "<|user|>", "xyz"}, []int32{3, 3, 4, 1})
	md[kp+"eot_token_id"] = bpeEot
	md[kp+"eos_token_id"] = int('x')
	tok, err := FromGGUF(md)
	if err != nil {
		t.Fatal(err)
	}
	// EOS and EOT by id, <|end_of_text|> by name.
	if want := []int32{'x', bpeEot, bpeEnd}; !slices.Equal(tok.EOG(), want) || tok.EOT() != bpeEot {
		t.Errorf("EOG %v EOT %d, want %v %d", tok.EOG(), tok.EOT(), want, bpeEot)
	}
}

// TestPhi3RStrip: llama.cpp strips the whitespace after Phi-3's special
// tokens (chosen by general.name).
func TestPhi3RStrip(t *testing.T) {
	words := append(slices.Clone(spmWords), "<|end|>")
	scores := append(slices.Clone(spmScores), 0)
	for _, c := range []struct {
		name string
		want []int32
	}{
		{"Phi-3 mini", []int32{spmSpA, spmSpABC + 2, spmSpace, spmB}},
		{"llama", []int32{spmSpA, spmSpABC + 2, spmSpace, spmSpace, spmSpace, spmB}},
	} {
		md := spmMD(words, scores)
		md["general.name"] = c.name
		md[kp+"token_type"].([]int32)[spmSpABC+2] = int32(TypeControl)
		tok, err := FromGGUF(md)
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Encode("a<|end|>  b", EncodeOptions{ParseSpecial: true}); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFromGGUFErrors(t *testing.T) {
	cases := []struct {
		name   string
		md     fakeMD
		change map[string]any
		want   string
	}{
		{"no model", fakeMD{}, nil, "model is missing"},
		{"bert", spmMD(spmWords, spmScores), map[string]any{kp + "model": "bert"}, `"bert" is not supported`},
		{"no tokens", spmMD(spmWords, spmScores), map[string]any{kp + "tokens": 7}, "tokens is missing"},
		{"empty vocabulary", spmMD(spmWords, spmScores), map[string]any{kp + "tokens": []string{}}, "empty"},
		{"duplicate", spmMD([]string{"a", "a"}, []float32{0, 0}), nil, `duplicate token "a"`},
		{"short scores", spmMD(spmWords, spmScores), map[string]any{kp + "scores": []float32{1}}, "1 scores for"},
		{"short types", spmMD(spmWords, spmScores), map[string]any{kp + "token_type": []int32{1}}, "1 token types for"},
		{"no merges", bpeMD("gpt-2", nil, nil, nil), map[string]any{kp + "merges": nil}, "merges is missing"},
		{"unknown pre", bpeMD("tekken", bpeMerges, nil, nil), nil, `pre-tokenizer "tekken"`},
		{"bad merge", bpeMD("gpt-2", nil, nil, nil), map[string]any{kp + "merges": []string{"ab"}}, "no space separator"},
		{"BOS needed", bpeMD("chatglm-bpe", bpeMerges, nil, nil), map[string]any{kp + "add_bos_token": true}, "no BOS token"},
	}
	for _, c := range cases {
		for k, v := range c.change {
			c.md[k] = v
		}
		_, err := FromGGUF(c.md)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestSummaryAndPieces(t *testing.T) {
	tok := fakeSPM(t)
	info := tok.Summary()
	want := Info{Source: "gguf", Kind: KindSPM, Model: "llama", Pre: "default", VocabSize: 269, SpecialTokens: 3,
		BOS: 1, EOS: 2, EOT: -1, EOM: -1, UNK: 0, PAD: -1, EOG: []int32{2}, AddBOS: true, AddSpacePrefix: true, ByteFallback: true}
	if info.String() != want.String() {
		t.Errorf("Summary\n got %s\nwant %s", info, want)
	}
	cases := []struct {
		id                   int32
		piece, render, plain string
		typ                  TokenType
	}{
		{1, "<s>", "<s>", "", TypeControl},
		{0, "<unk>", "<unk>", "", TypeUnknown},
		{spmByte0 + 'A', "<0x41>", "A", "A", TypeByte},
		{spmSpAB, "▁ab", " ab", " ab", TypeNormal},
		{-1, "", "", "", TypeUndefined},
		{99999, "", "", "", TypeUndefined},
	}
	for _, c := range cases {
		if p, r, pl, ty := tok.Piece(c.id), tok.Render(c.id, true), tok.Render(c.id, false), tok.Type(c.id); p != c.piece || r != c.render || pl != c.plain || ty != c.typ {
			t.Errorf("id %d: Piece %q Render %q/%q Type %v, want %q %q/%q %v", c.id, p, r, pl, ty, c.piece, c.render, c.plain, c.typ)
		}
	}
	if got := tok.DecodeWith([]int32{1, spmSpAB, 2}, DecodeOptions{Special: true}); got != "<s> ab</s>" {
		t.Errorf("DecodeWith special: %q", got)
	}
	if got := tok.Decode([]int32{1, spmSpAB, -5, 2}); got != "ab" {
		t.Errorf("Decode: %q", got)
	}
}

package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hfSpec describes a synthetic tokenizer.json: a byte-level vocabulary
// (the 256 byte characters) or a SentencePiece-like one (<unk> <s> </s>,
// the 256 <0xNN> tokens), then words, merge results and added tokens.
type hfSpec struct {
	byteLevel bool
	words     []string
	merges    [][2]string
	model     map[string]any
	added     []map[string]any
	norm      any
	pre       any
	post      any
	decoder   any
	config    map[string]any // tokenizer_config.json
	gen       map[string]any // generation_config.json
}

// json returns tokenizer.json, and the id of every token by text.
func (s hfSpec) json(t testing.TB) ([]byte, map[string]int) {
	vocab := map[string]int{}
	add := func(tok string) {
		if _, ok := vocab[tok]; !ok {
			vocab[tok] = len(vocab)
		}
	}
	if s.byteLevel {
		for b := range 256 {
			add(byteChars[b])
		}
	} else {
		for _, tok := range []string{"<unk>", "<s>", "</s>"} {
			add(tok)
		}
		for b := range 256 {
			add(fmt.Sprintf("<0x%02X>", b))
		}
	}
	for _, w := range s.words {
		add(w)
	}
	for _, m := range s.merges {
		add(m[0] + m[1])
	}
	model := map[string]any{"type": "BPE", "vocab": vocab, "merges": s.merges}
	for k, v := range s.model {
		model[k] = v
	}
	ids := map[string]int{}
	for k, v := range vocab {
		ids[k] = v
	}
	for _, a := range s.added {
		c := a["content"].(string)
		if _, ok := ids[c]; !ok {
			ids[c] = len(ids)
		}
		a["id"] = ids[c]
	}
	doc := map[string]any{"version": "1.0", "added_tokens": s.added, "normalizer": s.norm,
		"pre_tokenizer": s.pre, "post_processor": s.post, "decoder": s.decoder, "model": model}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b, ids
}

// load writes the spec to a directory and loads it with FromHF.
func (s hfSpec) load(t testing.TB) (*Tokenizer, map[string]int) {
	t.Helper()
	dir := t.TempDir()
	data, ids := s.json(t)
	files := map[string]any{"tokenizer_config.json": s.config, "generation_config.json": s.gen}
	for name, v := range files {
		if v == nil {
			continue
		}
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := FromHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tok, ids
}

func added(content string, special bool, extra ...any) map[string]any {
	a := map[string]any{"content": content, "special": special, "normalized": false,
		"lstrip": false, "rstrip": false, "single_word": false}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i].(string)] = extra[i+1]
	}
	return a
}

// llama3Spec is a Llama 3 style tokenizer.json: regex Split, ByteLevel,
// ignore_merges, a BOS template.
func llama3Spec() hfSpec {
	return hfSpec{
		byteLevel: true,
		words:     []string{"Ġhello"},
		merges:    [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}},
		model:     map[string]any{"ignore_merges": true},
		added: []map[string]any{added("<|begin_of_text|>", true), added("<|eot_id|>", true),
			added("<tool>", false, "lstrip", true, "rstrip", true)},
		pre: map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3Regex}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		post: map[string]any{"type": "Sequence", "processors": []any{
			map[string]any{"type": "ByteLevel"},
			map[string]any{"type": "TemplateProcessing",
				"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<|begin_of_text|>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
				"special_tokens": map[string]any{"<|begin_of_text|>": map[string]any{"id": "<|begin_of_text|>", "ids": []int{256 + 4}}}},
		}},
		decoder: map[string]any{"type": "ByteLevel"},
		config:  map[string]any{"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
	}
}

// metaspaceSpec is a Mistral/Llama 2 style tokenizer.json: Metaspace,
// byte fallback, a LlamaTokenizerFast config that also adds EOS.
func metaspaceSpec() hfSpec {
	meta := map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	return hfSpec{
		words:   []string{"▁", "a", "b", "c"},
		merges:  [][2]string{{"▁", "a"}, {"a", "b"}, {"▁a", "b"}},
		model:   map[string]any{"byte_fallback": true, "unk_token": "<unk>", "fuse_unk": true},
		added:   []map[string]any{added("<unk>", true), added("<s>", true), added("</s>", true)},
		pre:     meta,
		decoder: meta,
		post: map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>"}}, map[string]any{"Sequence": map[string]any{"id": "A"}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"ids": []int{1}}}},
		config: map[string]any{"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": true, "add_eos_token": true,
			"bos_token": map[string]any{"content": "<s>"}, "eos_token": "</s>", "unk_token": "<unk>"},
	}
}

func TestHFEncode(t *testing.T) {
	l3, l3ids := llama3Spec().load(t)
	ms, msids := metaspaceSpec().load(t)
	byteOf := func(b byte) int32 { return int32(3 + int(b)) }
	cases := []struct {
		name string
		tok  *Tokenizer
		text string
		o    EncodeOptions
		want []int32
	}{
		{"llama3 merges and BOS", l3, "hello the", EncodeOptions{AddSpecial: true},
			[]int32{int32(l3ids["<|begin_of_text|>"]), int32(l3ids["he"]), 'l', 'l', 'o', int32(l3ids["Ġthe"])}},
		{"llama3 ignore_merges", l3, " hello", EncodeOptions{}, []int32{int32(l3ids["Ġhello"])}},
		{"llama3 special as text", l3, "<|eot_id|>", EncodeOptions{}, []int32{'<', '|', 'e', 'o', 't', '_', 'i', 'd', '|', '>'}},
		{"llama3 special parsed", l3, "<|eot_id|>", EncodeOptions{ParseSpecial: true}, []int32{int32(l3ids["<|eot_id|>"])}},
		{"llama3 lstrip/rstrip", l3, "a <tool> b", EncodeOptions{}, []int32{'a', int32(l3ids["<tool>"]), 'b'}},
		{"metaspace merges", ms, "ab", EncodeOptions{AddSpecial: true}, []int32{1, int32(msids["▁ab"]), 2}},
		{"metaspace spaces", ms, "a b", EncodeOptions{}, []int32{int32(msids["▁a"]), int32(msids["▁"]), int32(msids["b"])}},
		{"byte fallback", ms, "é", EncodeOptions{}, []int32{int32(msids["▁"]), byteOf(0xC3), byteOf(0xA9)}},
		{"prepend only first", ms, "</s>x", EncodeOptions{ParseSpecial: true}, []int32{2, byteOf('x')}},
		{"special not parsed", ms, "</s>", EncodeOptions{}, []int32{int32(msids["▁"]), byteOf('<'), byteOf('/'), byteOf('s'), byteOf('>')}},
	}
	for _, c := range cases {
		if got := c.tok.Encode(c.text, c.o); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q) = %v, want %v", c.name, c.text, got, c.want)
		}
	}
}

func TestHFSpecialsAndDecode(t *testing.T) {
	l3, l3ids := llama3Spec().load(t)
	info := l3.Summary()
	if !info.AddBOS || info.BOS != int32(l3ids["<|begin_of_text|>"]) || info.EOS != int32(l3ids["<|eot_id|>"]) ||
		!l3.IsEOG(int32(l3ids["<|eot_id|>"])) || !info.ByteLevel || !info.IgnoreMerges {
		t.Errorf("llama3 summary:\n%s", info)
	}
	if got := l3.Decode([]int32{int32(l3ids["<|begin_of_text|>"]), int32(l3ids["Ġhello"]), int32(l3ids["Ġthe"])}); got != " hello the" {
		t.Errorf("llama3 Decode = %q", got)
	}
	ms, msids := metaspaceSpec().load(t)
	if got := ms.Decode(ms.Encode("ab a b", EncodeOptions{AddSpecial: true})); got != "ab a b" {
		t.Errorf("metaspace round trip = %q", got)
	}
	if got := ms.DecodeWith([]int32{1, int32(msids["▁ab"])}, DecodeOptions{Special: true}); got != "<s> ab" {
		t.Errorf("metaspace DecodeWith special = %q", got)
	}
	spec := metaspaceSpec()
	spec.model = map[string]any{"unk_token": "<unk>", "fuse_unk": true}
	spec.config = nil
	spec.gen = map[string]any{"bos_token_id": 1, "eos_token_id": []int{2, 0}}
	unk, _ := spec.load(t)
	if got := unk.Encode("éé", EncodeOptions{AddSpecial: true}); !slices.Equal(got, []int32{1, int32(msids["▁"]), 0}) {
		t.Errorf("fused unk: %v", got)
	}
	if !slices.Equal(unk.EOG(), []int32{0, 2}) || unk.EOS() != 2 || unk.BOS() != 1 {
		t.Errorf("generation_config ids: EOG %v EOS %d BOS %d", unk.EOG(), unk.EOS(), unk.BOS())
	}
}

// TestGPT2StyleHF: ByteLevel with its own regex and add_prefix_space,
// "a b" merge strings, no BOS.
func TestGPT2StyleHF(t *testing.T) {
	spec := hfSpec{byteLevel: true, merges: [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}},
		added:   []map[string]any{added("<|endoftext|>", true)},
		pre:     map[string]any{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true},
		post:    map[string]any{"type": "ByteLevel"},
		decoder: map[string]any{"type": "ByteLevel"},
		gen:     map[string]any{"eos_token_id": 259}}
	data, ids := spec.json(t)
	data = []byte(strings.Replace(string(data), `"merges":[["Ġ","t"],["h","e"],["Ġt","he"]]`, `"merges":["Ġ t","h e","Ġt he"]`, 1))
	tok, err := parseHF(data, hfConfig{}, hfGenConfig{EOS: json.RawMessage("259")})
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("the the", EncodeOptions{AddSpecial: true}); !slices.Equal(got, []int32{int32(ids["Ġthe"]), int32(ids["Ġthe"])}) {
		t.Errorf("Encode = %v", got)
	}
	if tok.AddBOS() || !tok.IsEOG(259) || tok.Summary().Merges != 3 {
		t.Errorf("summary:\n%s", tok.Summary())
	}
}

func TestFromHFErrors(t *testing.T) {
	base := func(edit func(m map[string]any)) []byte {
		data, _ := metaspaceSpec().json(t)
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		b, _ := json.Marshal(m)
		return b
	}
	model := func(m map[string]any) map[string]any { return m["model"].(map[string]any) }
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not JSON", []byte("{"), "unexpected end"},
		{"unigram", base(func(m map[string]any) { model(m)["type"] = "Unigram" }), `"Unigram" is not supported`},
		{"NFKC_CF", base(func(m map[string]any) { m["normalizer"] = map[string]any{"type": "NFKC_CF"} }), `normalizer "NFKC_CF" is not supported`},
		{"pre-tokenizer", base(func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Punctuation"} }), `"Punctuation" is not supported`},
		{"bad merges", base(func(m map[string]any) { model(m)["merges"] = []string{"a b c"} }), "two tokens"},
		{"id range", base(func(m map[string]any) { model(m)["vocab"].(map[string]any)["z"] = -4 }), "outside"},
		{"sparse ids", base(func(m map[string]any) { model(m)["vocab"].(map[string]any)["z"] = 1 << 20 }), "sparse"},
		{"unk missing", base(func(m map[string]any) { model(m)["unk_token"] = "<nope>" }), `unk_token "<nope>"`},
		{"template ids", base(func(m map[string]any) {
			m["post_processor"].(map[string]any)["special_tokens"] = map[string]any{}
		}), "has no ids"},
		{"nesting", base(func(m map[string]any) {
			var n any = map[string]any{"type": "Lowercase"}
			for range 20 {
				n = map[string]any{"type": "Sequence", "normalizers": []any{n}}
			}
			m["normalizer"] = n
		}), "nested deeper"},
	}
	for _, c := range cases {
		_, err := parseHF(c.data, hfConfig{}, hfGenConfig{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := FromHF(t.TempDir()); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSplitBehaviors(t *testing.T) {
	s := "a1b22c"
	ms := [][2]int{{1, 2}, {3, 5}}
	cases := []struct {
		behavior string
		invert   bool
		want     []string
	}{
		{"Isolated", false, []string{"a", "1", "b", "22", "c"}},
		{"Removed", false, []string{"a", "b", "c"}},
		{"MergedWithPrevious", false, []string{"a1", "b22", "c"}},
		{"MergedWithNext", false, []string{"a", "1b", "22c"}},
		{"Removed", true, []string{"1", "22"}},
	}
	for _, c := range cases {
		if got := splitPieces(s, ms, c.behavior, c.invert); !slices.Equal(got, c.want) {
			t.Errorf("%s invert=%v: %q, want %q", c.behavior, c.invert, got, c.want)
		}
	}
	if got := splitBefore("▁a▁▁b", "▁"); !slices.Equal(got, []string{"▁a", "▁", "▁b"}) {
		t.Errorf("splitBefore: %q", got)
	}
}

// TestHFComponents runs single normalizers and pre-tokenizers given as
// tokenizer.json fragments.
func TestHFComponents(t *testing.T) {
	norms := []struct {
		json, in, want string
	}{
		{`{"type":"Lowercase"}`, "HeLLo É", "hello é"},
		{`{"type":"Strip","strip_left":true,"strip_right":false}`, "  a  ", "a  "},
		{`{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}`, "a   b  c", "a b c"},
		{`{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}`, "a b", "▁a▁b"},
		{`{"type":"Prepend","prepend":"▁"}`, "", ""},
	}
	for _, c := range norms {
		p := &hfPipeline{}
		if err := p.addNormalizer(json.RawMessage(c.json), 0); err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		if got := p.normalize(c.in); got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.json, c.in, got, c.want)
		}
	}
	pres := []struct {
		json, in string
		want     []string
	}{
		{`{"type":"Digits","individual_digits":true}`, "a123b", []string{"a", "1", "2", "3", "b"}},
		{`{"type":"Digits","individual_digits":false}`, "a123b", []string{"a", "123", "b"}},
		{`{"type":"WhitespaceSplit"}`, " a  b\tc ", []string{"a", "b", "c"}},
		{`{"type":"Whitespace"}`, "hi, you!", []string{"hi", ",", "you", "!"}},
		{`{"type":"Split","pattern":{"String":"-"},"behavior":"Removed","invert":false}`, "a-b--c", []string{"a", "b", "c"}},
		{`{"type":"Split","pattern":{"Regex":"\\d+"},"behavior":"MergedWithPrevious","invert":false}`, "ab12cd3", []string{"ab12", "cd3"}},
		{`{"type":"Split","pattern":{"Regex":"` + strings.ReplaceAll(strings.ReplaceAll(gpt2Regex, `\`, `\\`), `"`, `\"`) + `"},"behavior":"Isolated","invert":false}`,
			"I'm here  now", []string{"I", "'m", " here", " ", " now"}},
		{`{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`, "a b", []string{"▁a", "▁b"}},
		{`{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`, "a b", []string{" a", " b"}},
	}
	for _, c := range pres {
		tok := &Tokenizer{hf: &hfPipeline{}}
		if err := tok.addPreTokenizer(json.RawMessage(c.json), 0); err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		words := []hfWord{{c.in, true}}
		for _, st := range tok.hf.pre {
			words = st(words)
		}
		var got []string
		for _, w := range words {
			got = append(got, w.text)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s(%q) = %q, want %q", c.json, c.in, got, c.want)
		}
	}
}

// TestHFAddedTokenOptions: single_word, Roberta-style post-processing and
// TokenID.
func TestHFAddedTokenOptions(t *testing.T) {
	spec := llama3Spec()
	spec.added = append(spec.added, added("cat", false, "single_word", true))
	spec.post = map[string]any{"type": "RobertaProcessing", "cls": []any{"<|begin_of_text|>", 260}, "sep": []any{"<|eot_id|>", 261}}
	tok, ids := spec.load(t)
	cat := int32(ids["cat"])
	if id, ok := tok.TokenID("cat"); !ok || id != cat {
		t.Fatalf("TokenID(cat) = %d %v", id, ok)
	}
	if got := tok.Encode("a cat", EncodeOptions{AddSpecial: true}); !slices.Equal(got, []int32{260, 'a', ' ', cat, 261}) {
		t.Errorf("single word: %v", got)
	}
	if got := tok.Encode("cats", EncodeOptions{}); slices.Contains(got, cat) {
		t.Errorf("single_word token matched inside a word: %v", got)
	}
}

// TestUnicodeNormalizers: Qwen2's tokenizer.json normalizes to NFC, so a
// decomposed "é" tokenizes like the composed one.
func TestUnicodeNormalizers(t *testing.T) {
	cases := []struct{ typ, in, want string }{
		{"NFC", "e\u0301", "\u00e9"},
		{"NFD", "\u00e9", "e\u0301"},
		{"NFKC", "\ufb01", "fi"},
		{"NFKD", "\u00b2", "2"},
	}
	for _, c := range cases {
		p := &hfPipeline{}
		if err := p.addNormalizer(json.RawMessage(`{"type":"`+c.typ+`"}`), 0); err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		got := c.in
		for _, step := range p.norm {
			got = step(got)
		}
		if got != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.typ, c.in, got, c.want)
		}
	}
}

package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hfFile is the part of tokenizer.json this package reads.
type hfFile struct {
	AddedTokens   []hfAdded       `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         hfModel         `json:"model"`
}

type hfAdded struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfModel struct {
	Type          string           `json:"type"`
	Vocab         map[string]int64 `json:"vocab"`
	Merges        json.RawMessage  `json:"merges"`
	UnkToken      *string          `json:"unk_token"`
	ByteFallback  bool             `json:"byte_fallback"`
	FuseUnk       bool             `json:"fuse_unk"`
	IgnoreMerges  bool             `json:"ignore_merges"`
	ContinuingPfx *string          `json:"continuing_subword_prefix"`
	EndOfWordSfx  *string          `json:"end_of_word_suffix"`
}

// hfConfig holds tokenizer_config.json, special_tokens_map.json and
// generation_config.json fields that choose special tokens.
type hfConfig struct {
	TokenizerClass string      `json:"tokenizer_class"`
	AddBOS         *bool       `json:"add_bos_token"`
	AddEOS         *bool       `json:"add_eos_token"`
	BOS            hfTokenName `json:"bos_token"`
	EOS            hfTokenName `json:"eos_token"`
	UNK            hfTokenName `json:"unk_token"`
	PAD            hfTokenName `json:"pad_token"`
}

// hfTokenName is a token given as a string or as {"content": ...}.
type hfTokenName string

func (n *hfTokenName) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil // keep what special_tokens_map.json said
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*n = hfTokenName(s)
		return nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("token name is neither a string nor {\"content\": ...}")
	}
	*n = hfTokenName(obj.Content)
	return nil
}

type hfGenConfig struct {
	BOS json.RawMessage `json:"bos_token_id"`
	EOS json.RawMessage `json:"eos_token_id"`
}

// maxJSON bounds the configuration files read; the largest real
// tokenizer.json files are around 20 MB.
const maxJSON = 256 << 20

// FromHF loads dir/tokenizer.json, with special-token settings from
// tokenizer_config.json, special_tokens_map.json and generation_config.json
// when present.
func FromHF(dir string) (*Tokenizer, error) {
	data, err := readLimited(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var cfg hfConfig
	var gen hfGenConfig
	for _, f := range []struct {
		name string
		dst  any
	}{{"special_tokens_map.json", &cfg}, {"tokenizer_config.json", &cfg}, {"generation_config.json", &gen}} {
		b, err := readLimited(filepath.Join(dir, f.name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err == nil {
			err = json.Unmarshal(b, f.dst)
		}
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: %w", f.name, err)
		}
	}
	return parseHF(data, cfg, gen)
}

func readLimited(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxJSON {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d accepted", path, st.Size(), maxJSON)
	}
	return os.ReadFile(path)
}

// parseHF builds a tokenizer from tokenizer.json bytes and the settings of
// the side files.
func parseHF(data []byte, cfg hfConfig, gen hfGenConfig) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	t := &Tokenizer{source: "hf", kind: KindBPE, bos: none, eos: none, eot: none, eom: none, unk: none, pad: none}
	steps := []func() error{
		func() error { return t.hfVocab(&f) },
		func() error { return t.hfPipelineFrom(&f) },
		func() error { return t.hfSpecials(&f, cfg, gen) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
		}
	}
	return t, nil
}

// hfVocab builds the token table from model.vocab and added_tokens.
func (t *Tokenizer) hfVocab(f *hfFile) error {
	m := &f.Model
	if m.Type != "BPE" && m.Type != "" {
		return fmt.Errorf("model type %q is not supported (only BPE)", m.Type)
	}
	if m.ContinuingPfx != nil && *m.ContinuingPfx != "" || m.EndOfWordSfx != nil && *m.EndOfWordSfx != "" {
		return errors.New("BPE continuing_subword_prefix/end_of_word_suffix are not supported")
	}
	n := int64(0)
	note := func(id int64, what string) error {
		if id < 0 || id >= maxVocab {
			return fmt.Errorf("%s has id %d, outside [0, %d)", what, id, maxVocab)
		}
		n = max(n, id+1)
		return nil
	}
	for s, id := range m.Vocab {
		if err := note(id, fmt.Sprintf("token %q", s)); err != nil {
			return err
		}
	}
	for _, a := range f.AddedTokens {
		if err := note(a.ID, fmt.Sprintf("added token %q", a.Content)); err != nil {
			return err
		}
	}
	if count := int64(len(m.Vocab) + len(f.AddedTokens)); n > 2*count+1024 {
		return fmt.Errorf("ids are sparse: the largest is %d for %d tokens", n-1, count)
	}
	texts := make([]string, n)
	for s, id := range m.Vocab {
		texts[id] = s
	}
	for _, a := range f.AddedTokens {
		if texts[a.ID] != "" && texts[a.ID] != a.Content {
			return fmt.Errorf("added token %q has id %d, which the vocabulary gives to %q", a.Content, a.ID, texts[a.ID])
		}
		texts[a.ID] = a.Content
	}
	holes := make([]bool, n)
	for i, s := range texts {
		holes[i] = s == ""
	}
	v, err := newVocab(texts, nil, nil)
	if err != nil {
		return err
	}
	t.vocab = v
	for i, hole := range holes {
		if hole {
			delete(t.ids, t.texts[i])
			t.attrs[i] = attrUnused
		}
	}
	return t.hfModelOptions(f)
}

// hfModelOptions reads the BPE options and merges.
func (t *Tokenizer) hfModelOptions(f *hfFile) error {
	m := &f.Model
	t.findBytes()
	t.bpe.byteFallback, t.bpe.fuseUnk, t.bpe.ignoreMerges = m.ByteFallback, m.FuseUnk, m.IgnoreMerges
	t.bpe.unk = none
	if m.UnkToken != nil {
		t.bpe.unk = t.lookup(*m.UnkToken)
		if t.bpe.unk == none {
			return fmt.Errorf("unk_token %q is not in the vocabulary", *m.UnkToken)
		}
		t.unk = t.bpe.unk
	}
	if m.ByteFallback {
		for _, id := range t.byteTok {
			if id != none {
				t.attrs[id] = attrByte
			}
		}
	}
	for _, a := range f.AddedTokens {
		at := attrUserDefined
		if a.Special {
			at = attrControl
		}
		if a.LStrip {
			at |= attrLStrip
		}
		if a.RStrip {
			at |= attrRStrip
		}
		if a.SingleWord {
			at |= attrSingleWord
		}
		t.attrs[a.ID] = at
	}
	rules, err := hfMerges(m.Merges)
	if err != nil {
		return err
	}
	t.bpe.merges = make(map[uint64]mergeRule, len(rules))
	for rank, r := range rules {
		t.addMerge(r[0], r[1], rank)
	}
	t.bpe.nMerges = len(t.bpe.merges)
	return nil
}

// hfMerges accepts both merge encodings: "a b" strings and ["a", "b"] pairs.
func hfMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		return pairs, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return nil, errors.New("merges are neither \"a b\" strings nor [a, b] pairs")
	}
	pairs = make([][2]string, len(lines))
	for i, l := range lines {
		a, b, ok := strings.Cut(l, " ")
		if !ok || strings.Contains(b, " ") {
			return nil, fmt.Errorf("merge %d %q is not two tokens separated by one space", i, l)
		}
		pairs[i] = [2]string{a, b}
	}
	return pairs, nil
}

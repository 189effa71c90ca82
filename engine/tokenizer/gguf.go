package tokenizer

import (
	"errors"
	"fmt"
	"strings"
)

const kp = "tokenizer.ggml."

// FromGGUF builds the tokenizer described by a GGUF file's tokenizer.ggml.*
// metadata, with llama.cpp's defaults for absent keys.
func FromGGUF(md Metadata) (*Tokenizer, error) {
	model, ok := md.String(kp + "model")
	if !ok {
		return nil, errors.New("tokenizer: " + kp + "model is missing")
	}
	t := &Tokenizer{source: "gguf", eot: none, eom: none, pad: none}
	switch model {
	case "llama":
		t.kind = KindSPM
		t.bos, t.eos, t.unk = 1, 2, 0
		t.addSpacePrefix, t.addBOS = true, true
	case "gpt2":
		t.kind = KindBPE
		t.bos, t.eos, t.unk = 11, 11, none
	default:
		return nil, fmt.Errorf("tokenizer: model %q is not supported (only \"llama\" and \"gpt2\")", model)
	}
	if err := t.loadVocab(md); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if t.kind == KindBPE {
		if err := t.loadBPE(md); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	} else {
		t.pre = "default"
		if p, ok := md.String(kp + "pre"); ok {
			t.pre = p
		}
	}
	if b, ok := md.Bool(kp + "add_space_prefix"); ok {
		t.addSpacePrefix = b
	}
	t.stripSpace = t.addSpacePrefix
	t.loadSpecialIDs(md)
	if b, ok := md.Bool(kp + "add_bos_token"); ok {
		t.addBOS = b
	}
	if b, ok := md.Bool(kp + "add_eos_token"); ok {
		t.addEOS = b
	}
	if err := t.finish(); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t.applyModelRules(md)
	return t, nil
}

func (t *Tokenizer) loadVocab(md Metadata) error {
	texts, ok := md.Strings(kp + "tokens")
	if !ok {
		return errors.New(kp + "tokens is missing or not a string array")
	}
	scores, ok := md.Float32s(kp + "scores")
	if !ok {
		if is, ok := md.Int32s(kp + "scores"); ok {
			scores = make([]float32, len(is))
			for i, s := range is {
				scores[i] = float32(s)
			}
		}
	}
	types, _ := md.Int32s(kp + "token_type")
	v, err := newVocab(texts, scores, types)
	if err != nil {
		return err
	}
	t.vocab = v
	t.findBytes()
	return nil
}

func (t *Tokenizer) loadBPE(md Metadata) error {
	pre, ok := md.String(kp + "pre")
	if !ok {
		pre = "default"
	}
	spec, ok := lookupPre(pre)
	if !ok {
		return fmt.Errorf("pre-tokenizer %q (%spre) is not supported", pre, kp)
	}
	t.pre = pre
	t.split = spec.split()
	t.bpe.ignoreMerges = spec.ignoreMerges
	t.addBOS = spec.addBOS
	if spec.noBOS {
		t.bos = none
	}
	merges, ok := md.Strings(kp + "merges")
	if !ok {
		return errors.New(kp + "merges is missing or not a string array")
	}
	t.bpe.byteLevel = true
	t.style = styleByteLevel
	t.bpe.unk = none
	for b := range 256 {
		t.bpe.charTok[b] = t.lookup(byteChars[b])
	}
	return t.addMerges(merges)
}

// specialKeys are the GGUF keys of special token ids and where they go.
func (t *Tokenizer) specialKeys(fim *[6]int32) []struct {
	key string
	dst *int32
} {
	return []struct {
		key string
		dst *int32
	}{
		{"bos_token_id", &t.bos}, {"eos_token_id", &t.eos}, {"eot_token_id", &t.eot},
		{"eom_token_id", &t.eom}, {"unknown_token_id", &t.unk}, {"padding_token_id", &t.pad},
		{"fim_pre_token_id", &fim[0]}, {"fim_suf_token_id", &fim[1]}, {"fim_mid_token_id", &fim[2]},
		{"fim_pad_token_id", &fim[3]}, {"fim_rep_token_id", &fim[4]}, {"fim_sep_token_id", &fim[5]},
		{"prefix_token_id", &fim[0]}, {"suffix_token_id", &fim[1]}, {"middle_token_id", &fim[2]},
	}
}

// loadSpecialIDs reads special ids; an id outside the vocabulary is ignored
// (llama.cpp keeps its default, and drops a default that is out of range).
func (t *Tokenizer) loadSpecialIDs(md Metadata) {
	fim := [6]int32{none, none, none, none, none, none}
	n := uint64(len(t.texts))
	for _, k := range t.specialKeys(&fim) {
		if *k.dst >= 0 && uint64(*k.dst) >= n {
			*k.dst = none
		}
		if id, ok := md.Uint(kp + k.key); ok && id < n {
			*k.dst = int32(id)
		}
	}
	t.detectByName(&fim)
	t.eog = t.endOfGeneration(fim[3], fim[4], fim[5], t.eos, t.eot, t.eom)
}

// Token names llama.cpp recognizes when the metadata names no id.
var (
	fimPreNames = []string{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>"}
	fimSufNames = []string{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>"}
	fimMidNames = []string{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>"}
	fimPadNames = []string{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"}
	fimRepNames = []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}
	fimSepNames = []string{"<|file_sep|>"}
	eomNames    = []string{"<|eom_id|>"}
)

// detectByName fills ids found by token text and makes them control tokens.
func (t *Tokenizer) detectByName(fim *[6]int32) {
	rules := []struct {
		dst   *int32
		names []string
	}{
		{&t.eot, eotNames}, {&t.eom, eomNames},
		{&fim[0], fimPreNames}, {&fim[1], fimSufNames}, {&fim[2], fimMidNames},
		{&fim[3], fimPadNames}, {&fim[4], fimRepNames}, {&fim[5], fimSepNames},
	}
	for _, r := range rules {
		if *r.dst == none {
			*r.dst = t.firstOf(r.names)
			t.markControl(*r.dst)
		}
	}
	t.markUnused()
}

// finish builds what encoding and decoding need once ids and flags are set.
func (t *Tokenizer) finish() error {
	if t.addBOS && t.bos == none {
		return errors.New("add_bos_token is true but there is no BOS token")
	}
	if t.addEOS && t.eos == none {
		return errors.New("add_eos_token is true but there is no EOS token")
	}
	t.prefix, t.suffix = nil, nil
	if t.addBOS {
		t.prefix = []int32{t.bos}
	}
	if t.addEOS {
		t.suffix = []int32{t.eos}
	}
	t.buildSpecials()
	t.buildPieces(t.style)
	t.spmSplit = t.kind == KindSPM && t.spmSplittable()
	return nil
}

// applyModelRules sets llama.cpp's per-model token attributes: Phi-3 strips
// whitespace after its special tokens.
func (t *Tokenizer) applyModelRules(md Metadata) {
	name, _ := md.String("general.name")
	name = strings.ToLower(name)
	if !strings.Contains(name, "phi-3") && !strings.Contains(name, "phi3") {
		return
	}
	for _, id := range t.specials {
		t.attrs[id] |= attrRStrip
	}
	if id := t.lookup("</s>"); id != none {
		t.attrs[id] |= attrRStrip
	}
	for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
		if id := t.lookup(s); id != none {
			t.attrs[id] &^= attrRStrip
		}
	}
}

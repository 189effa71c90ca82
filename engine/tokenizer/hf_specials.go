package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
)

// llamaClasses rebuild their post-processor from add_bos_token and
// add_eos_token (transformers' LlamaTokenizerFast.update_post_processor),
// so for them tokenizer_config.json overrides tokenizer.json.
var llamaClasses = []string{
	"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
	"GemmaTokenizer", "GemmaTokenizerFast",
}

// hfSpecials sets BOS/EOS, the tokens AddSpecial adds and the EOG set.
func (t *Tokenizer) hfSpecials(f *hfFile, cfg hfConfig, gen hfGenConfig) error {
	name := func(n hfTokenName) int32 {
		if n == "" {
			return none
		}
		return t.lookup(string(n))
	}
	t.bos, t.eos, t.pad = name(cfg.BOS), name(cfg.EOS), name(cfg.PAD)
	if u := name(cfg.UNK); t.unk == none {
		t.unk = u
	}
	genBOS, err := t.genIDs(gen.BOS, "bos_token_id")
	if err != nil {
		return err
	}
	genEOS, err := t.genIDs(gen.EOS, "eos_token_id")
	if err != nil {
		return err
	}
	if t.bos == none && len(genBOS) > 0 {
		t.bos = genBOS[0]
	}
	if t.eos == none && len(genEOS) > 0 {
		t.eos = genEOS[0]
	}
	if err := t.hfAddSpecial(f.PostProcessor, cfg); err != nil {
		return fmt.Errorf("post_processor: %w", err)
	}
	fim := [6]int32{none, none, none, none, none, none}
	t.detectByName(&fim)
	t.eog = t.endOfGeneration(append(genEOS, fim[3], fim[4], fim[5], t.eos, t.eot, t.eom)...)
	t.buildSpecials()
	t.buildPieces(t.style)
	return nil
}

// genIDs reads generation_config.json's id or list of ids.
func (t *Tokenizer) genIDs(raw json.RawMessage, key string) ([]int32, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var ids []int64
	var one int64
	if err := json.Unmarshal(raw, &one); err == nil {
		ids = []int64{one}
	} else if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, fmt.Errorf("generation_config.json %s is neither an id nor a list of ids", key)
	}
	var out []int32
	for _, id := range ids {
		if id >= 0 && id < int64(len(t.texts)) {
			out = append(out, int32(id))
		}
	}
	return out, nil
}

// hfAddSpecial decides the prefix and suffix of AddSpecial.
func (t *Tokenizer) hfAddSpecial(raw json.RawMessage, cfg hfConfig) error {
	prefix, suffix, found, err := t.hfTemplate(raw, 0)
	if err != nil {
		return err
	}
	flags := cfg.AddBOS != nil || cfg.AddEOS != nil
	if flags && (!found || slices.Contains(llamaClasses, cfg.TokenizerClass)) {
		prefix, suffix = nil, nil
		if cfg.AddBOS != nil && *cfg.AddBOS && t.bos != none {
			prefix = []int32{t.bos}
		}
		if cfg.AddEOS != nil && *cfg.AddEOS && t.eos != none {
			suffix = []int32{t.eos}
		}
	}
	t.prefix, t.suffix = prefix, suffix
	t.addBOS = t.bos != none && slices.Contains(prefix, t.bos)
	t.addEOS = t.eos != none && slices.Contains(suffix, t.eos)
	return nil
}

// hfTemplate reads the single-sequence template of a post-processor.
func (t *Tokenizer) hfTemplate(raw json.RawMessage, depth int) (prefix, suffix []int32, found bool, err error) {
	c, ok, err := hfParse(raw, depth)
	if !ok || err != nil {
		return nil, nil, false, err
	}
	switch c.Type {
	case "Sequence":
		for _, p := range c.Processors {
			pre, suf, ok, err := t.hfTemplate(p, depth+1)
			if err != nil {
				return nil, nil, false, err
			}
			if ok {
				prefix, suffix, found = pre, suf, true
			}
		}
		return prefix, suffix, found, nil
	case "ByteLevel":
		return nil, nil, false, nil
	case "TemplateProcessing":
		return t.templateIDs(c)
	case "RobertaProcessing", "BertProcessing":
		cls, err := t.pairID(c.Cls)
		if err != nil {
			return nil, nil, false, err
		}
		sep, err := t.pairID(c.Sep)
		return []int32{cls}, []int32{sep}, true, err
	}
	return nil, nil, false, fmt.Errorf("post-processor %q is not supported", c.Type)
}

func (t *Tokenizer) templateIDs(c hfComponent) (prefix, suffix []int32, found bool, err error) {
	seen := false
	for _, item := range c.Single {
		switch {
		case item.Sequence != nil:
			seen = true
		case item.SpecialToken != nil:
			toks, ok := c.SpecialTokens[item.SpecialToken.ID]
			if !ok {
				return nil, nil, false, fmt.Errorf("template token %q has no ids", item.SpecialToken.ID)
			}
			for _, id := range toks.IDs {
				if id < 0 || id >= int64(len(t.texts)) {
					return nil, nil, false, fmt.Errorf("template token %q has id %d outside the vocabulary", item.SpecialToken.ID, id)
				}
				if seen {
					suffix = append(suffix, int32(id))
				} else {
					prefix = append(prefix, int32(id))
				}
			}
		}
	}
	return prefix, suffix, true, nil
}

// pairID reads a ["token", id] pair of Roberta/Bert processors.
func (t *Tokenizer) pairID(pair []json.RawMessage) (int32, error) {
	var id int64
	if len(pair) != 2 || json.Unmarshal(pair[1], &id) != nil || id < 0 || id >= int64(len(t.texts)) {
		return none, fmt.Errorf("cls/sep must be [token, id] with an id in the vocabulary")
	}
	return int32(id), nil
}

package tokenizer

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// vocab is the token table shared by every algorithm.
type vocab struct {
	texts  []string // id -> raw token text
	scores []float32
	attrs  []attr
	ids    map[string]int32 // raw token text -> id

	// pieces[id] is the token rendered as bytes (llama.cpp's token_to_piece
	// with special=true): "▁" unescaped, byte tokens as their byte,
	// byte-level text mapped back to bytes.
	pieces []string

	// specials are the control, user-defined and unknown tokens in the order
	// llama.cpp partitions input by them: longest text first, then by id.
	specials []int32

	// byteTok[b] is the <0xNN> token of byte b, or -1.
	byteTok [256]int32
}

// maxVocab bounds the vocabulary a file may declare; real ones stay under
// 300k, and ids must fit in int32.
const maxVocab = 1 << 24

// newVocab builds the table. scores and types may be nil or longer than
// texts (llama.cpp tolerates longer arrays), never shorter.
func newVocab(texts []string, scores []float32, types []int32) (vocab, error) {
	n := len(texts)
	if n == 0 {
		return vocab{}, fmt.Errorf("vocabulary is empty")
	}
	if n > maxVocab {
		return vocab{}, fmt.Errorf("vocabulary has %d tokens, more than the %d supported", n, maxVocab)
	}
	if scores != nil && len(scores) < n {
		return vocab{}, fmt.Errorf("%d scores for %d tokens", len(scores), n)
	}
	if types != nil && len(types) < n {
		return vocab{}, fmt.Errorf("%d token types for %d tokens", len(types), n)
	}
	v := vocab{
		texts:  make([]string, n),
		scores: make([]float32, n),
		attrs:  make([]attr, n),
		ids:    make(map[string]int32, n),
	}
	for i, s := range texts {
		if s == "" {
			// llama.cpp renames empty tokens so that they stay unmatchable.
			s = "[EMPTY_" + strconv.Itoa(i) + "]"
		}
		if j, dup := v.ids[s]; dup {
			return vocab{}, fmt.Errorf("duplicate token %q has ids %d and %d", s, j, i)
		}
		v.ids[s] = int32(i)
		v.texts[i] = s
		if scores != nil {
			v.scores[i] = scores[i]
		}
		v.attrs[i] = attrNormal
		if types != nil {
			v.attrs[i] = attrOf(TokenType(types[i]))
		}
	}
	return v, nil
}

// findBytes fills byteTok from <0xNN> tokens.
func (v *vocab) findBytes() {
	for b := range 256 {
		v.byteTok[b] = v.lookup(fmt.Sprintf("<0x%02X>", b))
	}
}

func (v *vocab) lookup(s string) int32 {
	if id, ok := v.ids[s]; ok {
		return id
	}
	return none
}

// buildSpecials collects the tokens input is partitioned by.
func (v *vocab) buildSpecials() {
	v.specials = v.specials[:0]
	for id, a := range v.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			v.specials = append(v.specials, int32(id))
		}
	}
	slices.SortStableFunc(v.specials, func(a, b int32) int {
		return cmp.Compare(len(v.texts[b]), len(v.texts[a]))
	})
}

// eogNames are token texts llama.cpp treats as end of generation whatever
// their metadata says (it has no per-token EOG flag in GGUF).
var eogNames = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
	"<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>",
	"<|end_of_text|>", "<end_of_utterance>", "<｜end▁of▁sentence｜>",
}

// eotNames identify the end-of-turn token when the metadata names none.
var eotNames = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
	"<|end_of_text|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
}

// firstOf returns the first of the named tokens the vocabulary has.
// llama.cpp takes whichever its hash map yields first; list order makes
// the choice deterministic and prefers the turn tokens (<|eot_id|> over
// Llama 3's <|end_of_text|>).
func (v *vocab) firstOf(names []string) int32 {
	for _, s := range names {
		if id := v.lookup(s); id != none {
			return id
		}
	}
	return none
}

// markControl makes id a control token; llama.cpp overrides the type of
// end-of-generation tokens that the converter left as normal.
func (v *vocab) markControl(id int32) {
	if id != none {
		v.attrs[id] |= attrControl
	}
}

// endOfGeneration computes the EOG set from explicit ids and token names.
func (v *vocab) endOfGeneration(explicit ...int32) []int32 {
	var eog []int32
	add := func(id int32) {
		if id >= 0 && int(id) < len(v.texts) && !slices.Contains(eog, id) {
			eog = append(eog, id)
		}
	}
	for _, id := range explicit {
		add(id)
	}
	for _, s := range eogNames {
		if id := v.lookup(s); id != none {
			add(id)
			v.markControl(id)
		}
	}
	// gpt-oss style vocabularies end turns with <|return|>/<|call|>;
	// there <|end|> only closes a message.
	if v.lookup("<|return|>") != none && v.lookup("<|call|>") != none {
		if end := v.lookup("<|end|>"); end != none {
			eog = slices.DeleteFunc(eog, func(id int32) bool { return id == end })
		}
	}
	slices.Sort(eog)
	return eog
}

// markUnused flags control tokens whose text says "unused".
func (v *vocab) markUnused() {
	for id, a := range v.attrs {
		if a&attrControl != 0 && strings.Contains(v.texts[id], "unused") {
			v.attrs[id] |= attrUnused
		}
	}
}

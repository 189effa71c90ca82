package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// parseIDs decodes a token id field that Hugging Face writes as an int, a
// list of ints (Llama 3.1's several EOS ids) or null.
func parseIDs(field string, v json.RawMessage) ([]int, error) {
	v = bytes.TrimSpace(v)
	if isNull(v) {
		return nil, nil
	}
	if v[0] == '[' {
		var ids []int
		if err := json.Unmarshal(v, &ids); err != nil {
			return nil, fmt.Errorf("%s: want a token id or a list of them", field)
		}
		return ids, nil
	}
	var id int
	if err := json.Unmarshal(v, &id); err != nil {
		return nil, fmt.Errorf("%s: want a token id or a list of them", field)
	}
	return []int{id}, nil
}

// tokenIDs are the id fields config.json and generation_config.json share.
type tokenIDs struct {
	BOS json.RawMessage `json:"bos_token_id"`
	EOS json.RawMessage `json:"eos_token_id"`
	Pad json.RawMessage `json:"pad_token_id"`
}

func (r *tokenIDs) parse() (bos, eos, pad []int, err error) {
	if bos, err = parseIDs("bos_token_id", r.BOS); err != nil {
		return
	}
	if eos, err = parseIDs("eos_token_id", r.EOS); err != nil {
		return
	}
	pad, err = parseIDs("pad_token_id", r.Pad)
	return
}

// GenerationConfig holds the generation_config.json fields Spillway uses.
// Nil pointers mean "not set" (the server's defaults apply).
type GenerationConfig struct {
	BOSTokenIDs       []int
	EOSTokenIDs       []int
	PadTokenIDs       []int
	DoSample          *bool
	Temperature       *float64
	TopP              *float64
	TopK              *int
	RepetitionPenalty *float64
	MaxLength         *int
	MaxNewTokens      *int
}

type rawGeneration struct {
	tokenIDs
	DoSample          *bool    `json:"do_sample"`
	Temperature       *float64 `json:"temperature"`
	TopP              *float64 `json:"top_p"`
	TopK              *int     `json:"top_k"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	MaxLength         *int     `json:"max_length"`
	MaxNewTokens      *int     `json:"max_new_tokens"`
}

// ParseGenerationConfig decodes generation_config.json. BOS and EOS ids
// must be non-negative; pad ids are passed through unchecked (old configs
// write -1 for "none" and nothing here uses them), as are sampling values,
// which the API judges.
func ParseGenerationConfig(data []byte) (*GenerationConfig, error) {
	var r rawGeneration
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonErr(err)
	}
	g := &GenerationConfig{
		DoSample: r.DoSample, Temperature: r.Temperature, TopP: r.TopP, TopK: r.TopK,
		RepetitionPenalty: r.RepetitionPenalty, MaxLength: r.MaxLength, MaxNewTokens: r.MaxNewTokens,
	}
	var err error
	if g.BOSTokenIDs, g.EOSTokenIDs, g.PadTokenIDs, err = r.parse(); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		ids  []int
	}{{"bos_token_id", g.BOSTokenIDs}, {"eos_token_id", g.EOSTokenIDs}} {
		if err := checkIDs(f.name, f.ids, 0); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// checkIDs rejects negative ids and, when vocab > 0, ids outside the
// vocabulary (an out-of-range BOS would index past the embedding table).
func checkIDs(field string, ids []int, vocab int) error {
	for _, id := range ids {
		if id < 0 || (vocab > 0 && id >= vocab) {
			if vocab > 0 {
				return fmt.Errorf("%s: token id %d outside the vocabulary [0, %d)", field, id, vocab)
			}
			return fmt.Errorf("%s: token id %d is negative", field, id)
		}
	}
	return nil
}

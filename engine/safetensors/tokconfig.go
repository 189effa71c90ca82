package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// TokenizerConfig holds the tokenizer_config.json fields the tokenizer
// and chat packages need.
type TokenizerConfig struct {
	ChatTemplate  string            // the default template; "" when none
	ChatTemplates map[string]string // named templates, when the file holds a list
	BOSToken      string            // "" when absent or null
	EOSToken      string
	PadToken      string
	UnkToken      string
	AddBOS        *bool // nil: not stated (the tokenizer's own default applies)
	AddEOS        *bool
	// TokenizerClass is e.g. "LlamaTokenizer" or "PreTrainedTokenizerFast".
	TokenizerClass string
	AddedTokens    map[int]AddedToken // added_tokens_decoder by id
}

// AddedToken is one entry of added_tokens_decoder.
type AddedToken struct {
	Content string
	Special bool
}

type rawTokenizerConfig struct {
	ChatTemplate   json.RawMessage            `json:"chat_template"`
	BOSToken       json.RawMessage            `json:"bos_token"`
	EOSToken       json.RawMessage            `json:"eos_token"`
	PadToken       json.RawMessage            `json:"pad_token"`
	UnkToken       json.RawMessage            `json:"unk_token"`
	AddBOS         *bool                      `json:"add_bos_token"`
	AddEOS         *bool                      `json:"add_eos_token"`
	TokenizerClass string                     `json:"tokenizer_class"`
	AddedTokens    map[string]json.RawMessage `json:"added_tokens_decoder"`
}

// chatTemplateFile is where newer transformers save the template instead
// of inside tokenizer_config.json.
const chatTemplateFile = "chat_template.jinja"

// ReadTokenizerConfig reads dir/tokenizer_config.json (a missing file gives
// the zero value and no error). Without a template there, it takes
// dir/chat_template.jinja if present.
func ReadTokenizerConfig(dir string) (*TokenizerConfig, error) {
	path := filepath.Join(dir, "tokenizer_config.json")
	tc := &TokenizerConfig{}
	data, err := readSmallFile(path)
	switch {
	case err == nil:
		if tc, err = ParseTokenizerConfig(data); err != nil {
			return nil, fmt.Errorf("safetensors: %s: %v", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if tc.ChatTemplate == "" && len(tc.ChatTemplates) == 0 {
		tmpl, err := readSmallFile(filepath.Join(dir, chatTemplateFile))
		switch {
		case err == nil:
			tc.ChatTemplate = string(tmpl)
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("safetensors: %w", err)
		}
	}
	return tc, nil
}

// ParseTokenizerConfig decodes tokenizer_config.json.
func ParseTokenizerConfig(data []byte) (*TokenizerConfig, error) {
	var r rawTokenizerConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonErr(err)
	}
	tc := &TokenizerConfig{AddBOS: r.AddBOS, AddEOS: r.AddEOS, TokenizerClass: r.TokenizerClass}
	var err error
	if tc.ChatTemplate, tc.ChatTemplates, err = parseChatTemplate(r.ChatTemplate); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{
		{"bos_token", r.BOSToken, &tc.BOSToken}, {"eos_token", r.EOSToken, &tc.EOSToken},
		{"pad_token", r.PadToken, &tc.PadToken}, {"unk_token", r.UnkToken, &tc.UnkToken},
	} {
		if *f.dst, err = parseSpecialToken(f.raw); err != nil {
			return nil, fmt.Errorf("%s: %v", f.name, err)
		}
	}
	if tc.AddedTokens, err = parseAddedTokens(r.AddedTokens); err != nil {
		return nil, err
	}
	return tc, nil
}

// parseChatTemplate accepts a string or a list of {name, template}; from a
// list the "default" entry is the template, as in transformers.
func parseChatTemplate(v json.RawMessage) (string, map[string]string, error) {
	if isNull(v) {
		return "", nil, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil, nil
	}
	var list []struct {
		Name     *string `json:"name"`
		Template *string `json:"template"`
	}
	if err := json.Unmarshal(v, &list); err != nil {
		return "", nil, errors.New("chat_template: want a string or a list of {name, template}")
	}
	named := make(map[string]string, len(list))
	for i, e := range list {
		if e.Name == nil || e.Template == nil {
			return "", nil, fmt.Errorf("chat_template[%d]: needs name and template", i)
		}
		if _, dup := named[*e.Name]; dup {
			return "", nil, fmt.Errorf("chat_template[%d]: duplicate name %q", i, *e.Name)
		}
		named[*e.Name] = *e.Template
	}
	return named["default"], named, nil
}

// parseSpecialToken accepts a string, null, or an AddedToken object
// {"content": ...}.
func parseSpecialToken(v json.RawMessage) (string, error) {
	if isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(v, &obj); err != nil || obj.Content == nil {
		return "", errors.New(`want a string or an object with "content"`)
	}
	return *obj.Content, nil
}

func parseAddedTokens(raw map[string]json.RawMessage) (map[int]AddedToken, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[int]AddedToken, len(raw))
	for k, v := range raw {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("added_tokens_decoder: key %q is not a token id", k)
		}
		var e struct {
			Content *string `json:"content"`
			Special bool    `json:"special"`
		}
		if err := json.Unmarshal(v, &e); err != nil || e.Content == nil {
			return nil, fmt.Errorf(`added_tokens_decoder[%s]: want an object with "content"`, k)
		}
		out[id] = AddedToken{Content: *e.Content, Special: e.Special}
	}
	return out, nil
}

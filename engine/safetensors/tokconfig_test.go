package safetensors

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTokenizerConfig(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name string
		json string
		want TokenizerConfig
	}{
		{"empty", `{}`, TokenizerConfig{}},
		{"strings", `{"bos_token":"<s>","eos_token":"</s>","add_bos_token":true,"add_eos_token":false,"chat_template":"{{ x }}",` +
			`"tokenizer_class":"LlamaTokenizer","model_max_length":1000000000000000019884624838656}`,
			TokenizerConfig{ChatTemplate: "{{ x }}", BOSToken: "<s>", EOSToken: "</s>", AddBOS: &yes, AddEOS: &no, TokenizerClass: "LlamaTokenizer"}},
		{"added-token objects and nulls", `{"bos_token":{"__type":"AddedToken","content":"<|begin|>","lstrip":false},` +
			`"eos_token":null,"pad_token":{"content":"<pad>"},"unk_token":"<unk>"}`,
			TokenizerConfig{BOSToken: "<|begin|>", PadToken: "<pad>", UnkToken: "<unk>"}},
		{"template list", `{"chat_template":[{"name":"default","template":"D"},{"name":"tool_use","template":"T"}]}`,
			TokenizerConfig{ChatTemplate: "D", ChatTemplates: map[string]string{"default": "D", "tool_use": "T"}}},
		{"template list without default", `{"chat_template":[{"name":"rag","template":"R"}]}`,
			TokenizerConfig{ChatTemplates: map[string]string{"rag": "R"}}},
		{"added tokens", `{"added_tokens_decoder":{"0":{"content":"<unk>","special":true},"32000":{"content":"<x>"}}}`,
			TokenizerConfig{AddedTokens: map[int]AddedToken{0: {"<unk>", true}, 32000: {"<x>", false}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTokenizerConfig([]byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got %+v\nwant %+v", *got, c.want)
			}
		})
	}
}

func TestParseTokenizerConfigErrors(t *testing.T) {
	cases := []struct{ name, json, want string }{
		{"template number", `{"chat_template":3}`, "chat_template"},
		{"template entry incomplete", `{"chat_template":[{"name":"x"}]}`, "chat_template[0]"},
		{"template duplicate", `{"chat_template":[{"name":"x","template":"a"},{"name":"x","template":"b"}]}`, "duplicate"},
		{"bos number", `{"bos_token":1}`, "bos_token"},
		{"eos object without content", `{"eos_token":{"lstrip":true}}`, "eos_token"},
		{"add_bos string", `{"add_bos_token":"yes"}`, "add_bos_token"},
		{"added token key", `{"added_tokens_decoder":{"x":{"content":"a"}}}`, "added_tokens_decoder"},
		{"added token negative", `{"added_tokens_decoder":{"-1":{"content":"a"}}}`, "added_tokens_decoder"},
		{"truncated", `{"bos_token":`, "truncated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseTokenizerConfig([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v lacks %q", err, c.want)
			}
		})
	}
}

func TestReadTokenizerConfigFiles(t *testing.T) {
	dir := t.TempDir()
	tc, err := ReadTokenizerConfig(dir)
	if err != nil || !reflect.DeepEqual(*tc, TokenizerConfig{}) {
		t.Fatalf("missing file: %+v, %v; want the zero value", tc, err)
	}
	writeFiles(t, dir, map[string][]byte{chatTemplateFile: []byte("{{ messages }}")})
	if tc, err = ReadTokenizerConfig(dir); err != nil || tc.ChatTemplate != "{{ messages }}" {
		t.Errorf("chat_template.jinja not used: %+v, %v", tc, err)
	}
	writeFiles(t, dir, map[string][]byte{"tokenizer_config.json": []byte(`{"chat_template":"inline"}`)})
	if tc, err = ReadTokenizerConfig(dir); err != nil || tc.ChatTemplate != "inline" {
		t.Errorf("inline template should win: %+v, %v", tc, err)
	}
	writeFiles(t, dir, map[string][]byte{"tokenizer_config.json": []byte(`{"bos_token":[]}`)})
	if _, err = ReadTokenizerConfig(dir); err == nil || !strings.Contains(err.Error(), "tokenizer_config.json") {
		t.Errorf("bad file: error %v does not name it", err)
	}
}

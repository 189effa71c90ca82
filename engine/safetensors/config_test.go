package safetensors

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// llamaBase is a minimal valid config; cases splice fields in front of it
// (encoding/json keeps the last duplicate, so a later field would win).
const llamaBase = `"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,` +
	`"num_attention_heads":8,"vocab_size":100}`

func withBase(fields string) []byte { return []byte("{" + fields + llamaBase) }

func TestParseConfig(t *testing.T) {
	cases := []struct {
		name  string
		json  []byte
		check func(c *Config) bool
	}{
		{"defaults", withBase(""), func(c *Config) bool {
			return c.NumKeyValueHeads == 8 && c.HeadDim == 8 && c.RMSNormEps == 1e-6 && c.RopeTheta == 10000 &&
				c.MaxPositionEmbeddings == 2048 && c.HiddenAct == "silu" && c.RopeScaling == nil && !c.TieWordEmbeddings
		}},
		{"gqa and explicit head_dim", withBase(`"num_key_value_heads":2,"head_dim":16,`), func(c *Config) bool {
			return c.KVDim() == 32 && c.QDim() == 128
		}},
		{"head_dim lets heads not divide hidden", []byte(`{"model_type":"mistral","hidden_size":60,"intermediate_size":8,` +
			`"num_hidden_layers":1,"num_attention_heads":8,"head_dim":4,"vocab_size":10}`), func(c *Config) bool {
			return c.HeadDim == 4 && c.MaxPositionEmbeddings == 131072
		}},
		{"null fields", withBase(`"head_dim":null,"num_key_value_heads":null,"sliding_window":null,"bos_token_id":null,`),
			func(c *Config) bool { return c.HeadDim == 8 && c.NumKeyValueHeads == 8 && c.SlidingWindow == 0 }},
		{"eos list", withBase(`"bos_token_id":1,"eos_token_id":[2,3,99],`), func(c *Config) bool {
			b, ok := c.BOS()
			return ok && b == 1 && reflect.DeepEqual(c.EOSTokenIDs, []int{2, 3, 99})
		}},
		{"llama3 scaling", withBase(`"rope_theta":500000.0,"rope_scaling":{"rope_type":"llama3","factor":8.0,` +
			`"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192},`), func(c *Config) bool {
			return c.RopeTheta == 500000 && reflect.DeepEqual(*c.RopeScaling, RopeScaling{Type: "llama3", Factor: 8,
				LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192})
		}},
		{"linear scaling, old key", withBase(`"rope_scaling":{"type":"linear","factor":2},`), func(c *Config) bool {
			return c.RopeScaling.Type == RopeLinear && c.RopeScaling.Factor == 2
		}},
		{"default rope type", withBase(`"rope_scaling":{"rope_type":"default"},`), func(c *Config) bool { return c.RopeScaling == nil }},
		{"v5 rope_parameters", withBase(`"rope_parameters":{"rope_type":"default","rope_theta":1000000.0},`),
			func(c *Config) bool { return c.RopeTheta == 1e6 && c.RopeScaling == nil }},
		{"v5 dtype name", withBase(`"dtype":"bfloat16",`), func(c *Config) bool { return c.TorchDType == "bfloat16" }},
		{"qwen2 biases and unused window", []byte(`{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":64,` +
			`"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":10,` +
			`"sliding_window":32768,"use_sliding_window":false,"tie_word_embeddings":true}`), func(c *Config) bool {
			return c.QKVBias && !c.AttentionBias && c.SlidingWindow == 0 && c.TieWordEmbeddings && c.MaxPositionEmbeddings == 32768
		}},
		{"mistral window", []byte(`{"model_type":"mistral","hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,` +
			`"num_attention_heads":4,"vocab_size":10,"sliding_window":4096}`), func(c *Config) bool { return c.SlidingWindow == 4096 }},
		{"type from architectures", []byte(`{"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":8,` +
			`"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10}`), func(c *Config) bool { return c.ModelType == "llama" }},
		{"llama attention bias", withBase(`"attention_bias":true,"mlp_bias":true,`), func(c *Config) bool {
			return c.AttentionBias && c.QKVBias && c.MLPBias
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig(c.json)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(cfg) {
				t.Errorf("unexpected config %+v", *cfg)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name, want string
		json       []byte
	}{
		{"not json", "invalid character", []byte("config")},
		{"truncated", "truncated", []byte(`{"hidden_size":`)},
		{"unknown type", `"gpt2"`, []byte(`{"model_type":"gpt2","n_embd":768}`)},
		{"no type", "architectures", []byte(`{"hidden_size":64}`)},
		{"string size", "hidden_size", []byte(`{"model_type":"llama","hidden_size":"64"}`)},
		{"fractional size", "num_hidden_layers", []byte(`{"model_type":"llama","num_hidden_layers":1.5}`)},
		{"missing hidden", "hidden_size", []byte(`{"model_type":"llama","num_attention_heads":8}`)},
		{"zero layers", "num_hidden_layers", []byte(`{"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":0,"num_attention_heads":8,"vocab_size":100}`)},
		{"huge vocab", "vocab_size", []byte(`{"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":8,"vocab_size":1000000000000}`)},
		{"heads do not divide", "num_attention_heads", []byte(`{"model_type":"llama","hidden_size":60,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":8,"vocab_size":10}`)},
		{"kv heads do not divide", "num_key_value_heads", withBase(`"num_key_value_heads":3,`)},
		{"negative kv heads", "num_key_value_heads", withBase(`"num_key_value_heads":-1,`)},
		{"odd head dim", "head_dim", withBase(`"head_dim":7,`)},
		{"zero eps", "rms_norm_eps", withBase(`"rms_norm_eps":0,`)},
		{"negative theta", "rope_theta", withBase(`"rope_theta":-1,`)},
		{"yarn", `"yarn"`, withBase(`"rope_scaling":{"type":"yarn","factor":4},`)},
		{"scaling without type", "rope_type", withBase(`"rope_scaling":{"factor":4},`)},
		{"scaling not object", "rope_scaling", withBase(`"rope_scaling":"linear",`)},
		{"linear without factor", "factor", withBase(`"rope_scaling":{"type":"linear"},`)},
		{"zero factor", "factor", withBase(`"rope_scaling":{"type":"linear","factor":0},`)},
		{"llama3 incomplete", "low_freq_factor", withBase(`"rope_scaling":{"rope_type":"llama3","factor":8},`)},
		{"llama3 bands reversed", "high_freq_factor", withBase(`"rope_scaling":{"rope_type":"llama3","factor":8,"low_freq_factor":4,"high_freq_factor":1,"original_max_position_embeddings":8192},`)},
		{"bos outside vocab", "bos_token_id", withBase(`"bos_token_id":100,`)},
		{"negative eos", "eos_token_id", withBase(`"eos_token_id":[2,-1],`)},
		{"eos of strings", "eos_token_id", withBase(`"eos_token_id":["2"],`)},
		{"negative window", "sliding_window", withBase(`"sliding_window":-5,`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig(c.json)
			if err == nil {
				t.Fatalf("ParseConfig succeeded: %+v", *cfg)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
		})
	}
}

func TestReadConfigTakesIDsFromGenerationConfig(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"config.json":            withBase(`"eos_token_id":7,`),
		"generation_config.json": []byte(`{"bos_token_id":1,"eos_token_id":[2,3],"temperature":0.6,"top_p":0.9}`),
	})
	c, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.BOSTokenIDs, []int{1}) || !reflect.DeepEqual(c.EOSTokenIDs, []int{7}) {
		t.Errorf("bos %v eos %v: want bos from generation_config, eos kept from config", c.BOSTokenIDs, c.EOSTokenIDs)
	}
	g, err := ReadGenerationConfig(dir)
	if err != nil || *g.Temperature != 0.6 || *g.TopP != 0.9 || g.TopK != nil {
		t.Errorf("generation config %+v, %v", g, err)
	}
	writeFiles(t, dir, map[string][]byte{"generation_config.json": []byte(`{"bos_token_id":-3}`), "config.json": withBase("")})
	if _, err := ReadConfig(dir); err == nil || !strings.Contains(err.Error(), "generation_config.json") {
		t.Errorf("bad generation_config: error %v does not name the file", err)
	}
	os.Remove(filepath.Join(dir, "generation_config.json"))
	os.Remove(filepath.Join(dir, "config.json"))
	if _, err := ReadConfig(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("missing config.json: error %v", err)
	}
}

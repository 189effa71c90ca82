package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Config is a llama-family config.json (LlamaConfig, MistralConfig,
// Qwen2Config), validated, with Hugging Face's defaults filled in.
type Config struct {
	Architectures         []string
	ModelType             string // "llama", "mistral" or "qwen2"
	HiddenSize            int
	IntermediateSize      int
	NumHiddenLayers       int
	NumAttentionHeads     int
	NumKeyValueHeads      int // = NumAttentionHeads when absent (no GQA)
	HeadDim               int // head_dim, or HiddenSize/NumAttentionHeads
	RMSNormEps            float64
	RopeTheta             float64
	RopeScaling           *RopeScaling // nil: plain RoPE
	MaxPositionEmbeddings int
	VocabSize             int
	TieWordEmbeddings     bool
	BOSTokenIDs           []int // from config.json, else generation_config.json
	EOSTokenIDs           []int
	SlidingWindow         int  // 0: full attention
	AttentionBias         bool // llama's attention_bias: q, k, v and o have biases
	QKVBias               bool // q, k, v have biases (attention_bias, or always for qwen2)
	MLPBias               bool
	TorchDType            string // "float32", "bfloat16", …; "" when absent
	HiddenAct             string // "silu" by default
}

// QDim is the width of the query projection, heads × head dim.
func (c *Config) QDim() int { return c.NumAttentionHeads * c.HeadDim }

// KVDim is the width of each of the key and value projections.
func (c *Config) KVDim() int { return c.NumKeyValueHeads * c.HeadDim }

// BOS returns the first BOS id, if any.
func (c *Config) BOS() (int, bool) {
	if len(c.BOSTokenIDs) == 0 {
		return 0, false
	}
	return c.BOSTokenIDs[0], true
}

type rawConfig struct {
	Architectures         []string        `json:"architectures"`
	ModelType             string          `json:"model_type"`
	HiddenSize            *int            `json:"hidden_size"`
	IntermediateSize      *int            `json:"intermediate_size"`
	NumHiddenLayers       *int            `json:"num_hidden_layers"`
	NumAttentionHeads     *int            `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	RopeParameters        json.RawMessage `json:"rope_parameters"`
	MaxPositionEmbeddings *int            `json:"max_position_embeddings"`
	VocabSize             *int            `json:"vocab_size"`
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	SlidingWindow         *int            `json:"sliding_window"`
	UseSlidingWindow      *bool           `json:"use_sliding_window"`
	AttentionBias         *bool           `json:"attention_bias"`
	MLPBias               *bool           `json:"mlp_bias"`
	TorchDType            string          `json:"torch_dtype"`
	DType                 string          `json:"dtype"` // transformers v5 name of torch_dtype
	HiddenAct             string          `json:"hidden_act"`
	tokenIDs
}

// modelDefaults are the Hugging Face class defaults for fields a config
// may omit.
var modelDefaults = map[string]struct {
	arch   string
	maxPos int
}{
	"llama":   {"LlamaForCausalLM", 2048},
	"mistral": {"MistralForCausalLM", 4096 * 32},
	"qwen2":   {"Qwen2ForCausalLM", 32768},
}

// ParseConfig decodes and validates a config.json.
func ParseConfig(data []byte) (*Config, error) {
	c, err := decodeConfig(data)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// ReadConfig reads dir/config.json, takes BOS/EOS ids from
// dir/generation_config.json where config.json has none, and validates.
func ReadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	c, err := decodeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %v", path, err)
	}
	if len(c.BOSTokenIDs) == 0 || len(c.EOSTokenIDs) == 0 {
		g, err := ReadGenerationConfig(dir)
		if err != nil {
			return nil, err
		}
		if g != nil && len(c.BOSTokenIDs) == 0 {
			c.BOSTokenIDs = g.BOSTokenIDs
		}
		if g != nil && len(c.EOSTokenIDs) == 0 {
			c.EOSTokenIDs = g.EOSTokenIDs
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %v", path, err)
	}
	return c, nil
}

// ReadGenerationConfig reads dir/generation_config.json; a missing file
// gives nil and no error.
func ReadGenerationConfig(dir string) (*GenerationConfig, error) {
	path := filepath.Join(dir, "generation_config.json")
	data, err := readSmallFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	g, err := ParseGenerationConfig(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %v", path, err)
	}
	return g, nil
}

// decodeConfig maps JSON to Config and fills defaults. It checks types,
// and the one value a default depends on (heads dividing the hidden size
// when head_dim is derived); Validate checks the rest.
func decodeConfig(data []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonErr(err)
	}
	c := &Config{Architectures: r.Architectures, ModelType: r.ModelType, TorchDType: r.TorchDType, HiddenAct: r.HiddenAct}
	var err error
	if c.BOSTokenIDs, c.EOSTokenIDs, _, err = r.parse(); err != nil {
		return nil, err
	}
	if err := c.resolveModelType(); err != nil {
		return nil, err
	}
	if err := c.decodeRope(&r); err != nil {
		return nil, err
	}
	c.HiddenSize = intOr(r.HiddenSize, 0)
	c.IntermediateSize = intOr(r.IntermediateSize, 0)
	c.NumHiddenLayers = intOr(r.NumHiddenLayers, 0)
	c.NumAttentionHeads = intOr(r.NumAttentionHeads, 0)
	c.NumKeyValueHeads = intOr(r.NumKeyValueHeads, c.NumAttentionHeads)
	c.HeadDim = intOr(r.HeadDim, 0)
	if r.HeadDim == nil && c.NumAttentionHeads > 0 {
		if c.HiddenSize%c.NumAttentionHeads != 0 {
			return nil, fmt.Errorf("num_attention_heads: %d does not divide hidden_size %d (and head_dim is not given)", c.NumAttentionHeads, c.HiddenSize)
		}
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	c.RMSNormEps = floatOr(r.RMSNormEps, 1e-6)
	c.MaxPositionEmbeddings = intOr(r.MaxPositionEmbeddings, modelDefaults[c.ModelType].maxPos)
	c.VocabSize = intOr(r.VocabSize, 0)
	c.TieWordEmbeddings = r.TieWordEmbeddings != nil && *r.TieWordEmbeddings
	c.SlidingWindow = intOr(r.SlidingWindow, 0)
	if r.UseSlidingWindow != nil && !*r.UseSlidingWindow { // qwen2 states a window it does not use
		c.SlidingWindow = 0
	}
	c.AttentionBias = r.AttentionBias != nil && *r.AttentionBias
	c.QKVBias = c.AttentionBias || c.ModelType == "qwen2"
	c.MLPBias = r.MLPBias != nil && *r.MLPBias
	if c.TorchDType == "" {
		c.TorchDType = r.DType
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "silu"
	}
	return c, nil
}

// resolveModelType accepts llama-family types and infers a missing one
// from architectures, as very old conversions omit model_type.
func (c *Config) resolveModelType() error {
	if c.ModelType == "" {
		for mt, d := range modelDefaults {
			for _, a := range c.Architectures {
				if a == d.arch {
					c.ModelType = mt
				}
			}
		}
	}
	if _, ok := modelDefaults[c.ModelType]; !ok {
		if c.ModelType == "" {
			return fmt.Errorf("model_type: absent and architectures %q name no llama-family model", c.Architectures)
		}
		return fmt.Errorf("model_type: %q is not supported (llama, mistral and qwen2 are)", c.ModelType)
	}
	return nil
}

// decodeRope reads rope_theta and rope_scaling, or transformers v5's
// rope_parameters that carries both.
func (c *Config) decodeRope(r *rawConfig) error {
	scaling, theta, err := parseRope("rope_scaling", r.RopeScaling)
	if err != nil {
		return err
	}
	if scaling == nil && !isNull(r.RopeParameters) {
		if scaling, theta, err = parseRope("rope_parameters", r.RopeParameters); err != nil {
			return err
		}
	}
	c.RopeScaling = scaling
	c.RopeTheta = 10000
	switch {
	case r.RopeTheta != nil:
		c.RopeTheta = *r.RopeTheta
	case theta != nil:
		c.RopeTheta = *theta
	}
	return nil
}

// maxSize bounds every size so that products of two (e.g. heads × head
// dim, vocab × hidden) fit comfortably in an int, whatever the file says.
const maxSize = 1 << 24

// Validate checks the values the engine relies on; errors name the field.
// HeadDim is taken as given: a Config built by hand states it.
func (c *Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads}, {"head_dim", c.HeadDim},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"vocab_size", c.VocabSize},
	} {
		if f.v <= 0 || f.v > maxSize {
			return fmt.Errorf("%s: %d is outside [1, %d] (absent?)", f.name, f.v, maxSize)
		}
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("num_key_value_heads: %d does not divide num_attention_heads %d", c.NumKeyValueHeads, c.NumAttentionHeads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("head_dim: %d is odd; RoPE rotates pairs", c.HeadDim)
	}
	if !(c.RMSNormEps > 0) || c.RMSNormEps >= 1 {
		return fmt.Errorf("rms_norm_eps: %v must be in (0, 1)", c.RMSNormEps)
	}
	if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
		return fmt.Errorf("rope_theta: %v must be positive and finite", c.RopeTheta)
	}
	if c.RopeScaling != nil {
		if err := c.RopeScaling.validate(); err != nil {
			return err
		}
	}
	if c.SlidingWindow < 0 {
		return fmt.Errorf("sliding_window: %d is negative", c.SlidingWindow)
	}
	if err := checkIDs("bos_token_id", c.BOSTokenIDs, c.VocabSize); err != nil {
		return err
	}
	return checkIDs("eos_token_id", c.EOSTokenIDs, c.VocabSize)
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func floatOr(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

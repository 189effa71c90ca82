package safetensors

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Model is a Hugging Face model directory opened for inference.
type Model struct {
	Dir              string
	Config           *Config
	Checkpoint       *Checkpoint
	TokenizerConfig  *TokenizerConfig  // zero value when the file is absent
	GenerationConfig *GenerationConfig // nil when the file is absent
	TokenizerJSON    string            // path of tokenizer.json; "" when absent
}

// Open reads dir's configs and opens its checkpoint. Configs come first so
// a bad config.json fails before any weights are mapped.
func Open(dir string) (*Model, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	tc, err := ReadTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	gc, err := ReadGenerationConfig(dir)
	if err != nil {
		return nil, err
	}
	m := &Model{Dir: dir, Config: cfg, TokenizerConfig: tc, GenerationConfig: gc}
	tj := filepath.Join(dir, "tokenizer.json")
	if st, err := os.Stat(tj); err == nil && st.Mode().IsRegular() {
		m.TokenizerJSON = tj
	}
	if m.Checkpoint, err = OpenCheckpoint(dir); err != nil {
		return nil, err
	}
	return m, nil
}

// Close releases the checkpoint's mappings.
func (m *Model) Close() error {
	if m.Checkpoint == nil {
		return nil
	}
	return m.Checkpoint.Close()
}

// expectedTensor is one weight a llama-family checkpoint must hold.
type expectedTensor struct {
	name  string
	shape []int64
}

// expectedTensors lists the Hugging Face tensor names and [out, in] shapes
// the config implies. lm_head is listed only when it is not tied.
func (c *Config) expectedTensors() []expectedTensor {
	h, v, i := int64(c.HiddenSize), int64(c.VocabSize), int64(c.IntermediateSize)
	q, kv := int64(c.QDim()), int64(c.KVDim())
	out := []expectedTensor{
		{"model.embed_tokens.weight", []int64{v, h}},
		{"model.norm.weight", []int64{h}},
	}
	if !c.TieWordEmbeddings {
		out = append(out, expectedTensor{"lm_head.weight", []int64{v, h}})
	}
	for l := 0; l < c.NumHiddenLayers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add := func(name string, shape ...int64) { out = append(out, expectedTensor{p + name, shape}) }
		add("input_layernorm.weight", h)
		add("post_attention_layernorm.weight", h)
		add("self_attn.q_proj.weight", q, h)
		add("self_attn.k_proj.weight", kv, h)
		add("self_attn.v_proj.weight", kv, h)
		add("self_attn.o_proj.weight", h, q)
		add("mlp.gate_proj.weight", i, h)
		add("mlp.up_proj.weight", i, h)
		add("mlp.down_proj.weight", h, i)
		if c.QKVBias {
			add("self_attn.q_proj.bias", q)
			add("self_attn.k_proj.bias", kv)
			add("self_attn.v_proj.bias", kv)
		}
		if c.AttentionBias {
			add("self_attn.o_proj.bias", h)
		}
		if c.MLPBias {
			add("mlp.gate_proj.bias", i)
			add("mlp.up_proj.bias", i)
			add("mlp.down_proj.bias", h)
		}
	}
	return out
}

// CheckTensors verifies that the checkpoint holds every weight a llama-
// family model with this config needs, with matching shapes and a float
// dtype (F32, F16, BF16). Extra tensors (e.g. stored rotary inv_freq) are
// ignored. It reports up to ten problems at once.
func (m *Model) CheckTensors() error {
	var errs []error
	for _, e := range m.Config.expectedTensors() {
		t, ok := m.Checkpoint.Tensor(e.name)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("tensor %q is missing", e.name))
		case !slices.Equal(t.Shape, e.shape):
			errs = append(errs, fmt.Errorf("tensor %q has shape %v, config implies %v", e.name, t.Shape, e.shape))
		case t.DType != F32 && t.DType != F16 && t.DType != BF16:
			errs = append(errs, fmt.Errorf("tensor %q has dtype %s; weights must be F32, F16 or BF16", e.name, t.DType))
		}
		if len(errs) == 10 {
			errs = append(errs, errors.New("(further problems not listed)"))
			break
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("safetensors: %s: %w", m.Dir, errors.Join(errs...))
	}
	return nil
}

package model

import (
	"encoding/binary"
	"fmt"
	"math"

	"spillway/engine/gguf"
	"spillway/engine/tokenizer"
	"spillway/kernels"
)

// archRoPE maps each supported GGUF architecture to its RoPE layout.
var archRoPE = map[string]kernels.RoPEStyle{
	"llama": kernels.RoPENorm, // Llama 2/3/3.1/3.2, Mistral, TinyLlama
	"qwen2": kernels.RoPENeoX,
}

// LoadGGUF reads a GGUF file. Tensor data stays in the file mapping.
func LoadGGUF(path string) (*Description, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	d, err := fromGGUF(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.Path = path
	d.closers = append(d.closers, f)
	return d, nil
}

func fromGGUF(f *gguf.File) (*Description, error) {
	d := &Description{Format: "gguf"}
	cfg, err := ggufConfig(f)
	if err != nil {
		return nil, err
	}
	for i := range f.Tensors {
		t, err := ggufTensor(f, &f.Tensors[i])
		if err != nil {
			return nil, err
		}
		if err := d.addTensor(t); err != nil {
			return nil, err
		}
	}
	d.sortTensors()
	if rf := d.Tensor("rope_freqs.weight"); rf != nil {
		if rf.DType != kernels.F32 || rf.Rows != 1 {
			return nil, fmt.Errorf("model: rope_freqs.weight must be F32 1-D, is %s (%d, %d)", rf.DType, rf.Rows, rf.Cols)
		}
		cfg.RoPE.FreqFactors = f32s(rf.Data)
	}
	cfg.TiedOutput = d.Tensor("output.weight") == nil
	cfg.QKVBias = d.Tensor("blk.0.attn_q.bias") != nil
	if cfg.VocabSize == 0 {
		if te := d.Tensor("token_embd.weight"); te != nil {
			cfg.VocabSize = te.Rows
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d.Config = cfg
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	d.Tokenizer = tok
	d.ChatTemplate, _ = f.String("tokenizer.chat_template")
	d.BOSText = pieceOr(tok, tok.BOS())
	d.EOSText = pieceOr(tok, tok.EOS())
	return d, nil
}

func pieceOr(t *tokenizer.Tokenizer, id int32) string {
	if id < 0 || int(id) >= t.VocabSize() {
		return ""
	}
	return t.Piece(id)
}

// GGUFConfig reads the hyperparameters from a GGUF file's metadata alone
// (no tensors), for inspection of partial or vocabulary-only files.
func GGUFConfig(f *gguf.File) (Config, error) {
	c, err := ggufConfig(f)
	if err != nil {
		return c, err
	}
	if c.VocabSize == 0 {
		if toks, ok := f.Strings("tokenizer.ggml.tokens"); ok {
			c.VocabSize = len(toks)
		}
	}
	return c, c.Validate()
}

func ggufConfig(f *gguf.File) (Config, error) {
	arch := f.Architecture()
	style, ok := archRoPE[arch]
	if !ok {
		return Config{}, fmt.Errorf("model: unsupported architecture %q (supported: llama, qwen2)", arch)
	}
	c := Config{Arch: arch, RMSEps: 1e-5}
	c.Name, _ = f.String("general.name")
	k := func(s string) string { return arch + "." + s }
	ints := []struct {
		key      string
		dst      *int
		required bool
	}{
		{k("embedding_length"), &c.Dim, true},
		{k("block_count"), &c.NumLayers, true},
		{k("feed_forward_length"), &c.FFNDim, true},
		{k("attention.head_count"), &c.NumHeads, true},
		{k("context_length"), &c.ContextLen, true},
		{k("attention.head_count_kv"), &c.NumKVHeads, false},
		{k("vocab_size"), &c.VocabSize, false},
		{k("attention.key_length"), &c.HeadDim, false},
		{k("rope.dimension_count"), &c.RoPE.NDims, false},
		{k("attention.sliding_window"), &c.SlidingWindow, false},
	}
	for _, e := range ints {
		v, ok := f.Uint(e.key)
		if !ok {
			if e.required {
				return c, fmt.Errorf("model: missing or non-integer metadata key %s", e.key)
			}
			continue
		}
		if v > 1<<30 {
			return c, fmt.Errorf("model: metadata %s = %d out of range", e.key, v)
		}
		*e.dst = int(v)
	}
	if c.NumKVHeads == 0 {
		c.NumKVHeads = c.NumHeads
	}
	if c.HeadDim == 0 && c.NumHeads > 0 {
		c.HeadDim = c.Dim / c.NumHeads
	}
	if c.RoPE.NDims == 0 {
		c.RoPE.NDims = c.HeadDim
	}
	if v, ok := f.Float(k("attention.layer_norm_rms_epsilon")); ok {
		c.RMSEps = float32(v)
	}
	c.RoPE.Base = 10000
	if v, ok := f.Float(k("rope.freq_base")); ok {
		c.RoPE.Base = float32(v)
	}
	c.RoPE.Style = style
	c.RoPE.FreqScale = 1
	if err := ggufRoPEScaling(f, k, &c); err != nil {
		return c, err
	}
	return c, nil
}

func ggufRoPEScaling(f *gguf.File, k func(string) string, c *Config) error {
	typ, _ := f.String(k("rope.scaling.type"))
	factor, hasFactor := f.Float(k("rope.scaling.factor"))
	if !hasFactor {
		factor, hasFactor = f.Float(k("rope.scale_linear"))
		if hasFactor {
			typ = "linear"
		}
	}
	switch typ {
	case "", "none":
		return nil
	case "linear":
		if !(factor > 0) {
			return fmt.Errorf("model: rope scaling factor %g invalid", factor)
		}
		c.RoPE.FreqScale = float32(1 / factor)
		return nil
	case "llama3":
		return nil // carried by the rope_freqs tensor
	}
	return fmt.Errorf("model: unsupported rope scaling type %q", typ)
}

func ggufTensor(f *gguf.File, ti *gguf.TensorInfo) (Tensor, error) {
	dt := kernels.DType(ti.Type)
	if !dt.Known() || dt == kernels.Q8_K || dt == kernels.Q8_1 {
		return Tensor{}, fmt.Errorf("model: tensor %q has unsupported type %s", ti.Name, ti.Type)
	}
	t := Tensor{Name: ti.Name, DType: dt, Data: f.TensorData(ti)}
	switch len(ti.Dims) {
	case 1:
		t.Rows, t.Cols = 1, int(ti.Dims[0])
	case 2:
		t.Rows, t.Cols = int(ti.Dims[1]), int(ti.Dims[0])
	default:
		for _, x := range ti.Dims[2:] {
			if x != 1 {
				return Tensor{}, fmt.Errorf("model: tensor %q has %d-D shape %v; llama-family weights are 1-D or 2-D", ti.Name, len(ti.Dims), ti.Dims)
			}
		}
		t.Rows, t.Cols = int(ti.Dims[1]), int(ti.Dims[0])
	}
	return t, nil
}

// f32s reads little-endian float32 values.
func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

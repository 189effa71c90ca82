package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"

	"spillway/engine/safetensors"
	"spillway/engine/tokenizer"
	"spillway/kernels"
)

// hfArch maps HF model_type to the GGUF architecture Spillway runs it as.
// Mistral is the llama architecture in GGUF, as llama.cpp converts it.
var hfArch = map[string]string{"llama": "llama", "mistral": "llama", "qwen2": "qwen2"}

// LoadHF reads a Hugging Face model directory into the same Description a
// converted GGUF file gives: GGUF tensor names, and for the llama
// architecture Q/K rows permuted from rotate-half to adjacent pairs.
func LoadHF(dir string) (*Description, error) {
	m, err := safetensors.Open(dir)
	if err != nil {
		return nil, err
	}
	d, err := fromHF(m)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	d.Path = dir
	d.closers = append(d.closers, m)
	return d, nil
}

func fromHF(m *safetensors.Model) (*Description, error) {
	cfg, err := hfConfig(m.Config)
	if err != nil {
		return nil, err
	}
	d := &Description{Format: "safetensors"}
	tied := m.Config.TieWordEmbeddings
	names := map[string]bool{}
	for _, ti := range m.Checkpoint.Tensors() {
		names[ti.Name] = true
	}
	for _, ti := range m.Checkpoint.Tensors() {
		name, ok := hfName(ti.Name, tied, names)
		if !ok {
			continue
		}
		t, err := hfTensor(&cfg, name, ti)
		if err != nil {
			return nil, err
		}
		if err := d.addTensor(t); err != nil {
			return nil, err
		}
	}
	if cfg.RoPE.FreqFactors != nil {
		if err := d.addTensor(Tensor{Name: "rope_freqs.weight", DType: kernels.F32, Rows: 1,
			Cols: len(cfg.RoPE.FreqFactors), Data: f32bytes(cfg.RoPE.FreqFactors)}); err != nil {
			return nil, err
		}
	}
	d.sortTensors()
	cfg.TiedOutput = d.Tensor("output.weight") == nil
	cfg.QKVBias = d.Tensor("blk.0.attn_q.bias") != nil
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d.Config = cfg
	tok, err := tokenizer.FromHF(m.Dir)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	d.Tokenizer = tok
	if tc := m.TokenizerConfig; tc != nil {
		d.ChatTemplate = tc.ChatTemplate
		d.BOSText, d.EOSText = tc.BOSToken, tc.EOSToken
	}
	if d.BOSText == "" {
		d.BOSText = pieceOr(tok, tok.BOS())
	}
	if d.EOSText == "" {
		d.EOSText = pieceOr(tok, tok.EOS())
	}
	return d, nil
}

func hfConfig(hc *safetensors.Config) (Config, error) {
	arch, ok := hfArch[hc.ModelType]
	if !ok {
		return Config{}, fmt.Errorf("model: unsupported model_type %q (supported: llama, mistral, qwen2)", hc.ModelType)
	}
	c := Config{
		Arch: arch, VocabSize: hc.VocabSize, Dim: hc.HiddenSize, NumLayers: hc.NumHiddenLayers,
		NumHeads: hc.NumAttentionHeads, NumKVHeads: hc.NumKeyValueHeads, HeadDim: hc.HeadDim,
		FFNDim: hc.IntermediateSize, ContextLen: hc.MaxPositionEmbeddings, RMSEps: float32(hc.RMSNormEps),
		SlidingWindow: hc.SlidingWindow,
	}
	if c.NumKVHeads == 0 {
		c.NumKVHeads = c.NumHeads
	}
	if c.HeadDim == 0 && c.NumHeads > 0 {
		c.HeadDim = c.Dim / c.NumHeads
	}
	c.RoPE = RoPEConfig{Base: float32(hc.RopeTheta), NDims: c.HeadDim, Style: archRoPE[arch], FreqScale: 1}
	if c.RoPE.Base == 0 {
		c.RoPE.Base = 10000
	}
	if rs := hc.RopeScaling; rs != nil {
		switch rs.Type {
		case "llama3":
			c.RoPE.FreqFactors = Llama3FreqFactors(c.RoPE.Base, c.RoPE.NDims, rs.Factor,
				rs.LowFreqFactor, rs.HighFreqFactor, rs.OriginalMaxPositionEmbeddings)
		case "linear":
			if !(rs.Factor > 0) {
				return c, fmt.Errorf("model: rope_scaling factor %g invalid", rs.Factor)
			}
			c.RoPE.FreqScale = float32(1 / rs.Factor)
		default:
			return c, fmt.Errorf("model: unsupported rope_scaling type %q", rs.Type)
		}
	}
	return c, nil
}

var hfLayer = regexp.MustCompile(`^model\.layers\.(\d+)\.(.+)$`)

var hfLayerNames = map[string]string{
	"input_layernorm.weight":          "attn_norm.weight",
	"self_attn.q_proj.weight":         "attn_q.weight",
	"self_attn.k_proj.weight":         "attn_k.weight",
	"self_attn.v_proj.weight":         "attn_v.weight",
	"self_attn.o_proj.weight":         "attn_output.weight",
	"self_attn.q_proj.bias":           "attn_q.bias",
	"self_attn.k_proj.bias":           "attn_k.bias",
	"self_attn.v_proj.bias":           "attn_v.bias",
	"post_attention_layernorm.weight": "ffn_norm.weight",
	"mlp.gate_proj.weight":            "ffn_gate.weight",
	"mlp.up_proj.weight":              "ffn_up.weight",
	"mlp.down_proj.weight":            "ffn_down.weight",
}

// hfName maps an HF tensor name to its GGUF name. With tied embeddings the
// one matrix becomes token_embd.weight whichever name the checkpoint kept.
func hfName(n string, tied bool, all map[string]bool) (string, bool) {
	switch n {
	case "model.embed_tokens.weight":
		return "token_embd.weight", true
	case "model.norm.weight":
		return "output_norm.weight", true
	case "lm_head.weight":
		if !tied {
			return "output.weight", true
		}
		return "token_embd.weight", !all["model.embed_tokens.weight"]
	}
	if m := hfLayer.FindStringSubmatch(n); m != nil {
		if g, ok := hfLayerNames[m[2]]; ok {
			i, _ := strconv.Atoi(m[1])
			return fmt.Sprintf("blk.%d.%s", i, g), true
		}
	}
	return "", false // rotary inv_freq buffers and the like carry no weights
}

var hfDTypes = map[safetensors.DType]kernels.DType{
	safetensors.F32: kernels.F32, safetensors.F16: kernels.F16, safetensors.BF16: kernels.BF16,
}

func hfTensor(c *Config, name string, ti safetensors.TensorInfo) (Tensor, error) {
	dt, ok := hfDTypes[ti.DType]
	if !ok {
		return Tensor{}, fmt.Errorf("model: tensor %q has unsupported dtype %v", ti.Name, ti.DType)
	}
	t := Tensor{Name: name, DType: dt, Data: ti.Data}
	switch len(ti.Shape) {
	case 1:
		t.Rows, t.Cols = 1, int(ti.Shape[0])
	case 2:
		t.Rows, t.Cols = int(ti.Shape[0]), int(ti.Shape[1])
	default:
		return Tensor{}, fmt.Errorf("model: tensor %q has %d-D shape %v", ti.Name, len(ti.Shape), ti.Shape)
	}
	if c.RoPE.Style != kernels.RoPENorm {
		return t, nil
	}
	heads := 0
	if suffixIs(name, "attn_q.weight") || suffixIs(name, "attn_q.bias") {
		heads = c.NumHeads
	} else if suffixIs(name, "attn_k.weight") || suffixIs(name, "attn_k.bias") {
		heads = c.NumKVHeads
	}
	if heads > 0 {
		rows, rb := t.Rows, dt.RowBytes(t.Cols)
		if t.Rows == 1 { // a bias: permute elements, each its own "row"
			rows, rb = t.Cols, dt.RowBytes(1)
		}
		p, err := permuteRoPE(t.Data, rows, rb, heads)
		if err != nil {
			return Tensor{}, fmt.Errorf("model: tensor %q: %w", ti.Name, err)
		}
		t.Data = p
	}
	return t, nil
}

func suffixIs(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// permuteRoPE reorders each head's rows from rotate-half order
// [x0..x(h/2-1), y0..y(h/2-1)] to adjacent pairs [x0, y0, x1, y1, ...]:
// new row 2i+j of a head is old row j·h/2+i, as llama.cpp's converter does.
func permuteRoPE(src []byte, rows, rowBytes, heads int) ([]byte, error) {
	if heads <= 0 || rows%heads != 0 || (rows/heads)%2 != 0 {
		return nil, fmt.Errorf("%d rows cannot be split into %d heads of even size", rows, heads)
	}
	hd, half := rows/heads, rows/heads/2
	dst := make([]byte, len(src))
	for h := 0; h < heads; h++ {
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				nr, or := h*hd+2*i+j, h*hd+j*half+i
				copy(dst[nr*rowBytes:(nr+1)*rowBytes], src[or*rowBytes:(or+1)*rowBytes])
			}
		}
	}
	return dst, nil
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

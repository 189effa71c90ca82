package model

import (
	"fmt"
	"math"

	"spillway/kernels"
)

// Config holds a llama-family model's hyperparameters, whatever file they
// came from. Field meanings follow llama.cpp's GGUF keys.
type Config struct {
	Arch          string // "llama", "qwen2", ...
	Name          string
	VocabSize     int
	Dim           int // embedding_length
	NumLayers     int
	NumHeads      int
	NumKVHeads    int
	HeadDim       int
	FFNDim        int
	ContextLen    int
	RMSEps        float32
	RoPE          RoPEConfig
	SlidingWindow int  // 0 = none
	TiedOutput    bool // no output.weight: token_embd.weight projects to logits
	QKVBias       bool // Qwen2: attn_{q,k,v}.bias
}

// RoPEConfig describes rotary embeddings; FreqFactors come from a GGUF
// rope_freqs tensor or are computed from HF llama3 rope_scaling.
type RoPEConfig struct {
	Base        float32
	NDims       int
	Style       kernels.RoPEStyle
	FreqScale   float32 // 1/factor for linear scaling; 1 = none
	FreqFactors []float32
}

// Params returns the kernel parameters for q and k (identical here).
func (c *Config) RoPEParams() kernels.RoPEParams {
	return kernels.RoPEParams{
		HeadDim:     c.HeadDim,
		NDims:       c.RoPE.NDims,
		Base:        c.RoPE.Base,
		Style:       c.RoPE.Style,
		FreqScale:   c.RoPE.FreqScale,
		FreqFactors: c.RoPE.FreqFactors,
	}
}

// Validate checks the hyperparameters are consistent before any tensor is
// bound, so a malformed file fails with a message naming the field.
func (c *Config) Validate() error {
	pos := []struct {
		name string
		v    int
	}{
		{"vocabulary size", c.VocabSize}, {"embedding length", c.Dim},
		{"block count", c.NumLayers}, {"head count", c.NumHeads},
		{"kv head count", c.NumKVHeads}, {"head dimension", c.HeadDim},
		{"feed-forward length", c.FFNDim}, {"context length", c.ContextLen},
	}
	for _, p := range pos {
		if p.v <= 0 || p.v > 1<<24 {
			return fmt.Errorf("model: %s %d out of range", p.name, p.v)
		}
	}
	if c.NumHeads%c.NumKVHeads != 0 {
		return fmt.Errorf("model: head count %d is not a multiple of kv head count %d", c.NumHeads, c.NumKVHeads)
	}
	if c.RoPE.NDims <= 0 || c.RoPE.NDims > c.HeadDim || c.RoPE.NDims%2 != 0 {
		return fmt.Errorf("model: rope dimension count %d invalid for head dimension %d", c.RoPE.NDims, c.HeadDim)
	}
	if !(c.RoPE.Base > 0) || math.IsInf(float64(c.RoPE.Base), 0) {
		return fmt.Errorf("model: rope freq base %g invalid", c.RoPE.Base)
	}
	if !(c.RMSEps > 0) || c.RMSEps > 1 {
		return fmt.Errorf("model: rms norm epsilon %g invalid", c.RMSEps)
	}
	if f := c.RoPE.FreqFactors; f != nil && len(f) != c.RoPE.NDims/2 {
		return fmt.Errorf("model: rope_freqs has %d factors, want %d", len(f), c.RoPE.NDims/2)
	}
	return nil
}

// Llama3FreqFactors computes the per-pair divisors of Llama 3.1's rope
// scaling, the values llama.cpp's converter stores as rope_freqs.weight.
func Llama3FreqFactors(base float32, nDims int, factor, lowFreq, highFreq float64, origCtx int) []float32 {
	lowWavelen := float64(origCtx) / lowFreq
	highWavelen := float64(origCtx) / highFreq
	out := make([]float32, nDims/2)
	for i := range out {
		freq := math.Pow(float64(base), -2*float64(i)/float64(nDims))
		wavelen := 2 * math.Pi / freq
		switch {
		case wavelen < highWavelen:
			out[i] = 1
		case wavelen > lowWavelen:
			out[i] = float32(factor)
		default:
			smooth := (float64(origCtx)/wavelen - lowFreq) / (highFreq - lowFreq)
			out[i] = float32(1 / ((1-smooth)/factor + smooth))
		}
	}
	return out
}

package synth

import (
	"fmt"
	"sort"
	"strings"
)

// Preset is the shape of a real model family, for random-weight models
// that load and run like the real one (same tensor shapes, same bytes per
// token) without shipping weights.
type Preset struct {
	Name       string
	Vocab      int
	Dim        int
	Layers     int
	Heads      int
	KVHeads    int
	FFN        int
	Context    int
	RopeBase   float32
	RMSEps     float32
	Tied       bool        // no output.weight (Llama 3.2 1B)
	Llama3Rope *[4]float64 // factor, low_freq_factor, high_freq_factor, original context
}

// Presets are the shapes of the published checkpoints they are named after.
var Presets = map[string]Preset{
	"tiny": {Name: "tiny", Vocab: 4096, Dim: 256, Layers: 4, Heads: 8, KVHeads: 4, FFN: 768,
		Context: 2048, RopeBase: 10000, RMSEps: 1e-5},
	"tinyllama-1.1b": {Name: "tinyllama-1.1b", Vocab: 32000, Dim: 2048, Layers: 22, Heads: 32, KVHeads: 4,
		FFN: 5632, Context: 2048, RopeBase: 10000, RMSEps: 1e-5},
	"llama-3.2-1b": {Name: "llama-3.2-1b", Vocab: 128256, Dim: 2048, Layers: 16, Heads: 32, KVHeads: 8,
		FFN: 8192, Context: 131072, RopeBase: 500000, RMSEps: 1e-5, Tied: true,
		Llama3Rope: &[4]float64{32, 1, 4, 8192}},
	"llama-3-8b": {Name: "llama-3-8b", Vocab: 128256, Dim: 4096, Layers: 32, Heads: 32, KVHeads: 8,
		FFN: 14336, Context: 8192, RopeBase: 500000, RMSEps: 1e-5},
	"mistral-7b": {Name: "mistral-7b", Vocab: 32000, Dim: 4096, Layers: 32, Heads: 32, KVHeads: 8,
		FFN: 14336, Context: 32768, RopeBase: 1000000, RMSEps: 1e-5},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	var n []string
	for k := range Presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// LookupPreset finds a preset by name, with an error that lists the names.
func LookupPreset(name string) (Preset, error) {
	p, ok := Presets[strings.ToLower(name)]
	if !ok {
		return p, fmt.Errorf("unknown preset %q (have %s)", name, strings.Join(PresetNames(), ", "))
	}
	return p, nil
}

// HeadDim is the per-head width.
func (p Preset) HeadDim() int { return p.Dim / p.Heads }

// Params is the number of weights in the model.
func (p Preset) Params() int64 {
	hd := int64(p.HeadDim())
	d, f := int64(p.Dim), int64(p.FFN)
	attn := d*int64(p.Heads)*hd*2 + d*int64(p.KVHeads)*hd*2
	per := attn + 3*d*f + 2*d
	n := int64(p.Layers)*per + int64(p.Vocab)*d + d
	if !p.Tied {
		n += int64(p.Vocab) * d
	}
	return n
}

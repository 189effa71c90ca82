package conformance

import (
	"math"
	"testing"

	"spillway/kernels"
)

// ropeCase is one RoPE test: x (T, heads·HeadDim) rotated in place.
type ropeCase struct {
	name    string
	style   kernels.RoPEStyle
	heads   int
	hd, nd  int     // HeadDim, NDims
	base    float32 // freq_base
	scale   float32 // FreqScale; 0 must act as 1
	factors bool    // FreqFactors in [1, 8), like Llama 3.1's rope_freqs
	T       int
	view    bool
}

var ropeCases = []ropeCase{
	{name: "norm", style: kernels.RoPENorm, heads: 4, hd: 64, nd: 64, base: 10000, scale: 1, T: 3},
	{name: "norm,scale0", style: kernels.RoPENorm, heads: 1, hd: 64, nd: 64, base: 10000, T: 1, view: true},
	{name: "norm,factors", style: kernels.RoPENorm, heads: 4, hd: 64, nd: 64, base: 500000, scale: 1, factors: true, T: 17, view: true},
	{name: "norm,partial,scale", style: kernels.RoPENorm, heads: 3, hd: 64, nd: 32, base: 10000, scale: 0.25, T: 17, view: true},
	{name: "neox", style: kernels.RoPENeoX, heads: 2, hd: 64, nd: 64, base: 1e6, scale: 1, T: 5},
	{name: "neox,factors", style: kernels.RoPENeoX, heads: 2, hd: 128, nd: 128, base: 500000, scale: 1, factors: true, T: 17, view: true},
	{name: "neox,partial,factors", style: kernels.RoPENeoX, heads: 3, hd: 80, nd: 20, base: 10000, scale: 1, factors: true, T: 1, view: true},
}

func testRoPE(h *harness) {
	for _, c := range ropeCases {
		h.t.Run(c.name, func(t *testing.T) { h.sub(t).rope(c) })
	}
}

func (h *harness) rope(c ropeCase) {
	p := kernels.RoPEParams{HeadDim: c.hd, NDims: c.nd, Base: c.base, Style: c.style, FreqScale: c.scale}
	if c.factors {
		p.FreqFactors = make([]float32, c.nd/2)
		for i := range p.FreqFactors {
			p.FreqFactors[i] = float32(1 + 7*h.rng.Float64())
		}
	}
	// Position 0 (identity), a run of consecutive positions like a prefill
	// chunk, and scattered ones up to 8k like a batch of decodes.
	pos := make([]int32, c.T)
	start := int32(h.rng.IntN(4096))
	for t := range pos {
		switch {
		case t == 0:
			pos[t] = 0
		case t < c.T/2:
			pos[t] = start + int32(t)
		default:
			pos[t] = int32(h.rng.IntN(8192))
		}
	}
	cols := c.heads * c.hd
	x := h.actIn(c.T, cols, c.view, h.activations()) // (T, heads·hd)
	h.be.RoPE(x.be, pos, p)
	h.ref.RoPE(x.ref, pos, p)
	want := h.want(x)
	bound := ropeBounds(p, pos, x.vals, want, c.heads, widen(tolRoPE, h.act))
	h.check("x", cols, h.got(x), want, func(i int) float64 { return bound[i] })
}

// ropeBounds is the error allowed in each element of the rotated x
// (T, heads·HeadDim): tol around the reference plus, for rotated pairs,
// ropeAngleTol of the pair's input radius.
func ropeBounds(p kernels.RoPEParams, pos []int32, in, want []float32, heads int, tol Tol) []float64 {
	cols := heads * p.HeadDim
	b := make([]float64, len(want)) // (T, heads·HeadDim)
	for i := range b {
		b[i] = tol.Bound(float64(want[i]))
	}
	half := p.NDims / 2
	for t := range pos {
		for hd := 0; hd < heads; hd++ {
			base := t*cols + hd*p.HeadDim
			for i := 0; i < half; i++ {
				i0, i1 := base+2*i, base+2*i+1
				if p.Style == kernels.RoPENeoX {
					i0, i1 = base+i, base+i+half
				}
				r := math.Hypot(float64(in[i0]), float64(in[i1]))
				a := ropeAngleTol(i, p.Theta(pos[t], i), r)
				b[i0] += a
				b[i1] += a
			}
		}
	}
	return b
}

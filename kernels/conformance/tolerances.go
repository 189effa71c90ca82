package conformance

import (
	"math"

	"spillway/kernels"
)

// Tol is an error bound atol + rtol·|ref|.
type Tol struct{ Atol, Rtol float64 }

// Bound is the error allowed around the reference value ref.
func (t Tol) Bound(ref float64) float64 { return t.Atol + t.Rtol*math.Abs(ref) }

// Float32 tolerances of the element-wise ops. Inputs are O(1) (N(0, 1)
// activations, O(1) weights), so the atol terms are absolute errors of a
// few float32 ulps at 1, and the rtol terms allow a handful of float32
// roundings (2^-24 ≈ 6e-8 each) or a fast exp/rsqrt approximation.
var (
	// Embed copies dequantized values: exact for float tables; for block
	// types a backend may evaluate d·q − m (k-quants: d·sc·q − dmin·m) in a
	// different order or with FMA, a few ulps of the O(1) terms.
	tolEmbed = Tol{Atol: 2e-6, Rtol: 1e-6}
	// RMSNorm: a float32 sum of squares over d ≤ 4096 and an rsqrt.
	tolRMSNorm = Tol{Atol: 1e-6, Rtol: 2e-5}
	// Add: one float32 rounding of the sum.
	tolAdd = Tol{Atol: 1e-7, Rtol: 1e-6}
	// SiLUMul: exp may be a polynomial good to about 1e-6 relative.
	tolSiLUMul = Tol{Atol: 1e-6, Rtol: 1e-5}
	// RoPE: cos and sin in float32; the angle's own error is added per pair
	// by ropeAngleTol.
	tolRoPE = Tol{Atol: 1e-6, Rtol: 1e-5}
	// Attention: float32 scores, softmax and weighted sums over up to ~100
	// keys, all O(1); the F16/BF16 extra below covers a backend that keeps
	// probabilities in half precision for the P·V product.
	tolAttention = Tol{Atol: 2e-5, Rtol: 1e-4}
)

// attentionHalfExtra is added to tolAttention's atol for F16 and BF16
// activations: probabilities rounded to 11 (8) significant bits, times
// values of magnitude ≲ 3, summed with weights adding up to 1.
var attentionHalfExtra = map[kernels.DType]float64{kernels.F16: 4e-3, kernels.BF16: 3e-2}

// widen adds to a float32 tolerance what a backend with F16 or BF16
// activations loses by storing its result: one rounding of up to an ulp
// (2^-10, 2^-7 relative; a full ulp, not half, because its intermediate
// may differ from ours before rounding), plus the F16 subnormal step.
func widen(t Tol, act kernels.DType) Tol {
	switch act {
	case kernels.F16:
		t.Atol += 0x1p-24
		t.Rtol += 0x1p-10
	case kernels.BF16:
		t.Rtol += 0x1p-7
	}
	return t
}

// ropeAngleTol is the error allowed from a rotation angle computed in
// float32: ggml builds theta_i = pos·(base^(-2/NDims))^i by repeated
// multiplication, so its relative error grows by about one float32 ulp
// per pair index; (i+4)·2^-23·|theta| leaves room for that, for pow, the
// frequency scale and the factor division. An angle error δ moves a pair
// of radius r by at most δ·r.
func ropeAngleTol(i int, theta, r float64) float64 {
	return float64(i+4) * 0x1p-23 * math.Abs(theta) * r
}

// matmulBound is the error allowed in one output out[t][j] = x·w, where x
// (k,) is the activation row the backend was given and w (k,) the
// dequantized weight row:
//
//	1e-6·Σ|x_i·w_i|   float32 accumulation in any order: 16 ulps of the
//	                   absolute sum, far above the √k-ulp random walk of
//	                   a plain loop and the per-block partial sums of SIMD.
//	+ 6σ               when the backend rounds x to the type ggml pairs
//	                   with the weights before the dot product (allowed,
//	                   see DESIGN §4), σ being that rounding's standard
//	                   deviation in the result:
//	                     F16/BF16 weights: each x_i rounded to 11/8 bits,
//	                       σ² = Σ (x_i·w_i)²·u²/3, u = 2^-11 / 2^-8;
//	                     block types: x in 8-bit blocks of B (32 for Q8_0
//	                       and Q8_1, 256 for Q8_K), step d = amax/127, so
//	                       σ² = Σ_blocks d²/12 · Σ_block w_i² (plus the
//	                       F16 rounding of d, a 2^-11 scaling per block).
//	                   6σ scales with each block's magnitude (outliers
//	                   included) rather than a global rms, and stays
//	                   tight: a wrong scale in one block of 32 moves the
//	                   result by tens of σ.
//	+ widen(0, act)    the rounding of the stored output.
//
// F32 weights get no 6σ term: nothing is rounded before the dot product.
func matmulBound(wdt, act kernels.DType, x, w []float32, ref float64) float64 {
	abs := 0.0
	for i := range x {
		abs += math.Abs(float64(x[i]) * float64(w[i]))
	}
	return 1e-6*abs + 6*math.Sqrt(actRoundingVar(wdt, x, w)) + widen(Tol{}, act).Bound(ref)
}

// actRoundingVar is σ² of matmulBound: the variance that rounding x to the
// activation type paired with wdt adds to x·w.
func actRoundingVar(wdt kernels.DType, x, w []float32) float64 {
	switch wdt {
	case kernels.F32:
		return 0
	case kernels.F16, kernels.BF16:
		u := 0x1p-11
		if wdt == kernels.BF16 {
			u = 0x1p-8
		}
		v := 0.0
		for i := range x {
			p := float64(x[i]) * float64(w[i])
			v += p * p
		}
		return v * u * u / 3
	}
	b := 32
	if wdt.BlockSize() == kernels.QK_K {
		b = kernels.QK_K
	}
	v := 0.0
	for s := 0; s < len(x); s += b {
		e := min(s+b, len(x))
		amax, ww, dot := 0.0, 0.0, 0.0
		for i := s; i < e; i++ {
			amax = max(amax, math.Abs(float64(x[i])))
			ww += float64(w[i]) * float64(w[i])
			dot += float64(x[i]) * float64(w[i])
		}
		d := amax / 127
		// Element steps, plus the block scale d itself stored as F16
		// (Q8_0, Q8_1), which scales the whole block's dot by up to 2^-11.
		v += d*d/12*ww + dot*dot*0x1p-22/3
	}
	return v
}

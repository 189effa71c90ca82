package quant

import (
	"math"

	"spillway/kernels"
)

// Test rows come from a tiny portable generator rather than math/rand:
// the golden hashes depend on every bit of the input, so the input may use
// only integer steps and exactly rounded float32 operations (no Log or
// Cos, whose last bits differ between architectures).

// rng is SplitMix64.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// uniform is in [0, 1) with 24 random bits.
func (r *rng) uniform() float32 { return float32(r.next()>>40) / (1 << 24) }

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// gauss is the Irwin–Hall sum of four uniforms, centred and scaled to unit
// variance: close enough to N(0, 1) for quantization tests, and exact.
func (r *rng) gauss() float32 {
	s := r.uniform() + r.uniform() + r.uniform() + r.uniform()
	return (s - 2) * 1.7320508
}

// rowKinds names the shapes of data every type is tested on; each
// super-block of a generated row is one kind.
var rowKinds = []string{
	"gaussian", "outlier", "uniform", "heavy-tailed", "positive", "negative",
	"constant", "zeros", "tiny", "sparse", "f16-rounded", "sub-block-scales",
}

// genRow fills x with len(x)/256 super-blocks, cycling through rowKinds
// from kind0, each at a power-of-two scale in [2^-8, 2^6], which keeps
// every kind (outliers ×100, sub-block scales up to ×2^7) inside the f16
// range the block scales need.
func genRow(r *rng, x []float32, kind0 int) {
	for b := 0; b < len(x); b += kernels.QK_K {
		genBlock(r, x[b:b+kernels.QK_K], (kind0+b/kernels.QK_K)%len(rowKinds))
	}
}

func genBlock(r *rng, x []float32, kind int) {
	scale := float32(math.Ldexp(1, r.intn(15)-8))
	for i := range x {
		g := r.gauss()
		switch rowKinds[kind] {
		case "gaussian", "outlier":
			x[i] = g * scale
		case "uniform":
			x[i] = (2*r.uniform() - 1) * scale
		case "heavy-tailed":
			x[i] = g / (r.uniform() + 0.01) * scale
		case "positive":
			x[i] = abs32(g) * scale
		case "negative":
			x[i] = -abs32(g) * scale
		case "constant":
			x[i] = scale
		case "zeros":
			x[i] = 0
		case "tiny":
			x[i] = g * 1e-6
		case "sparse":
			x[i] = 0
			if r.intn(10) == 0 {
				x[i] = g * scale
			}
		case "f16-rounded":
			x[i] = F16ToF32(F32ToF16(g * scale))
		case "sub-block-scales":
			x[i] = g * scale * float32(math.Ldexp(1, 2*(i/32)-7))
		}
	}
	if rowKinds[kind] == "outlier" {
		x[r.intn(len(x))] = 100 * scale
	}
}

// allTypes is every type Spillway supports, floats first.
var allTypes = []kernels.DType{
	kernels.F32, kernels.F16, kernels.BF16,
	kernels.Q4_0, kernels.Q4_1, kernels.Q5_0, kernels.Q5_1, kernels.Q8_0, kernels.Q8_1,
	kernels.Q2_K, kernels.Q3_K, kernels.Q4_K, kernels.Q5_K, kernels.Q6_K, kernels.Q8_K,
}

func roundTrip(dt kernels.DType, x []float32) []float32 {
	q := make([]byte, dt.RowBytes(len(x)))
	QuantizeRow(dt, q, x)
	y := make([]float32, len(x))
	DequantizeRow(dt, y, q)
	return y
}

// maxAbsDiff returns the largest |a[i] − b[i]| and where it is.
func maxAbsDiff(a, b []float32) (float32, int) {
	var worst float32
	at := -1
	for i := range a {
		if d := abs32(a[i] - b[i]); d > worst || at < 0 {
			worst, at = d, i
		}
	}
	return worst, at
}

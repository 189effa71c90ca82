package quant

import (
	"math"

	"spillway/kernels"
)

// ErrorBound is the largest |dequantize(quantize(x))[i] − x[i]| that
// QuantizeRow may cause on the row x (n,) in type dt; the round-trip tests
// and the quantizer fuzz target hold every type to it. It is computed per
// block and the worst block wins, so an outlier only loosens the bound of
// its own block:
//
//	bound = c·step + amax·rel + abs
//
// step is the block's grid spacing before any scale is rounded: amax/8
// (Q4_0), amax/16 (Q5_0), amax/127 (Q8_0, Q8_1, Q8_K), (max−min)/15 (Q4_1),
// (max−min)/31 (Q5_1), and for the k-quants the super-block's amax/32
// (Q6_K), amax/4 (Q3_K) or (max − min(min, 0))/nmax with nmax 3, 15, 31
// (Q2_K, Q4_K, Q5_K). c is half a step where rounding is the only error,
// one step for Q4_0/Q5_0, whose grid ends at +7·d (+15·d) on the side
// opposite the largest element. For the k-quants c is empirical: their
// scale searches trade the largest error for a lower weighted mean and may
// clip a block's end, and the sub-block scales are rounded against the
// largest one (see kquantC for the measured worst cases).
//
// rel is 2^-10 for rounding d and m to f16 (2^-9 for Q4_1 and Q5_1, whose
// q·d spans up to 2·amax), plus the rounding of the sub-block mins against
// the largest one for the types with mins: 1/30 (4-bit, Q2_K) and 1/126
// (6-bit, Q4_K and Q5_K). abs is levels·2^-25, the absolute error of a
// subnormal f16 scale times the largest |level·subscale|.
//
// F32 is exact (0); F16 allows amax·2^-11 + 2^-25 and BF16 amax·2^-8 +
// 2^-134 (its subnormal half step); Q8_K adds 4e-37 for rows so tiny that
// its float32 inverse scale overflows. The bound is +Inf for rows with NaN
// or Inf, and where a block scale or F16 value overflows: amax above 65504
// for F16 and the f16-scaled types. ErrorBound panics like QuantizeRow
// when len(x) does not fit dt.
func ErrorBound(dt kernels.DType, x []float32) float32 {
	if err := checkLength(dt, len(x)); err != nil {
		panic("quant: ErrorBound: " + err.Error())
	}
	spec := boundSpecs[dt]
	var worst float32
	for b := 0; b < len(x); b += spec.block {
		blk := x[b : b+spec.block]
		lo, hi := minMax(blk)
		amax := max(abs32(lo), abs32(hi))
		if math.IsNaN(float64(lo)) || math.IsInf(float64(amax), 0) || hasNaN(blk) || amax > spec.maxAbs {
			return float32(math.Inf(1))
		}
		step := spec.step(lo, hi, amax)
		e := spec.c*step + amax*spec.rel + spec.abs
		worst = max(worst, e)
	}
	return worst
}

type boundSpec struct {
	block  int
	step   func(lo, hi, amax float32) float32
	c      float32 // allowed error in steps
	rel    float32 // relative term (scale rounding)
	abs    float32 // absolute term (subnormal scales)
	maxAbs float32 // beyond this the scale or value overflows
}

// kquantC holds the k-quant step multipliers (see ErrorBound).
// Worst seen, in steps, over 68k super-blocks of Gaussian, uniform,
// heavy-tailed, one-sided, constant, sparse, outlier, tiny and mixed-scale
// rows: Q2_K 1.06, Q3_K 1.10, Q4_K 0.92, Q5_K 1.11, Q6_K 0.70. The limits
// leave room for what a block's clipped end can cost in theory (about one
// step plus the sub-block scale rounding) beyond that sample.
var kquantC = map[kernels.DType]float32{
	kernels.Q2_K: 1.75, kernels.Q3_K: 1.75, kernels.Q4_K: 1.5, kernels.Q5_K: 2, kernels.Q6_K: 1.25,
}

const (
	f16Max    = 65504
	f16SubULP = 1.0 / (1 << 25) // half the smallest subnormal half
	f16Rel    = 1.0 / (1 << 10) // d and m each rounded to f16
)

func symStep(levels float32) func(lo, hi, amax float32) float32 {
	return func(_, _, amax float32) float32 { return amax / levels }
}

func rangeStep(levels float32) func(lo, hi, amax float32) float32 {
	return func(lo, hi, _ float32) float32 { return (hi - lo) / levels }
}

// minClampedStep is the range make_qkx2_quants fits: the min is never
// above zero.
func minClampedStep(levels float32) func(lo, hi, amax float32) float32 {
	return func(lo, hi, _ float32) float32 { return (hi - min(lo, 0)) / levels }
}

var boundSpecs = map[kernels.DType]boundSpec{
	kernels.F32:  {block: 1, step: symStep(1), maxAbs: math.MaxFloat32},
	kernels.F16:  {block: 1, step: symStep(1), rel: 1.0 / (1 << 11), abs: f16SubULP, maxAbs: f16Max},
	kernels.BF16: {block: 1, step: symStep(1), rel: 1.0 / (1 << 8), abs: 0x1p-134, maxAbs: 3.38e38},
	kernels.Q4_0: {block: 32, step: symStep(8), c: 1, rel: f16Rel, abs: 8 * f16SubULP, maxAbs: f16Max},
	kernels.Q5_0: {block: 32, step: symStep(16), c: 1, rel: f16Rel, abs: 16 * f16SubULP, maxAbs: f16Max},
	kernels.Q8_0: {block: 32, step: symStep(127), c: 0.5, rel: f16Rel, abs: 127 * f16SubULP, maxAbs: f16Max},
	kernels.Q8_1: {block: 32, step: symStep(127), c: 0.5, rel: f16Rel, abs: 127 * f16SubULP, maxAbs: f16Max},
	kernels.Q4_1: {block: 32, step: rangeStep(15), c: 0.5, rel: 2 * f16Rel, abs: 16 * f16SubULP, maxAbs: f16Max},
	kernels.Q5_1: {block: 32, step: rangeStep(31), c: 0.5, rel: 2 * f16Rel, abs: 32 * f16SubULP, maxAbs: f16Max},
	// Below amax ≈ 127/MaxFloat32 the Q8_K inverse scale overflows and the
	// block comes back as zeros: an absolute error of at most amax.
	kernels.Q8_K: {block: qkK, step: symStep(127), c: 0.5, rel: 1.0 / (1 << 20), abs: 4e-37, maxAbs: math.MaxFloat32 / 2},
	kernels.Q2_K: {block: qkK, step: minClampedStep(3), c: kquantC[kernels.Q2_K], rel: f16Rel + 1.0/30,
		abs: (3*15 + 15) * f16SubULP, maxAbs: f16Max},
	kernels.Q3_K: {block: qkK, step: symStep(4), c: kquantC[kernels.Q3_K], rel: f16Rel,
		abs: 4 * 32 * f16SubULP, maxAbs: f16Max},
	kernels.Q4_K: {block: qkK, step: minClampedStep(15), c: kquantC[kernels.Q4_K], rel: f16Rel + 1.0/126,
		abs: (15*63 + 63) * f16SubULP, maxAbs: f16Max},
	kernels.Q5_K: {block: qkK, step: minClampedStep(31), c: kquantC[kernels.Q5_K], rel: f16Rel + 1.0/126,
		abs: (31*63 + 63) * f16SubULP, maxAbs: f16Max},
	kernels.Q6_K: {block: qkK, step: symStep(32), c: kquantC[kernels.Q6_K], rel: f16Rel,
		abs: 32 * 128 * f16SubULP, maxAbs: f16Max},
}

func hasNaN(x []float32) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}

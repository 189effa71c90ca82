package quant

import (
	"math"

	"spillway/kernels"
)

// QuantizeActivationRow quantizes an activation row the way ggml's CPU
// matmul does on x86 with AVX/AVX2 (the machines the oracle references
// come from) before a dot product: dst (dt.RowBytes(n) bytes) = src (n,),
// with dt normally VecDotType(weight type).
//
// It differs from QuantizeRow only for Q8_0 and Q8_1: ggml's SIMD path
// multiplies by 127/amax instead of 1/(amax/127) and rounds half to even,
// so a value near a rounding boundary can land one level away from the
// reference quantizer's choice. Q8_K and the float types take the
// reference path there too. Lengths that do not fit dt panic.
func QuantizeActivationRow(dt kernels.DType, dst []byte, src []float32) {
	if err := CheckRow(dt, len(src), len(dst)); err != nil {
		panic("quant: QuantizeActivationRow: " + err.Error())
	}
	switch dt {
	case kernels.Q8_0:
		for b := range len(src) / qk {
			quantQ8BlockSIMD(dst[34*b:34*b+34], src[qk*b:qk*b+qk])
		}
	case kernels.Q8_1:
		for b := range len(src) / qk {
			blk := dst[36*b : 36*b+36]
			var tmp [34]byte
			sum, d := quantQ8BlockSIMD(tmp[:], src[qk*b:qk*b+qk])
			copy(blk[0:2], tmp[0:2])
			putF16(blk[2:], d*float32(sum))
			copy(blk[4:], tmp[2:])
		}
	default:
		QuantizeRow(dt, dst, src)
	}
}

// quantQ8BlockSIMD is ggml's AVX2 quantize_row_q8_0 on one block: d =
// amax/127 is stored, but the elements are scaled by 127/amax and rounded
// half to even. It returns Σq and the unrounded d.
func quantQ8BlockSIMD(blk []byte, x []float32) (sum int, d float32) {
	amax, _ := signedAbsMax(x)
	d = amax / 127
	putF16(blk, d)
	id := float32(0)
	if amax != 0 {
		id = 127 / amax
	}
	for j, v := range x {
		p := v * id
		q := 0
		if p == p { // NaN stays 0 rather than converter garbage
			q = clampInt(int(math.RoundToEven(float64(p))), -127, 127)
		}
		blk[2+j] = byte(int8(q))
		sum += q
	}
	return sum, d
}

package quant

import (
	"fmt"
	"math"
)

// f16Table maps every IEEE half bit pattern to its float32 value. Half to
// float is exact, so a 256 KiB table replaces the bit surgery on the hot
// path (every F16 weight and every block scale goes through it).
var f16Table = buildF16Table() // (65536,)

func buildF16Table() *[1 << 16]float32 {
	var t [1 << 16]float32
	for h := range t {
		t[h] = f16ToF32Slow(uint16(h))
	}
	return &t
}

// F16ToF32 converts an IEEE 754 half to float32. The conversion is exact:
// subnormal halves become normal floats, NaN payloads are kept.
func F16ToF32(h uint16) float32 { return f16Table[h] }

// f16ToF32Slow is the bit-level reference the table is built from.
func f16ToF32Slow(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN: payload moves up, nothing to round
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal half: mant·2^-24. Shift the leading one up to the implicit
	// bit; every shift lowers the float exponent by one.
	e := uint32(127 - 14)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// F32ToF16 rounds a float32 to the nearest IEEE half, ties to even.
// Magnitudes from 65520 up become Inf (65520 is the tie between 65504 and
// 2^16), values below 2^-14 become subnormal halves or zero, and a NaN stays
// a NaN of the same sign with the quiet bit set and the top of its payload
// kept (what x86 F16C does).
func F32ToF16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	abs := u & 0x7fffffff
	switch {
	case abs > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16(abs>>13)&0x3ff
	case abs >= 0x477ff000: // ≥ 65520: overflows (or is Inf)
		return sign | 0x7c00
	case abs >= 0x38800000: // ≥ 2^-14: a normal half
		h := abs>>13 - (127-15)<<10 // rebias the exponent, keep 10 mantissa bits
		return sign | uint16(roundShifted(h, abs&0x1fff, 13))
	}
	// Subnormal result: round mant·2^(e-150) to a multiple of 2^-24, i.e.
	// mant >> (126-e) with round-to-nearest-even on the bits shifted out.
	e := abs >> 23
	if e < 102 { // below 2^-25: rounds to zero even before the tie rule
		return sign
	}
	mant := abs&0x7fffff | 0x800000
	shift := 126 - e // 14..24
	// A carry out of the subnormal range lands on 0x400, which is exactly
	// the encoding of the smallest normal half.
	return sign | uint16(roundShifted(mant>>shift, mant&(1<<shift-1), shift))
}

// roundShifted rounds q (the kept bits) given rem (the shift bits dropped
// below it): up when rem is above half, or at half when q is odd.
func roundShifted(q, rem, shift uint32) uint32 {
	half := uint32(1) << (shift - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return q
}

// BF16ToF32 converts a bfloat16 (the top half of a float32) to float32,
// exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 rounds a float32 to bfloat16, ties to even, subnormals kept.
// A NaN keeps its sign and top payload bits and gets the quiet bit, as in
// ggml, so it can never round into an Inf.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// F16ToF32Slice converts halves: dst (n,) = src (n,). The lengths must match.
func F16ToF32Slice(dst []float32, src []uint16) {
	mustSameLen(len(dst), len(src))
	for i, h := range src {
		dst[i] = f16Table[h]
	}
}

// F32ToF16Slice rounds floats to halves: dst (n,) = src (n,).
func F32ToF16Slice(dst []uint16, src []float32) {
	mustSameLen(len(dst), len(src))
	for i, f := range src {
		dst[i] = F32ToF16(f)
	}
}

// BF16ToF32Slice converts bfloat16 values: dst (n,) = src (n,).
func BF16ToF32Slice(dst []float32, src []uint16) {
	mustSameLen(len(dst), len(src))
	for i, h := range src {
		dst[i] = BF16ToF32(h)
	}
}

// F32ToBF16Slice rounds floats to bfloat16: dst (n,) = src (n,).
func F32ToBF16Slice(dst []uint16, src []float32) {
	mustSameLen(len(dst), len(src))
	for i, f := range src {
		dst[i] = F32ToBF16(f)
	}
}

func mustSameLen(a, b int) {
	if a != b {
		panic(fmt.Sprintf("quant: slice conversion between lengths %d and %d", a, b))
	}
}

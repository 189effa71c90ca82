package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// The element types this package reads. Sub-byte and exotic float types
// (F4, F6_*, F8_E8M0, …) are rejected by name when a header uses them.
const (
	F64     DType = "F64"
	F32     DType = "F32"
	F16     DType = "F16"
	BF16    DType = "BF16"
	F8E4M3  DType = "F8_E4M3"
	F8E5M2  DType = "F8_E5M2"
	I64     DType = "I64"
	I32     DType = "I32"
	I16     DType = "I16"
	I8      DType = "I8"
	U64     DType = "U64"
	U32     DType = "U32"
	U16     DType = "U16"
	U8      DType = "U8"
	Bool    DType = "BOOL"
	unknown DType = ""
)

var dtypeSizes = map[DType]int{
	F64: 8, F32: 4, F16: 2, BF16: 2, F8E4M3: 1, F8E5M2: 1,
	I64: 8, I32: 4, I16: 2, I8: 1,
	U64: 8, U32: 4, U16: 2, U8: 1, Bool: 1,
}

// Size is the byte size of one element, or 0 for a type this package does
// not know.
func (d DType) Size() int { return dtypeSizes[d] }

// Known reports whether d is a type this package reads.
func (d DType) Known() bool { return d.Size() > 0 }

// Float reports whether Float32s can decode d.
func (d DType) Float() bool { return d == F32 || d == F16 || d == BF16 || d == F64 }

func (d DType) String() string { return string(d) }

// NumElements is the product of the shape (1 for a scalar, shape []).
// Shapes were bounds-checked when the header was read, so it cannot
// overflow for a tensor handed out by this package.
func (t *TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32s decodes a float tensor (F32, F16, BF16, F64) into a new slice of
// NumElements() values in row-major order. It copies, so the result
// outlives Close and needs no alignment from the mapping.
func (t *TensorInfo) Float32s() ([]float32, error) {
	if !t.DType.Float() {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: cannot decode dtype %s as floats", t.File, t.Name, t.DType)
	}
	n := len(t.Data) / t.DType.Size()
	out := make([]float32, n) // (NumElements,)
	b := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BF16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
	return out, nil
}

// EncodeFloat32s writes values as little-endian dt (F32, F16 or BF16,
// rounding to nearest even), the inverse of Float32s. Writers and tests use
// it to build tensors.
func EncodeFloat32s(dt DType, values []float32) ([]byte, error) {
	switch dt {
	case F32:
		out := make([]byte, 4*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case F16, BF16:
		conv := F32ToF16
		if dt == BF16 {
			conv = F32ToBF16
		}
		out := make([]byte, 2*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint16(out[2*i:], conv(v))
		}
		return out, nil
	}
	return nil, fmt.Errorf("safetensors: cannot encode floats as %s (F32, F16 and BF16 can)", dt)
}

// BF16ToF32 widens a bfloat16: its bits are the top half of a float32.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 rounds to nearest even. NaNs stay NaN (quiet) rather than
// rounding into infinity, which the carry of a low-payload NaN would do.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// F16ToF32 widens an IEEE binary16 exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN: keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: shift the mantissa up until its leading 1 is implicit.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// F32ToF16 rounds to the nearest binary16, ties to even; overflow gives
// ±Inf, NaN stays NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff:
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	case exp-127 > 15:
		return sign | 0x7c00
	case exp-127 >= -14: // normal in f16 (may round up into the next binade or Inf)
		h := uint32(exp-127+15)<<10 | mant>>13
		return sign | uint16(roundShift(h<<13|mant&0x1fff, 13))
	case exp-127 < -25: // below half the smallest subnormal: rounds to zero
		return sign
	}
	// Subnormal in f16: make the implicit 1 explicit, then shift it down to
	// the 2^-24 unit.
	full := mant | 0x800000
	shift := uint32(-14-(exp-127)) + 13 // 14..24
	return sign | uint16(roundShift(full, shift))
}

// roundShift returns v >> s rounded to nearest, ties to even. A carry out of
// the mantissa correctly bumps the exponent field above it.
func roundShift(v, s uint32) uint32 {
	q := v >> s
	rem := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

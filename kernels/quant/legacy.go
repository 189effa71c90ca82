package quant

import (
	"encoding/binary"
	"math"
)

// The 32-element block types. Each quantizer follows ggml's
// quantize_row_*_ref step for step in float32; products that are then
// added go through float32(...) so Go never fuses them into an FMA, which
// would round once where ggml's reference rounds twice.

const qk = 32 // elements per block of the legacy types

// Q4_0 (18 B): d f16 | qs[16]; element j in the low nibble of qs[j],
// element j+16 in the high nibble; x = (q − 8)·d.
func dequantQ4_0(dst []float32, src []byte) {
	for b := range len(dst) / qk {
		blk := src[18*b : 18*b+18]
		y := dst[qk*b : qk*b+qk] // (32,)
		d := f16At(blk)
		for j, q := range blk[2:18] {
			y[j] = float32(int(q&0xf)-8) * d
			y[j+16] = float32(int(q>>4)-8) * d
		}
	}
}

// quantQ4_0 maps the element of largest magnitude to −8: d = max/−8, so
// the opposite end of the range may clip at +7.
func quantQ4_0(dst []byte, src []float32) {
	for b := range len(src) / qk {
		x := src[qk*b : qk*b+qk] // (32,)
		blk := dst[18*b : 18*b+18]
		_, mx := signedAbsMax(x)
		d := mx / -8
		id := inverse(d)
		putF16(blk, d)
		for j := range 16 {
			q0 := truncClamp(float32(x[j]*id)+8.5, 15)
			q1 := truncClamp(float32(x[j+16]*id)+8.5, 15)
			blk[2+j] = q0 | q1<<4
		}
	}
}

// Q4_1 (20 B): d f16 | m f16 | qs[16] (nibbles as in Q4_0); x = q·d + m.
func dequantQ4_1(dst []float32, src []byte) {
	for b := range len(dst) / qk {
		blk := src[20*b : 20*b+20]
		y := dst[qk*b : qk*b+qk] // (32,)
		d, m := f16At(blk), f16At(blk[2:])
		for j, q := range blk[4:20] {
			y[j] = float32(float32(q&0xf)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}

func quantQ4_1(dst []byte, src []float32) {
	for b := range len(src) / qk {
		x := src[qk*b : qk*b+qk] // (32,)
		blk := dst[20*b : 20*b+20]
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		id := inverse(d)
		putF16(blk, d)
		putF16(blk[2:], lo)
		for j := range 16 {
			q0 := truncClamp(float32((x[j]-lo)*id)+0.5, 15)
			q1 := truncClamp(float32((x[j+16]-lo)*id)+0.5, 15)
			blk[4+j] = q0 | q1<<4
		}
	}
}

// Q5_0 (22 B): d f16 | qh u32 LE | qs[16]; the low 4 bits as in Q4_0, bit
// 4 of element j in bit j of qh; x = (q − 16)·d.
func dequantQ5_0(dst []float32, src []byte) {
	for b := range len(dst) / qk {
		blk := src[22*b : 22*b+22]
		y := dst[qk*b : qk*b+qk] // (32,)
		d := f16At(blk)
		qh := binary.LittleEndian.Uint32(blk[2:])
		for j, q := range blk[6:22] {
			h0 := int(qh>>j&1) << 4
			h1 := int(qh>>(j+16)&1) << 4
			y[j] = float32((int(q&0xf)|h0)-16) * d
			y[j+16] = float32((int(q>>4)|h1)-16) * d
		}
	}
}

func quantQ5_0(dst []byte, src []float32) {
	for b := range len(src) / qk {
		x := src[qk*b : qk*b+qk] // (32,)
		blk := dst[22*b : 22*b+22]
		_, mx := signedAbsMax(x)
		d := mx / -16
		id := inverse(d)
		putF16(blk, d)
		var qh uint32
		for j := range 16 {
			q0 := truncClamp(float32(x[j]*id)+16.5, 31)
			q1 := truncClamp(float32(x[j+16]*id)+16.5, 31)
			blk[6+j] = q0&0xf | q1&0xf<<4
			qh |= uint32(q0>>4)<<j | uint32(q1>>4)<<(j+16)
		}
		binary.LittleEndian.PutUint32(blk[2:], qh)
	}
}

// Q5_1 (24 B): d f16 | m f16 | qh u32 LE | qs[16]; x = q·d + m.
func dequantQ5_1(dst []float32, src []byte) {
	for b := range len(dst) / qk {
		blk := src[24*b : 24*b+24]
		y := dst[qk*b : qk*b+qk] // (32,)
		d, m := f16At(blk), f16At(blk[2:])
		qh := binary.LittleEndian.Uint32(blk[4:])
		for j, q := range blk[8:24] {
			q0 := uint32(q&0xf) | (qh>>j&1)<<4
			q1 := uint32(q>>4) | (qh>>(j+16)&1)<<4
			y[j] = float32(float32(q0)*d) + m
			y[j+16] = float32(float32(q1)*d) + m
		}
	}
}

func quantQ5_1(dst []byte, src []float32) {
	for b := range len(src) / qk {
		x := src[qk*b : qk*b+qk] // (32,)
		blk := dst[24*b : 24*b+24]
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		id := inverse(d)
		putF16(blk, d)
		putF16(blk[2:], lo)
		var qh uint32
		for j := range 16 {
			// ggml does not clamp here: (x−min)/d cannot pass 31.5 for
			// finite input, and the clamp only tames NaN garbage.
			q0 := truncClamp(float32((x[j]-lo)*id)+0.5, 31)
			q1 := truncClamp(float32((x[j+16]-lo)*id)+0.5, 31)
			blk[8+j] = q0&0xf | q1&0xf<<4
			qh |= uint32(q0>>4)<<j | uint32(q1>>4)<<(j+16)
		}
		binary.LittleEndian.PutUint32(blk[4:], qh)
	}
}

// Q8_0 (34 B): d f16 | qs[32] int8; x = q·d.
func dequantQ8_0(dst []float32, src []byte) {
	for b := range len(dst) / qk {
		blk := src[34*b : 34*b+34]
		y := dst[qk*b : qk*b+qk] // (32,)
		d := f16At(blk)
		for j, q := range blk[2:34] {
			y[j] = float32(int8(q)) * d
		}
	}
}

func quantQ8_0(dst []byte, src []float32) {
	for b := range len(src) / qk {
		quantQ8Block(dst[34*b:34*b+34], src[qk*b:qk*b+qk])
	}
}

// quantQ8Block writes d and qs of one Q8_0 block and returns Σq.
// d = amax/127 and q = round(x/d) with ties away from zero (roundf).
func quantQ8Block(blk []byte, x []float32) int {
	amax, _ := signedAbsMax(x)
	d := amax / 127
	id := inverse(d)
	putF16(blk, d)
	sum := 0
	for j, v := range x {
		q := clampInt(roundAway(v*id), -127, 127)
		blk[2+j] = byte(int8(q))
		sum += q
	}
	return sum
}

// Q8_1 (36 B): d f16 | s f16 | qs[32] int8; x = q·d, and s = d·Σq (with
// the unrounded d) serves the dot products of the "_1" types.
func dequantQ8_1(dst []float32, src []byte) {
	for b := range len(dst) / qk {
		blk := src[36*b : 36*b+36]
		y := dst[qk*b : qk*b+qk] // (32,)
		d := f16At(blk)
		for j, q := range blk[4:36] {
			y[j] = float32(int8(q)) * d
		}
	}
}

func quantQ8_1(dst []byte, src []float32) {
	for b := range len(src) / qk {
		x := src[qk*b : qk*b+qk] // (32,)
		blk := dst[36*b : 36*b+36]
		// Same d and qs as Q8_0, with s between them.
		var tmp [34]byte
		sum := quantQ8Block(tmp[:], x)
		amax, _ := signedAbsMax(x)
		copy(blk[0:2], tmp[0:2])
		putF16(blk[2:], float32(sum)*(amax/127))
		copy(blk[4:], tmp[2:])
	}
}

// signedAbsMax returns the largest |x| and the first element reaching it
// (with its sign): ggml keeps the first on ties (strict >).
func signedAbsMax(x []float32) (amax, mx float32) {
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	return amax, mx
}

// minMax starts from ±FLT_MAX as ggml does, so NaNs never win.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// inverse is ggml's "id = d ? 1/d : 0".
func inverse(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// truncClamp is C's MIN(hi, (int8_t)v) for v ≥ 0: truncation toward zero.
// The low clamp and the NaN guard only matter for input C leaves undefined.
func truncClamp(v float32, hi int) byte {
	if !(v >= 0) {
		return 0
	}
	if v >= float32(hi) {
		return byte(hi)
	}
	return byte(int(v))
}

// roundAway is C's roundf (half away from zero) on a float32 value.
func roundAway(v float32) int {
	if v != v {
		return 0
	}
	return int(math.Round(float64(v)))
}

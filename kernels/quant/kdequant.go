package quant

import (
	"encoding/binary"
	"math"
)

// Dequantizers of the 256-element super-block types (k-quants). In every
// one of them element e of a super-block uses sub-block scale e/16 (or
// e/32); the loops below follow ggml's byte order, not element order, so
// each byte is read once. Products that are then combined with a min go
// through float32(...) to keep the two roundings ggml performs.

const qkK = 256 // kernels.QK_K

// Q2_K (84 B): scales[16] (low nibble scale, high nibble min) | qs[64] |
// d f16 | dmin f16. Element 128h+32j+l is bits 2j..2j+1 of qs[32h+l];
// x = d·sc·q − dmin·m with (sc, m) of sub-block e/16.
func dequantQ2K(dst []float32, src []byte) {
	for b := range len(dst) / qkK {
		blk := src[84*b : 84*b+84]
		y := dst[qkK*b : qkK*b+qkK] // (256,)
		d, dmin := f16At(blk[80:]), f16At(blk[82:])
		for e0 := 0; e0 < qkK; e0 += 16 { // one sub-block of 16
			sc := blk[e0/16]
			dl, ml := d*float32(sc&0xf), dmin*float32(sc>>4)
			h, j, half := e0/128, e0%128/32, e0%32/16
			q := blk[16+32*h+16*half : 16+32*h+16*half+16]
			shift := 2 * j
			for l, v := range q {
				y[e0+l] = float32(dl*float32(v>>shift&3)) - ml
			}
		}
	}
}

// Q3_K (110 B): hmask[32] | qs[64] | scales[12] | d f16. Element
// 128h+32j+l: low two bits are bits 2j..2j+1 of qs[32h+l], the high bit is
// bit 4h+j of hmask[l] (set means no −4); 16 six-bit scales, biased by 32:
// low nibbles in scales[0:8], top two bits in scales[8:12]; x = d·(s−32)·q.
func dequantQ3K(dst []float32, src []byte) {
	for b := range len(dst) / qkK {
		blk := src[110*b : 110*b+110]
		y := dst[qkK*b : qkK*b+qkK] // (256,)
		hmask, qs, scales := blk[0:32], blk[32:96], blk[96:108]
		d := f16At(blk[108:])
		for e0 := 0; e0 < qkK; e0 += 16 {
			dl := d * float32(scale6(scales, e0/16)-32)
			h, j, half := e0/128, e0%128/32, e0%32/16
			shift, hshift := 2*j, 4*h+j
			q := qs[32*h+16*half : 32*h+16*half+16]
			hm := hmask[16*half : 16*half+16]
			out := y[e0 : e0+16]
			for l, v := range q {
				// A clear high bit means the level is 4 lower.
				lvl := int(v>>shift&3) - 4 + 4*int(hm[l]>>hshift&1)
				out[l] = dl * float32(lvl)
			}
		}
	}
}

// scale6 unpacks six-bit scale j (0..15) of Q3_K.
func scale6(s []byte, j int) int {
	lo := s[j%8] >> (4 * (j / 8)) & 0xf
	hi := s[8+j%4] >> (2 * (j / 4)) & 3
	return int(lo | hi<<4)
}

// scaleMinK4 unpacks scale and min j (0..7) of Q4_K/Q5_K from 12 bytes:
// j < 4 sit in the low six bits of bytes j and j+4; j ≥ 4 have their low
// nibbles in byte j+4 and their top two bits in the spare top bits of
// bytes j−4 (scale) and j (min).
func scaleMinK4(j int, s []byte) (sc, m uint8) {
	if j < 4 {
		return s[j] & 63, s[j+4] & 63
	}
	return s[j+4]&0xf | s[j-4]>>6<<4, s[j+4]>>4 | s[j]>>6<<4
}

// Q4_K (144 B): d f16 | dmin f16 | scales[12] | qs[128]. Elements
// 64c..64c+31 are the low nibbles of qs[32c:32c+32], the next 32 the high
// nibbles, with (sc, m) pairs 2c and 2c+1; x = d·sc·q − dmin·m.
func dequantQ4K(dst []float32, src []byte) {
	for b := range len(dst) / qkK {
		blk := src[144*b : 144*b+144]
		y := dst[qkK*b : qkK*b+qkK] // (256,)
		d, dmin := f16At(blk), f16At(blk[2:])
		scales := blk[4:16]
		for c := range 4 {
			q := blk[16+32*c : 16+32*c+32]
			s1, m1 := scaleMinK4(2*c, scales)
			s2, m2 := scaleMinK4(2*c+1, scales)
			d1, dm1 := d*float32(s1), dmin*float32(m1)
			d2, dm2 := d*float32(s2), dmin*float32(m2)
			lo, hi := y[64*c:64*c+32], y[64*c+32:64*c+64]
			for l, v := range q {
				lo[l] = float32(d1*float32(v&0xf)) - dm1
				hi[l] = float32(d2*float32(v>>4)) - dm2
			}
		}
	}
}

// Q5_K (176 B): d f16 | dmin f16 | scales[12] | qh[32] | qs[128]. As Q4_K,
// plus a fifth bit: bit 2c of qh[l] for the low-nibble element, bit 2c+1
// for the high-nibble one.
func dequantQ5K(dst []float32, src []byte) {
	for b := range len(dst) / qkK {
		blk := src[176*b : 176*b+176]
		y := dst[qkK*b : qkK*b+qkK] // (256,)
		d, dmin := f16At(blk), f16At(blk[2:])
		scales, qh := blk[4:16], blk[16:48]
		for c := range 4 {
			q := blk[48+32*c : 48+32*c+32]
			s1, m1 := scaleMinK4(2*c, scales)
			s2, m2 := scaleMinK4(2*c+1, scales)
			d1, dm1 := d*float32(s1), dmin*float32(m1)
			d2, dm2 := d*float32(s2), dmin*float32(m2)
			lo, hi := y[64*c:64*c+32], y[64*c+32:64*c+64]
			for l, v := range q {
				h := qh[l] >> (2 * c)
				lo[l] = float32(d1*float32(v&0xf|h&1<<4)) - dm1
				hi[l] = float32(d2*float32(v>>4|h&2<<3)) - dm2
			}
		}
	}
}

// Q6_K (210 B): ql[128] | qh[64] | scales[16] int8 | d f16. In half h,
// element 128h+32k+l takes the low (k = 0, 1) or high (k = 2, 3) nibble of
// ql[64h+32(k%2)+l] and bits 2k..2k+1 of qh[32h+l]; x = d·sc·(q − 32) with
// sc = scales[e/16].
func dequantQ6K(dst []float32, src []byte) {
	for b := range len(dst) / qkK {
		blk := (*[210]byte)(src[210*b:])
		y := (*[qkK]float32)(dst[qkK*b:])
		// ggml forms d·sc before multiplying by q, so hoisting the 16
		// products out of the element loop changes no bit.
		var ds [16]float32
		d := f16At(blk[208:])
		for j := range ds {
			ds[j] = d * float32(int8(blk[192+j]))
		}
		for h := range 2 {
			ql, qh := (*[64]byte)(blk[64*h:]), (*[32]byte)(blk[128+32*h:])
			s := (*[8]float32)(ds[8*h:])
			yh := (*[128]float32)(y[128*h:])
			for l := range 32 {
				is := l / 16
				q1 := int(ql[l]&0xf|qh[l]&3<<4) - 32
				q2 := int(ql[l+32]&0xf|qh[l]>>2&3<<4) - 32
				q3 := int(ql[l]>>4|qh[l]>>4&3<<4) - 32
				q4 := int(ql[l+32]>>4|qh[l]>>6&3<<4) - 32
				yh[l] = s[is] * float32(q1)
				yh[l+32] = s[is+2] * float32(q2)
				yh[l+64] = s[is+4] * float32(q3)
				yh[l+96] = s[is+6] * float32(q4)
			}
		}
	}
}

// Q8_K (292 B): d f32 | qs[256] int8 | bsums[16] int16 (sums of 16
// quants, only for dot products); x = d·q.
func dequantQ8K(dst []float32, src []byte) {
	for b := range len(dst) / qkK {
		blk := src[292*b : 292*b+292]
		y := dst[qkK*b : qkK*b+qkK] // (256,)
		d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
		for j, q := range blk[4:260] {
			y[j] = d * float32(int8(q))
		}
	}
}

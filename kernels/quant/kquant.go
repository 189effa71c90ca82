package quant

import (
	"encoding/binary"
	"math"
)

// Reference quantizers of the k-quants (ggml's quantize_row_*_ref). Each
// works in two passes per super-block: fit every sub-block on its own
// (search.go), quantize the sub-block scales (and mins) against the largest
// one, then requantize the elements with the scales as stored, so the
// levels agree with what dequantization will compute.

// The make_qkx2_quants settings of each type with mins.
var (
	searchQ2K = qkx2{nmax: 3, rmin: -0.5, rdelta: 0.1, nstep: 15, useMAD: true}
	searchQ4K = qkx2{nmax: 15, rmin: -1, rdelta: 0.1, nstep: 20}
	searchQ5K = qkx2{nmax: 31, rmin: -0.5, rdelta: 0.1, nstep: 15}
)

func quantQ2K(dst []byte, src []float32) {
	var (
		L              [qkK]uint8 // (256,) levels 0..3
		laux           [16]uint8
		w              [16]float32
		scales, mins   [16]float32
		maxScl, maxMin float32
	)
	for b := range len(src) / qkK {
		x := src[qkK*b : qkK*b+qkK] // (256,)
		blk := dst[84*b : 84*b+84]
		maxScl, maxMin = 0, 0
		for j := range 16 {
			xs := x[16*j : 16*j+16]
			for l, v := range xs {
				w[l] = abs32(v)
			}
			scales[j], mins[j] = searchQ2K.makeQuants(xs, w[:], L[16*j:16*j+16], laux[:])
			maxScl = maxIfGreater(maxScl, scales[j])
			maxMin = maxIfGreater(maxMin, mins[j])
		}
		sc := blk[0:16]
		clear(sc)
		d, dmin := float32(0), float32(0)
		if maxScl > 0 {
			iscale := 15 / maxScl
			for j := range sc {
				sc[j] = uint8(nearestInt(iscale * scales[j]))
			}
			d = maxScl / 15
		}
		if maxMin > 0 {
			iscale := 15 / maxMin
			for j := range sc {
				sc[j] |= uint8(nearestInt(iscale*mins[j]) << 4)
			}
			dmin = maxMin / 15
		}
		d, dmin = putF16(blk[80:], d), putF16(blk[82:], dmin)
		for j := range 16 {
			dl := d * float32(sc[j]&0xf)
			if dl == 0 {
				continue // keep the first-pass levels, as ggml does
			}
			ml := dmin * float32(sc[j]>>4)
			for i := 16 * j; i < 16*j+16; i++ {
				L[i] = uint8(clampInt(nearestInt((x[i]+ml)/dl), 0, 3))
			}
		}
		pack2Bit(blk[16:80], L[:])
	}
}

// pack2Bit stores 256 two-bit levels: element 128h+32j+l goes to bits
// 2j..2j+1 of qs[32h+l] (Q2_K and the low bits of Q3_K).
func pack2Bit(qs []byte, L []uint8) {
	for h := range 2 {
		for l := range 32 {
			e := 128*h + l
			qs[32*h+l] = L[e] | L[e+32]<<2 | L[e+64]<<4 | L[e+96]<<6
		}
	}
}

func quantQ3K(dst []byte, src []float32) {
	var (
		L      [qkK]int8 // (256,) levels 0..7
		scales [16]float32
	)
	for b := range len(src) / qkK {
		x := src[qkK*b : qkK*b+qkK] // (256,)
		blk := dst[110*b : 110*b+110]
		hmask, qs, sc := blk[0:32], blk[32:96], blk[96:108]
		var maxScl, amax float32
		for j := range 16 {
			scales[j] = makeQ3Quants(x[16*j:16*j+16], L[16*j:16*j+16], 4)
			if a := abs32(scales[j]); a > amax {
				amax, maxScl = a, scales[j]
			}
		}
		clear(sc)
		d := float32(0)
		if maxScl != 0 {
			iscale := -32 / maxScl
			for j := range 16 {
				l := clampInt(int(int8(nearestInt(iscale*scales[j]))), -32, 31) + 32
				sc[j%8] |= byte(l&0xf) << (4 * (j / 8))
				sc[8+j%4] |= byte(l>>4) << (2 * (j / 4))
			}
			d = 1 / iscale
		}
		d = putF16(blk[108:], d)
		for j := range 16 {
			dl := d * float32(scale6(sc, j)-32)
			if dl == 0 {
				continue
			}
			for i := 16 * j; i < 16*j+16; i++ {
				L[i] = int8(clampInt(nearestInt(x[i]/dl), -4, 3) + 4)
			}
		}
		// The third bit goes to hmask: element e is bit e/32 of hmask[e%32].
		var low [qkK]uint8
		clear(hmask)
		for e, l := range L {
			if l > 3 {
				hmask[e%32] |= 1 << (e / 32)
				l -= 4
			}
			low[e] = uint8(l)
		}
		pack2Bit(qs, low[:])
	}
}

func quantQ4K(dst []byte, src []float32) {
	var L [qkK]uint8 // (256,) levels 0..15
	for b := range len(src) / qkK {
		blk := dst[144*b : 144*b+144]
		quantScaleMinK(searchQ4K, blk[0:16], src[qkK*b:qkK*b+qkK], L[:])
		for c := range 4 {
			q := blk[16+32*c : 16+32*c+32]
			for l := range q {
				q[l] = L[64*c+l] | L[64*c+32+l]<<4
			}
		}
	}
}

func quantQ5K(dst []byte, src []float32) {
	var L [qkK]uint8 // (256,) levels 0..31
	for b := range len(src) / qkK {
		blk := dst[176*b : 176*b+176]
		quantScaleMinK(searchQ5K, blk[0:16], src[qkK*b:qkK*b+qkK], L[:])
		qh := blk[16:48]
		clear(qh)
		for c := range 4 {
			q := blk[48+32*c : 48+32*c+32]
			for l := range q {
				l1, l2 := L[64*c+l], L[64*c+32+l]
				qh[l] |= l1>>4<<(2*c) | l2>>4<<(2*c+1)
				q[l] = l1&0xf | l2&0xf<<4
			}
		}
	}
}

// quantScaleMinK is the part Q4_K and Q5_K share: it fits the eight
// sub-blocks of 32 of x (256,), writes d, dmin and the packed 6-bit scales
// and mins to hdr[0:16], and leaves the final levels in L (256,).
func quantScaleMinK(p qkx2, hdr []byte, x []float32, L []uint8) {
	var (
		laux           [32]uint8
		w              [32]float32
		scales, mins   [8]float32
		maxScl, maxMin float32
	)
	for j := range 8 {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := float32(math.Sqrt(float64(sumX2 / 32)))
		for l, v := range xs {
			w[l] = avX + abs32(v)
		}
		scales[j], mins[j] = p.makeQuants(xs, w[:], L[32*j:32*j+32], laux[:])
		maxScl = maxIfGreater(maxScl, scales[j])
		maxMin = maxIfGreater(maxMin, mins[j])
	}
	invScl, invMin := float32(0), float32(0)
	if maxScl > 0 {
		invScl = 63 / maxScl
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	sc := hdr[4:16]
	for j := range 8 {
		ls := min(63, uint8(nearestInt(invScl*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		if j < 4 {
			sc[j], sc[j+4] = ls, lm
		} else {
			sc[j+4] = ls&0xf | lm&0xf<<4
			sc[j-4] |= ls >> 4 << 6
			sc[j] |= lm >> 4 << 6
		}
	}
	d, dmin := putF16(hdr[0:], maxScl/63), putF16(hdr[2:], maxMin/63)
	for j := range 8 {
		s, m := scaleMinK4(j, sc)
		dl := d * float32(s)
		if dl == 0 {
			continue
		}
		dm := dmin * float32(m)
		for i := 32 * j; i < 32*j+32; i++ {
			L[i] = uint8(clampInt(nearestInt((x[i]+dm)/dl), 0, p.nmax))
		}
	}
}

func quantQ6K(dst []byte, src []float32) {
	var (
		L      [qkK]int8 // (256,) levels 0..63
		scales [16]float32
	)
	for b := range len(src) / qkK {
		x := src[qkK*b : qkK*b+qkK] // (256,)
		blk := dst[210*b : 210*b+210]
		var maxScl, maxAbs float32
		for j := range 16 {
			scales[j] = makeQxQuants(x[16*j:16*j+16], L[16*j:16*j+16], 32)
			if a := abs32(scales[j]); a > maxAbs {
				maxAbs, maxScl = a, scales[j]
			}
		}
		if maxAbs < groupMaxEps {
			clear(blk)
			continue
		}
		iscale := -128 / maxScl
		d := putF16(blk[208:], 1/iscale)
		sc := blk[192:208]
		for j := range sc {
			sc[j] = byte(int8(min(127, nearestInt(iscale*scales[j]))))
		}
		for j := range 16 {
			dl := d * float32(int8(sc[j]))
			if dl == 0 {
				continue
			}
			for i := 16 * j; i < 16*j+16; i++ {
				L[i] = int8(clampInt(nearestInt(x[i]/dl), -32, 31) + 32)
			}
		}
		packQ6K(blk[0:128], blk[128:192], L[:])
	}
}

// packQ6K splits 256 six-bit levels into nibbles (ql) and two-bit tops
// (qh) in the order dequantQ6K reads them.
func packQ6K(ql, qh []byte, L []int8) {
	for h := range 2 {
		for l := range 32 {
			e := 128*h + l
			l1, l2, l3, l4 := uint8(L[e]), uint8(L[e+32]), uint8(L[e+64]), uint8(L[e+96])
			ql[64*h+l] = l1&0xf | l3&0xf<<4
			ql[64*h+l+32] = l2&0xf | l4&0xf<<4
			qh[32*h+l] = l1>>4 | l2>>4<<2 | l3>>4<<4 | l4>>4<<6
		}
	}
}

// quantQ8K maps the element of largest magnitude to −127 (d is float32,
// so there is no scale rounding) and fills bsums for the dot products.
func quantQ8K(dst []byte, src []float32) {
	for b := range len(src) / qkK {
		x := src[qkK*b : qkK*b+qkK] // (256,)
		blk := dst[292*b : 292*b+292]
		amax, mx := signedAbsMax(x)
		if amax == 0 {
			clear(blk) // ggml leaves bsums stale here; zeros are what they mean
			continue
		}
		iscale := -127 / mx
		qs := blk[4:260]
		for j, v := range x {
			qs[j] = byte(int8(min(127, nearestInt(iscale*v))))
		}
		for j := range 16 {
			sum := 0
			for _, q := range qs[16*j : 16*j+16] {
				sum += int(int8(q))
			}
			binary.LittleEndian.PutUint16(blk[260+2*j:], uint16(int16(sum)))
		}
		binary.LittleEndian.PutUint32(blk, math.Float32bits(1/iscale))
	}
}

// maxIfGreater is ggml's "if (v > m) m = v" (NaN never wins).
func maxIfGreater(m, v float32) float32 {
	if v > m {
		return v
	}
	return m
}

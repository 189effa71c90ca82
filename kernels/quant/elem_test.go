package quant

import (
	"encoding/binary"
	"math"
	"testing"

	"spillway/kernels"
)

// refElem is the slow reference beside the block dequantizers: element e
// of one block, computed on its own straight from the byte map in doc.go,
// with the same float32 operation order as ggml. The fast loops walk bytes
// in ggml's order; this walks elements, so an index slip in either shows.
func refElem(dt kernels.DType, blk []byte, e int) float32 {
	f16 := func(o int) float32 { return f16ToF32Slow(binary.LittleEndian.Uint16(blk[o:])) }
	nib := func(o, i int) int { return int(blk[o+i%16] >> (4 * (i / 16)) & 0xf) } // legacy nibble order
	bit := func(o, i int) int { return int(binary.LittleEndian.Uint32(blk[o:]) >> i & 1) }
	switch dt {
	case kernels.F32:
		return math.Float32frombits(binary.LittleEndian.Uint32(blk))
	case kernels.F16:
		return f16(0)
	case kernels.BF16:
		return math.Float32frombits(uint32(binary.LittleEndian.Uint16(blk)) << 16)
	case kernels.Q4_0:
		return float32(nib(2, e)-8) * f16(0)
	case kernels.Q4_1:
		return float32(float32(nib(4, e))*f16(0)) + f16(2)
	case kernels.Q5_0:
		return float32(nib(6, e)+16*bit(2, e)-16) * f16(0)
	case kernels.Q5_1:
		return float32(float32(nib(8, e)+16*bit(4, e))*f16(0)) + f16(2)
	case kernels.Q8_0:
		return float32(int8(blk[2+e])) * f16(0)
	case kernels.Q8_1:
		return float32(int8(blk[4+e])) * f16(0)
	case kernels.Q8_K:
		return math.Float32frombits(binary.LittleEndian.Uint32(blk)) * float32(int8(blk[4+e]))
	}
	return refElemK(dt, blk, e)
}

func refElemK(dt kernels.DType, blk []byte, e int) float32 {
	f16 := func(o int) float32 { return f16ToF32Slow(binary.LittleEndian.Uint16(blk[o:])) }
	h, k, l := e/128, e%128/32, e%32 // half, group of 32 in the half, lane
	switch dt {
	case kernels.Q2_K:
		sc := blk[e/16]
		q := int(blk[16+32*h+l] >> (2 * k) & 3)
		dl, ml := f16(80)*float32(sc&0xf), f16(82)*float32(sc>>4)
		return float32(dl*float32(q)) - ml
	case kernels.Q3_K:
		q := int(blk[32+32*h+l]>>(2*k)&3) - 4
		if blk[l]>>(4*h+k)&1 == 1 {
			q += 4
		}
		return f16(108) * float32(q3Scales(blk[96:108])[e/16]-32) * float32(q)
	case kernels.Q4_K, kernels.Q5_K:
		c, hi := e/64, e%64/32
		qoff := 16
		if dt == kernels.Q5_K {
			qoff = 48
		}
		q := int(blk[qoff+32*c+l] >> (4 * hi) & 0xf)
		if dt == kernels.Q5_K {
			q += 16 * int(blk[16+l]>>(2*c+hi)&1)
		}
		sc, m := scaleMinK4(2*c+hi, blk[4:16])
		d1, m1 := f16(0)*float32(sc), f16(2)*float32(m)
		return float32(d1*float32(q)) - m1
	case kernels.Q6_K:
		low := int(blk[64*h+32*(k%2)+l] >> (4 * (k / 2)) & 0xf)
		top := int(blk[128+32*h+l] >> (2 * k) & 3)
		return f16(208) * float32(int8(blk[192+e/16])) * float32(low|top<<4-32)
	}
	panic("refElem: no reference for " + dt.String())
}

// q3Scales decodes Q3_K's 16 six-bit scales by whole 32-bit words (the way
// ggml's dequantizer does), unlike scale6's per-scale bit picking.
func q3Scales(s []byte) [16]int {
	const m1, m2 = 0x03030303, 0x0f0f0f0f
	a0, a1, tmp := binary.LittleEndian.Uint32(s), binary.LittleEndian.Uint32(s[4:]), binary.LittleEndian.Uint32(s[8:])
	words := [4]uint32{
		a0&m2 | (tmp&m1)<<4, a1&m2 | (tmp>>2&m1)<<4,
		a0>>4&m2 | (tmp>>4&m1)<<4, a1>>4&m2 | (tmp>>6&m1)<<4,
	}
	var out [16]int
	for i := range out {
		out[i] = int(words[i/4] >> (8 * (i % 4)) & 0xff)
	}
	return out
}

// checkAgainstRef dequantizes src with DequantizeRow and compares every
// element with refElem, bit for bit (NaN matches any NaN).
func checkAgainstRef(t testing.TB, dt kernels.DType, src []byte) {
	t.Helper()
	bs, bb := dt.BlockSize(), dt.BlockBytes()
	got := make([]float32, len(src)/bb*bs) // (n,)
	DequantizeRow(dt, got, src)
	for i, g := range got {
		w := refElem(dt, src[i/bs*bb:(i/bs+1)*bb], i%bs)
		if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
			t.Fatalf("%s element %d: DequantizeRow %g (%08x), reference %g (%08x)",
				dt, i, g, math.Float32bits(g), w, math.Float32bits(w))
		}
	}
}

func TestDequantizeMatchesElementReference(t *testing.T) {
	r := &rng{s: 11}
	for _, dt := range allTypes {
		t.Run(dt.String(), func(t *testing.T) {
			// Random bytes cover every level, sign and bit position; the
			// quantized golden input covers realistic scales.
			src := make([]byte, dt.RowBytes(64*kernels.QK_K))
			for i := range src {
				src[i] = byte(r.next())
			}
			checkAgainstRef(t, dt, src)
			x := goldenInput()[:64*kernels.QK_K]
			QuantizeRow(dt, src, x)
			checkAgainstRef(t, dt, src)
		})
	}
}

func FuzzDequantizeRow(f *testing.F) {
	f.Add(byte(3), make([]byte, 18))
	f.Add(byte(12), []byte{0xff, 0x7b, 0x01, 0x02})
	for i, dt := range allTypes {
		blk := make([]byte, dt.BlockBytes())
		for j := range blk {
			blk[j] = byte(37*j + i)
		}
		f.Add(byte(i), blk)
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		dt := allTypes[int(sel)%len(allTypes)]
		nb := min(len(data)/dt.BlockBytes(), 64)
		src := data[:nb*dt.BlockBytes()]
		if err := CheckRow(dt, nb*dt.BlockSize(), len(src)); err != nil {
			t.Fatal(err)
		}
		checkAgainstRef(t, dt, src)
	})
}

// FuzzQuantizeRow: any float input quantizes without a panic; finite input
// in range comes back within ErrorBound.
func FuzzQuantizeRow(f *testing.F) {
	f.Add(byte(9), make([]byte, 4*256))
	f.Add(byte(11), []byte{0, 0, 0x80, 0x7f, 0, 0, 0xc0, 0x7f})
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		dt := allTypes[int(sel)%len(allTypes)]
		n := min(len(data)/4, 2048)
		n = (n + dt.BlockSize() - 1) / dt.BlockSize() * dt.BlockSize()
		x := make([]float32, n) // (n,) zero-padded to whole blocks
		for i := range min(len(data)/4, n) {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		q := make([]byte, dt.RowBytes(n))
		QuantizeRow(dt, q, x)
		y := make([]float32, n)
		DequantizeRow(dt, y, q)
		bound := ErrorBound(dt, x)
		if math.IsInf(float64(bound), 1) {
			return
		}
		if e, i := maxAbsDiff(y, x); e > bound {
			t.Fatalf("%s: element %d: %g → %g, error %g above the bound %g", dt, i, x[i], y[i], e, bound)
		}
	})
}

package quant

import (
	"math"
	"testing"
)

// halfValue is the real value of a finite half, from its definition in
// float64 (exact): an independent check of the bit surgery.
func halfValue(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, mant := int(h>>10&0x1f), float64(h&0x3ff)
	if exp == 0 {
		return sign * math.Ldexp(mant, -24)
	}
	return sign * math.Ldexp(1024+mant, exp-25)
}

func isHalfNaN(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x3ff != 0 }

func TestF16ToF32Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := F16ToF32(h)
		if slow := f16ToF32Slow(h); math.Float32bits(got) != math.Float32bits(slow) {
			t.Fatalf("%04x: table %08x, slow %08x", h, math.Float32bits(got), math.Float32bits(slow))
		}
		switch {
		case isHalfNaN(h):
			if !math.IsNaN(float64(got)) || math.Float32bits(got)>>13&0x3ff != uint32(h&0x3ff) {
				t.Fatalf("%04x: NaN became %08x", h, math.Float32bits(got))
			}
		case h&0x7fff == 0x7c00:
			if !math.IsInf(float64(got), 0) || math.Signbit(float64(got)) != (h&0x8000 != 0) {
				t.Fatalf("%04x: want Inf, got %g", h, got)
			}
		default:
			if want := halfValue(h); float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
				t.Fatalf("%04x: got %g, want %g", h, got, want)
			}
		}
	}
}

// TestF16RoundTripExhaustive: every half survives half → float → half;
// signalling NaNs come back quiet, as F16C does.
func TestF16RoundTripExhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		want := h
		if isHalfNaN(h) {
			want |= 0x200
		}
		if got := F32ToF16(F16ToF32(h)); got != want {
			t.Fatalf("%04x → %g → %04x, want %04x", h, F16ToF32(h), got, want)
		}
	}
}

func TestBF16RoundTripExhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := BF16ToF32(h)
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("%04x: BF16ToF32 gave %08x", h, math.Float32bits(f))
		}
		want := h
		if h&0x7f80 == 0x7f80 && h&0x7f != 0 {
			want |= 0x40 // NaN: quieted
		}
		if got := F32ToBF16(f); got != want {
			t.Fatalf("%04x → %04x, want %04x", h, got, want)
		}
	}
}

// nearestHalf is the slow reference: scan the two finite halves around f
// (by magnitude) and pick the closer, ties to the even mantissa; past the
// largest half, round to Inf once f reaches the tie at 65520.
func nearestHalf(f float32) uint16 {
	v := float64(f)
	var sign uint16
	if math.Signbit(v) {
		sign, v = 0x8000, -v
	}
	if v >= 65520 {
		return sign | 0x7c00
	}
	lo := uint16(0)
	for step := uint16(1 << 14); step > 0; step >>= 1 { // largest half ≤ v
		if c := lo + step; c <= 0x7bff && halfValue(c) <= v {
			lo = c
		}
	}
	if lo == 0x7bff {
		return sign | lo
	}
	dlo, dhi := v-halfValue(lo), halfValue(lo+1)-v
	if dhi < dlo || dhi == dlo && lo&1 == 1 {
		lo++
	}
	return sign | lo
}

// nearestBF16 does the same for bfloat16 on the float32 bit pattern.
func nearestBF16(f float32) uint16 {
	u := math.Float32bits(f)
	lo := uint16(u >> 16)
	v := math.Abs(float64(f))
	dlo := v - math.Abs(float64(BF16ToF32(lo)))
	hiVal := math.Abs(float64(BF16ToF32(lo + 1)))
	if lo&0x7fff == 0x7f7f { // next step is Inf
		hiVal = math.Ldexp(1, 128)
	}
	dhi := hiVal - v
	if dhi < dlo || dhi == dlo && lo&1 == 1 {
		lo++
	}
	return lo
}

func trickyFloats() []float32 {
	p := func(e int) float32 { return float32(math.Ldexp(1, e)) }
	return []float32{
		0, float32(math.Copysign(0, -1)), 1, -1, 0.1, 1.0 / 3, 65504, 65519.996, 65520, 65536, 1e6,
		float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, p(-14), p(-14) - p(-25), p(-14) - p(-24), p(-24), p(-25),
		p(-25) + p(-40), 3 * p(-26), p(-26), 1 + p(-11), 1 + 3*p(-11), 1 + p(-11) + p(-20), 2049, 2051,
		-(1 + p(-11)), 1 + p(-8), 1 + 3*p(-8), 1 + p(-8) + p(-20), 3.3961e38, 3.39e38, 1e-39, -1e-39,
	}
}

func TestF16RoundingTable(t *testing.T) {
	r := &rng{s: 1}
	cases := trickyFloats()
	for range 200000 { // random bit patterns, biased to the half range
		u := uint32(r.next())
		u = u&0x80000000 | (0x30000000 + u%0x18000000)
		cases = append(cases, math.Float32frombits(u), math.Float32frombits(uint32(r.next())))
	}
	for _, f := range cases {
		if math.IsNaN(float64(f)) {
			continue
		}
		if got, want := F32ToF16(f), nearestHalf(f); got != want {
			t.Fatalf("F32ToF16(%g = %08x) = %04x, want %04x", f, math.Float32bits(f), got, want)
		}
		if got, want := F32ToBF16(f), nearestBF16(f); !math.IsInf(float64(f), 0) && got != want {
			t.Fatalf("F32ToBF16(%g = %08x) = %04x, want %04x", f, math.Float32bits(f), got, want)
		}
	}
}

func TestNaNStaysNaN(t *testing.T) {
	for _, u := range []uint32{0x7fc00000, 0xffc00000, 0x7f800001, 0x7f801fff, 0xff800001, 0x7fffffff} {
		f := math.Float32frombits(u)
		if h := F32ToF16(f); !isHalfNaN(h) || h>>15 != uint16(u>>31) {
			t.Errorf("F32ToF16(%08x) = %04x, not a NaN of the same sign", u, h)
		}
		if h := F32ToBF16(f); h&0x7f80 != 0x7f80 || h&0x7f == 0 || h>>15 != uint16(u>>31) {
			t.Errorf("F32ToBF16(%08x) = %04x, not a NaN of the same sign", u, h)
		}
	}
}

func TestSliceConversions(t *testing.T) {
	src := trickyFloats() // (n,)
	h := make([]uint16, len(src))
	back := make([]float32, len(src))
	F32ToF16Slice(h, src)
	F16ToF32Slice(back, h)
	for i, f := range src {
		if h[i] != F32ToF16(f) || math.Float32bits(back[i]) != math.Float32bits(F16ToF32(h[i])) {
			t.Fatalf("F16 slice %d: %04x/%g, scalar %04x/%g", i, h[i], back[i], F32ToF16(f), F16ToF32(h[i]))
		}
	}
	F32ToBF16Slice(h, src)
	BF16ToF32Slice(back, h)
	for i, f := range src {
		if h[i] != F32ToBF16(f) || math.Float32bits(back[i]) != uint32(h[i])<<16 {
			t.Fatalf("BF16 slice %d: %04x/%g, scalar %04x", i, h[i], back[i], F32ToBF16(f))
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("mismatched slice lengths did not panic")
		}
	}()
	F16ToF32Slice(make([]float32, 2), make([]uint16, 3))
}

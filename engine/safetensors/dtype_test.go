package safetensors

import (
	"encoding/binary"
	"math"
	"math/rand"
	"slices"
	"sort"
	"testing"
)

// refF16ToF32 is the slow reference: the binary16 formula in float64.
func refF16ToF32(h uint16) float32 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, mant := int(h>>10)&0x1f, float64(h&0x3ff)
	switch {
	case exp == 0x1f && mant == 0:
		return float32(math.Inf(int(sign)))
	case exp == 0x1f:
		return float32(math.NaN())
	case exp == 0:
		return float32(sign * math.Ldexp(mant/1024, -14))
	}
	return float32(sign * math.Ldexp(1+mant/1024, exp-15))
}

// refNearest is the slow reference for rounding: a binary search over the
// positive finite codes (ordered like their values), the nearer neighbour
// winning and ties going to the even code; past the midpoint between the
// largest finite value and the next binade it is infinity.
func refNearest(x float32, decode func(uint16) float32, maxFinite uint16) uint16 {
	sign := uint16(0)
	if math.Signbit(float64(x)) {
		sign = 0x8000
	}
	a := math.Abs(float64(x))
	top := float64(decode(maxFinite))
	if a >= top+(top-float64(decode(maxFinite-1)))/2 {
		return sign | (maxFinite + 1)
	}
	hi := uint16(sort.Search(int(maxFinite)+1, func(i int) bool { return float64(decode(uint16(i))) >= a }))
	if float64(decode(hi)) == a || hi == 0 {
		return sign | hi
	}
	lo := hi - 1
	dl, dh := a-float64(decode(lo)), float64(decode(hi))-a
	if dl < dh || (dl == dh && lo&1 == 0) {
		return sign | lo
	}
	return sign | hi
}

func TestF16ToF32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got, want := F16ToF32(h), refF16ToF32(h)
		if math.IsNaN(float64(want)) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("F16ToF32(%#04x) = %v, want NaN", h, got)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("F16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
}

// roundingInputs are every code's value, the midpoints between neighbours
// (exact in float32) and one float32 ulp either side of each midpoint.
func roundingInputs(decode func(uint16) float32, maxFinite uint16) []float32 {
	var in []float32
	for h := uint16(0); h < maxFinite; h++ {
		m := float32((float64(decode(h)) + float64(decode(h+1))) / 2)
		in = append(in, decode(h), m, math.Nextafter32(m, 0), math.Nextafter32(m, 1e30))
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		in = append(in, math.Float32frombits(r.Uint32()&0x7fffffff))
	}
	return append(in, 65504, 65519.99, 65520, 1e-8, 2.9802322e-08, 3e-8, float32(math.Inf(1)))
}

func TestF32ToHalfMatchesReference(t *testing.T) {
	cases := []struct {
		name      string
		conv      func(float32) uint16
		decode    func(uint16) float32
		maxFinite uint16
	}{
		{"F16", F32ToF16, F16ToF32, 0x7bff},
		{"BF16", F32ToBF16, BF16ToF32, 0x7f7f},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, x := range roundingInputs(c.decode, c.maxFinite) {
				if math.IsNaN(float64(x)) {
					continue
				}
				for _, v := range []float32{x, -x} {
					if got, want := c.conv(v), refNearest(v, c.decode, c.maxFinite); got != want {
						t.Fatalf("%s(%g [%#08x]) = %#04x, want %#04x", c.name, v, math.Float32bits(v), got, want)
					}
				}
			}
			nan := float32(math.NaN())
			if got := c.decode(c.conv(nan)); !math.IsNaN(float64(got)) {
				t.Errorf("NaN converts to %v", got)
			}
		})
	}
}

func TestFloat32sDecodesEveryFloatType(t *testing.T) {
	want := []float32{0, 1, -2, 0.5, 96, -0.25}
	f64 := make([]byte, 8*len(want))
	for i, v := range want {
		binary.LittleEndian.PutUint64(f64[8*i:], math.Float64bits(float64(v)))
	}
	for _, dt := range []DType{F32, F16, BF16, F64} {
		data := f64
		if dt != F64 {
			var err error
			if data, err = EncodeFloat32s(dt, want); err != nil {
				t.Fatal(err)
			}
		}
		ti := TensorInfo{Name: "x", DType: dt, Shape: []int64{2, 3}, Data: data}
		got, err := ti.Float32s()
		if err != nil {
			t.Fatalf("%s: %v", dt, err)
		}
		if !slices.Equal(got, want) { // all values are exact in every type
			t.Errorf("%s: got %v, want %v", dt, got, want)
		}
		if ti.NumElements() != 6 {
			t.Errorf("%s: NumElements = %d", dt, ti.NumElements())
		}
	}
}

func TestNonFloatDTypes(t *testing.T) {
	ti := TensorInfo{Name: "ids", DType: I32, Shape: []int64{1}, Data: make([]byte, 4), File: "f"}
	if _, err := ti.Float32s(); err == nil {
		t.Error("Float32s of I32 succeeded")
	}
	if _, err := EncodeFloat32s(I8, []float32{1}); err == nil {
		t.Error("EncodeFloat32s(I8) succeeded")
	}
	sizes := map[DType]int{F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, Bool: 1, "F4": 0, "": 0}
	for dt, n := range sizes {
		if dt.Size() != n {
			t.Errorf("%q.Size() = %d, want %d", dt, dt.Size(), n)
		}
	}
}

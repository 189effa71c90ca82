package quant

import (
	"strings"
	"testing"

	"spillway/kernels"
)

func TestCheckRow(t *testing.T) {
	cases := []struct {
		dt      kernels.DType
		n, nb   int
		wantErr string // "" means valid
	}{
		{kernels.F32, 3, 12, ""},
		{kernels.F16, 0, 0, ""},
		{kernels.Q4_0, 64, 36, ""},
		{kernels.Q6_K, 512, 420, ""},
		{kernels.Q8_K, 256, 292, ""},
		{kernels.Q4_0, 48, 27, "not a multiple of the Q4_0 block size 32"},
		{kernels.Q4_K, 128, 72, "not a multiple of the Q4_K block size 256"},
		{kernels.Q8_0, -32, 0, "row length -32"},
		{kernels.Q8_0, 32, 33, "takes 34 bytes, got 33"},
		{kernels.BF16, 4, 16, "takes 8 bytes, got 16"},
		{kernels.DType(4), 32, 18, "unsupported tensor type DType(4)"},
		{kernels.DType(99), 1, 1, "unsupported tensor type DType(99)"},
	}
	for _, c := range cases {
		err := CheckRow(c.dt, c.n, c.nb)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("CheckRow(%s, %d, %d) = %v, want nil", c.dt, c.n, c.nb, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("CheckRow(%s, %d, %d) = %v, want an error containing %q", c.dt, c.n, c.nb, err, c.wantErr)
		}
	}
}

// TestMisuseNamesTheProblem: lengths that do not fit the type panic with
// CheckRow's message, never with an index error deep in a kernel.
func TestMisuseNamesTheProblem(t *testing.T) {
	cases := []struct {
		name string
		call func()
		want string
	}{
		{"dequantize short src", func() { DequantizeRow(kernels.Q4_0, make([]float32, 32), make([]byte, 17)) }, "DequantizeRow: a Q4_0 row of 32 elements takes 18 bytes, got 17"},
		{"dequantize partial block", func() { DequantizeRow(kernels.Q6_K, make([]float32, 100), make([]byte, 210)) }, "DequantizeRow: row length 100"},
		{"quantize long dst", func() { QuantizeRow(kernels.Q8_0, make([]byte, 35), make([]float32, 32)) }, "QuantizeRow: a Q8_0 row of 32 elements takes 34 bytes, got 35"},
		{"quantize unknown", func() { QuantizeRow(kernels.DType(5), nil, nil) }, "unsupported tensor type"},
		{"activation partial", func() { QuantizeActivationRow(kernels.Q8_1, make([]byte, 36), make([]float32, 31)) }, "QuantizeActivationRow: row length 31"},
		{"bound partial", func() { ErrorBound(kernels.Q2_K, make([]float32, 255)) }, "ErrorBound: row length 255"},
		{"bound unknown", func() { ErrorBound(kernels.DType(31), make([]float32, 8)) }, "ErrorBound: unsupported tensor type DType(31)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, c.want) {
					t.Fatalf("panic %v, want one containing %q", r, c.want)
				}
			}()
			c.call()
		})
	}
}

func TestVecDotType(t *testing.T) {
	want := map[kernels.DType]kernels.DType{
		kernels.F32: kernels.F32, kernels.F16: kernels.F16, kernels.BF16: kernels.BF16,
		kernels.Q4_0: kernels.Q8_0, kernels.Q5_0: kernels.Q8_0, kernels.Q8_0: kernels.Q8_0,
		kernels.Q4_1: kernels.Q8_1, kernels.Q5_1: kernels.Q8_1, kernels.Q8_1: kernels.Q8_1,
		kernels.Q2_K: kernels.Q8_K, kernels.Q3_K: kernels.Q8_K, kernels.Q4_K: kernels.Q8_K,
		kernels.Q5_K: kernels.Q8_K, kernels.Q6_K: kernels.Q8_K, kernels.Q8_K: kernels.Q8_K,
	}
	for _, dt := range allTypes {
		got := VecDotType(dt)
		if got != want[dt] {
			t.Errorf("VecDotType(%s) = %s, want %s", dt, got, want[dt])
		}
		// The activation row must tile like the weight row it meets.
		if dt.Quantized() && got.BlockSize() > dt.BlockSize() {
			t.Errorf("%s blocks of %d cannot pair with %s blocks of %d", got, got.BlockSize(), dt, dt.BlockSize())
		}
	}
}

// TestActivationRounding: the SIMD-style activation quantizer rounds ties
// to even where the reference rounds them away from zero, and agrees
// everywhere else.
func TestActivationRounding(t *testing.T) {
	x := make([]float32, 32) // (32,) amax 127: d = 1, so x is its own level
	x[0] = 127
	x[1], x[2], x[3], x[4] = 2.5, -2.5, 3.5, 0.25
	for _, c := range []struct {
		dt   kernels.DType
		qoff int
	}{{kernels.Q8_0, 2}, {kernels.Q8_1, 4}} {
		ref := make([]byte, c.dt.BlockBytes())
		act := make([]byte, c.dt.BlockBytes())
		QuantizeRow(c.dt, ref, x)
		QuantizeActivationRow(c.dt, act, x)
		wantRef := []int8{127, 3, -3, 4, 0}
		wantAct := []int8{127, 2, -2, 4, 0}
		for i := range wantRef {
			if r, a := int8(ref[c.qoff+i]), int8(act[c.qoff+i]); r != wantRef[i] || a != wantAct[i] {
				t.Errorf("%s x=%g: reference %d (want %d), activation %d (want %d)", c.dt, x[i], r, wantRef[i], a, wantAct[i])
			}
		}
	}
	k := make([]byte, kernels.Q8_K.BlockBytes())
	k2 := make([]byte, len(k))
	xs := goldenInput()[:256]
	QuantizeRow(kernels.Q8_K, k, xs)
	QuantizeActivationRow(kernels.Q8_K, k2, xs)
	if string(k) != string(k2) {
		t.Error("Q8_K activations should use the reference quantizer")
	}
}

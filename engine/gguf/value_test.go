package gguf

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"spillway/kernels"
)

func TestScalarAccessors(t *testing.T) {
	type want struct {
		u    uint64
		uOK  bool
		i    int64
		iOK  bool
		f    float64
		fOK  bool
		text string
	}
	tests := []struct {
		name string
		v    Value
		want want
	}{
		{"u8", Uint8Value(200), want{200, true, 200, true, 200, true, "200"}},
		{"negative i8", Int8Value(-3), want{0, false, -3, true, -3, true, "-3"}},
		{"i16", Int16Value(300), want{300, true, 300, true, 300, true, "300"}},
		{"u32 max", Uint32Value(math.MaxUint32), want{math.MaxUint32, true, math.MaxUint32, true, math.MaxUint32, true, "4294967295"}},
		{"negative i32", Int32Value(-7), want{0, false, -7, true, -7, true, "-7"}},
		{"u64 over int64", Uint64Value(1 << 63), want{1 << 63, true, 0, false, 1 << 63, true, "9223372036854775808"}},
		{"negative i64", Int64Value(math.MinInt64), want{0, false, math.MinInt64, true, math.MinInt64, true, "-9223372036854775808"}},
		{"f32", Float32Value(1e-5), want{0, false, 0, false, float64(float32(1e-5)), true, "1e-05"}},
		{"f64", Float64Value(0.1), want{0, false, 0, false, 0.1, true, "0.1"}},
		{"bool", BoolValue(true), want{0, false, 0, false, 0, false, "true"}},
		{"string", StringValue("7"), want{0, false, 0, false, 0, false, `"7"`}},
		{"array", Uint32sValue([]uint32{1}), want{0, false, 0, false, 0, false, "[uint32 × 1: 1]"}},
		{"zero Value", Value{}, want{0, false, 0, false, 0, false, "<invalid>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, uOK := tc.v.AsUint()
			i, iOK := tc.v.AsInt()
			f, fOK := tc.v.AsFloat()
			got := want{u, uOK, i, iOK, f, fOK, tc.v.String()}
			if got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestTypedOnlyAccessors(t *testing.T) {
	if b, ok := BoolValue(true).AsBool(); !b || !ok {
		t.Error("BoolValue(true).AsBool()")
	}
	if _, ok := Uint8Value(1).AsBool(); ok {
		t.Error("a uint8 converted to bool")
	}
	if s, ok := StringValue("x").AsString(); s != "x" || !ok {
		t.Error("StringValue.AsString")
	}
	if _, ok := (Value{}).AsString(); ok {
		t.Error("zero Value converted to string")
	}
	if _, ok := Uint8Value(1).AsString(); ok {
		t.Error("a uint8 converted to string")
	}
}

func TestArrayAccessors(t *testing.T) {
	tests := []struct {
		name    string
		v       Value
		strs    []string
		floats  []float32
		ints    []int32
		display string
	}{
		{"strings", StringsValue([]string{"a", "b"}), []string{"a", "b"}, nil, nil, `[string × 2: "a", "b"]`},
		{"float32s", Float32sValue([]float32{1.5, -2}), nil, []float32{1.5, -2}, nil, "[float32 × 2: 1.5, -2]"},
		{"float64s", Float64sValue([]float64{0.25}), nil, []float32{0.25}, nil, "[float64 × 1: 0.25]"},
		{"int32s", Int32sValue([]int32{-1, 2}), nil, []float32{-1, 2}, []int32{-1, 2}, "[int32 × 2: -1, 2]"},
		{"uint8s", Uint8sValue([]uint8{1, 255}), nil, []float32{1, 255}, []int32{1, 255}, "[uint8 × 2: 1, 255]"},
		{"int64s in range", Int64sValue([]int64{math.MinInt32}), nil, []float32{math.MinInt32}, []int32{math.MinInt32}, "[int64 × 1: -2147483648]"},
		{"uint32s out of int32", Uint32sValue([]uint32{1 << 31}), nil, []float32{1 << 31}, nil, "[uint32 × 1: 2147483648]"},
		{"bools", BoolsValue([]bool{true}), nil, nil, nil, "[bool × 1: true]"},
		{"long", Uint16sValue([]uint16{1, 2, 3, 4, 5, 6, 7}), nil, []float32{1, 2, 3, 4, 5, 6, 7}, []int32{1, 2, 3, 4, 5, 6, 7}, "[uint16 × 7: 1, 2, 3, 4, 5, 6, …]"},
		{"nested", ArrayValue(Array, Int8sValue([]int8{-1})), nil, nil, nil, "[array × 1: [int8 × 1: -1]]"},
		{"not an array", Uint32Value(3), nil, nil, nil, "3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, sOK := tc.v.AsStrings()
			f, fOK := tc.v.AsFloat32s()
			i, iOK := tc.v.AsInt32s()
			if !reflect.DeepEqual(s, tc.strs) || sOK != (tc.strs != nil) {
				t.Errorf("AsStrings = %v, %v", s, sOK)
			}
			if !reflect.DeepEqual(f, tc.floats) || fOK != (tc.floats != nil) {
				t.Errorf("AsFloat32s = %v, %v", f, fOK)
			}
			if !reflect.DeepEqual(i, tc.ints) || iOK != (tc.ints != nil) {
				t.Errorf("AsInt32s = %v, %v", i, iOK)
			}
			if got := tc.v.String(); got != tc.display {
				t.Errorf("String() = %s, want %s", got, tc.display)
			}
		})
	}
}

func TestValueDisplayBounded(t *testing.T) {
	long := StringValue("a" + strings.Repeat("é", 200)) // the cut falls inside a character
	if s := long.String(); len(s) > 2*displayString || !strings.Contains(s, "(401 bytes)") || strings.Contains(s, `\x`) {
		t.Errorf("long string displayed as %d bytes: %s", len(s), s)
	}
	big := StringsValue(make([]string, 1<<16))
	if s := big.String(); len(s) > 100 || !strings.HasPrefix(s, "[string × 65536: ") {
		t.Errorf("large array displayed as %q", s)
	}
}

func TestArrayValueIndex(t *testing.T) {
	v := ArrayValue(Float32, Float32Value(1), Float32Value(2))
	if e, ok := v.Index(1); !ok || e.Type() != Float32 {
		t.Fatalf("Index(1) = %v, %v", e, ok)
	}
	for _, i := range []int{-1, 2} {
		if _, ok := v.Index(i); ok {
			t.Errorf("Index(%d) succeeded on a 2-element array", i)
		}
	}
	if v.Len() != 2 || v.ElemType() != Float32 || !v.Valid() {
		t.Errorf("Len %d ElemType %s Valid %v", v.Len(), v.ElemType(), v.Valid())
	}
}

func TestConstructorsCopy(t *testing.T) {
	s := []int32{1, 2}
	v := Int32sValue(s)
	s[0] = 99
	if got, _ := v.AsInt32s(); got[0] != 1 {
		t.Fatal("Int32sValue aliases its argument")
	}
}

// TestTypesMatchKernels pins the promise that a gguf.Type converts to a
// kernels.DType by a cast: same ids, names and block layouts.
func TestTypesMatchKernels(t *testing.T) {
	n := 0
	for _, typ := range Types() {
		d := kernels.DType(typ)
		if !d.Known() {
			continue
		}
		n++
		if d.String() != typ.String() || d.BlockSize() != typ.BlockSize() || d.BlockBytes() != typ.TypeSize() {
			t.Errorf("%s: kernels says %s %d/%d, gguf says %d/%d", typ, d, d.BlockSize(), d.BlockBytes(), typ.BlockSize(), typ.TypeSize())
		}
	}
	if n < 15 {
		t.Errorf("only %d types known to kernels", n)
	}
}

func TestTypeTable(t *testing.T) {
	tests := []struct {
		typ        Type
		name       string
		block, tsz int
	}{
		{F32, "F32", 1, 4}, {F16, "F16", 1, 2}, {BF16, "BF16", 1, 2}, {F64, "F64", 1, 8},
		{I8, "I8", 1, 1}, {I16, "I16", 1, 2}, {I32, "I32", 1, 4}, {I64, "I64", 1, 8},
		{Q4_0, "Q4_0", 32, 18}, {Q4_1, "Q4_1", 32, 20}, {Q5_0, "Q5_0", 32, 22}, {Q5_1, "Q5_1", 32, 24},
		{Q8_0, "Q8_0", 32, 34}, {Q8_1, "Q8_1", 32, 36},
		{Q2_K, "Q2_K", 256, 84}, {Q3_K, "Q3_K", 256, 110}, {Q4_K, "Q4_K", 256, 144},
		{Q5_K, "Q5_K", 256, 176}, {Q6_K, "Q6_K", 256, 210}, {Q8_K, "Q8_K", 256, 292},
		{IQ2_XXS, "IQ2_XXS", 256, 66}, {IQ2_XS, "IQ2_XS", 256, 74}, {IQ3_XXS, "IQ3_XXS", 256, 98},
		{IQ1_S, "IQ1_S", 256, 50}, {IQ4_NL, "IQ4_NL", 32, 18}, {IQ3_S, "IQ3_S", 256, 110},
		{IQ2_S, "IQ2_S", 256, 82}, {IQ4_XS, "IQ4_XS", 256, 136}, {IQ1_M, "IQ1_M", 256, 56},
		{TQ1_0, "TQ1_0", 256, 54}, {TQ2_0, "TQ2_0", 256, 66}, {MXFP4, "MXFP4", 32, 17},
		{NVFP4, "NVFP4", 64, 36}, {Q1_0, "Q1_0", 128, 18},
		{Type(4), "Type(4)", 0, 0}, {Type(31), "Type(31)", 0, 0}, {Type(1 << 31), "Type(2147483648)", 0, 0},
	}
	for _, tc := range tests {
		if tc.typ.String() != tc.name || tc.typ.BlockSize() != tc.block || tc.typ.TypeSize() != tc.tsz {
			t.Errorf("%d: %s %d/%d, want %s %d/%d", uint32(tc.typ), tc.typ, tc.typ.BlockSize(), tc.typ.TypeSize(), tc.name, tc.block, tc.tsz)
		}
		if tc.block == 0 {
			continue
		}
		if p, err := ParseType(strings.ToLower(tc.name)); err != nil || p != tc.typ {
			t.Errorf("ParseType(%q) = %v, %v", strings.ToLower(tc.name), p, err)
		}
	}
	if len(Types()) != len(tests)-3 {
		t.Errorf("Types() lists %d types, the table above %d", len(Types()), len(tests)-3)
	}
	if _, err := ParseType("Q9_9"); err == nil {
		t.Error("ParseType accepted Q9_9")
	}
}

func TestValueTypeNames(t *testing.T) {
	for v, want := range map[ValueType]string{Uint8: "uint8", Array: "array", Float64: "float64", 13: "ValueType(13)"} {
		if v.String() != want {
			t.Errorf("%d: %s, want %s", uint32(v), v, want)
		}
	}
}

// TestArrayValueMatchesTyped builds each element type both ways: from
// Values with ArrayValue and from a Go slice with the typed constructor.
func TestArrayValueMatchesTyped(t *testing.T) {
	tests := []struct {
		elems []Value
		typed Value
	}{
		{[]Value{Uint8Value(1), Uint8Value(200)}, Uint8sValue([]uint8{1, 200})},
		{[]Value{Int8Value(-1)}, Int8sValue([]int8{-1})},
		{[]Value{Uint16Value(65535)}, Uint16sValue([]uint16{65535})},
		{[]Value{Int16Value(-300)}, Int16sValue([]int16{-300})},
		{[]Value{Uint32Value(7)}, Uint32sValue([]uint32{7})},
		{[]Value{Int32Value(-7)}, Int32sValue([]int32{-7})},
		{[]Value{Uint64Value(1 << 63)}, Uint64sValue([]uint64{1 << 63})},
		{[]Value{Int64Value(-1 << 62)}, Int64sValue([]int64{-1 << 62})},
		{[]Value{Float32Value(0.5)}, Float32sValue([]float32{0.5})},
		{[]Value{Float64Value(-2.25)}, Float64sValue([]float64{-2.25})},
		{[]Value{BoolValue(true), BoolValue(false)}, BoolsValue([]bool{true, false})},
		{[]Value{StringValue("a"), StringValue("")}, StringsValue([]string{"a", ""})},
	}
	for _, tc := range tests {
		got := ArrayValue(tc.typed.ElemType(), tc.elems...)
		if !reflect.DeepEqual(got, tc.typed) {
			t.Errorf("ArrayValue(%s, ...) = %v, want %v", tc.typed.ElemType(), got, tc.typed)
		}
		for i, e := range tc.elems {
			if back, _ := got.Index(i); !reflect.DeepEqual(back, e) {
				t.Errorf("%s element %d: Index gives %v, want %v", tc.typed.ElemType(), i, back, e)
			}
		}
	}
	if err := ArrayValue(ValueType(13)).err; err == nil {
		t.Error("ArrayValue accepted element type 13")
	}
	if err := ArrayValue(Uint8, Value{}).err; err == nil {
		t.Error("ArrayValue accepted the zero Value as a uint8")
	}
}

func TestFileAccessors(t *testing.T) {
	f, err := Parse(smallFile(t))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got any, ok bool, want any, wantOK bool) {
		t.Helper()
		if ok != wantOK || (ok && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s = %v, %v; want %v, %v", name, got, ok, want, wantOK)
		}
	}
	u, ok := f.Uint("llama.block_count")
	check("Uint", u, ok, uint64(2), true)
	i, ok := f.Int("llama.block_count")
	check("Int", i, ok, int64(2), true)
	fl, ok := f.Float("llama.rope.freq_base")
	check("Float", fl, ok, float64(10000), true)
	b, ok := f.Bool("tokenizer.ggml.add_bos_token")
	check("Bool", b, ok, true, true)
	s, ok := f.String("general.architecture")
	check("String", s, ok, "llama", true)
	ss, ok := f.Strings("tokenizer.ggml.tokens")
	check("Strings", ss, ok, []string{"<unk>", "<s>", "</s>", "▁a"}, true)
	fs, ok := f.Float32s("tokenizer.ggml.scores")
	check("Float32s", fs, ok, []float32{0, -1, -2, -3.5}, true)
	_, ok = f.Int32s("tokenizer.ggml.scores")
	check("Int32s of floats", nil, ok, nil, false)
	_, ok = f.Uint("missing")
	check("Uint of a missing key", nil, ok, nil, false)
	_, ok = f.Bool("general.architecture")
	check("Bool of a string", nil, ok, nil, false)
	_, ok = f.Float("general.architecture")
	check("Float of a string", nil, ok, nil, false)
	_, ok = f.Tensor("missing.weight")
	check("Tensor of a missing name", nil, ok, nil, false)
	if ti, ok := f.Tensor("token_embd.weight"); !ok || ti.Type != Q8_0 || !ti.Type.Quantized() || F16.Quantized() {
		t.Errorf("Tensor(token_embd.weight) = %+v, %v", ti, ok)
	}
	if f.TensorData(nil) != nil || f.TensorData(&TensorInfo{Offset: 1 << 40, Size: 4}) != nil || f.TensorData(&TensorInfo{Size: -1}) != nil {
		t.Error("TensorData returned bytes for an entry outside the file")
	}
}

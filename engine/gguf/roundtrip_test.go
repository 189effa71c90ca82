package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// allValues has one value of every type, edge values included, and arrays
// of every element type, nested arrays and empty arrays.
func allValues() []KV {
	return []KV{
		{"u8", Uint8Value(math.MaxUint8)},
		{"i8", Int8Value(math.MinInt8)},
		{"u16", Uint16Value(math.MaxUint16)},
		{"i16", Int16Value(math.MinInt16)},
		{"u32", Uint32Value(math.MaxUint32)},
		{"i32", Int32Value(math.MinInt32)},
		{"f32", Float32Value(-1.5e-7)},
		{"bool.false", BoolValue(false)},
		{"bool.true", BoolValue(true)},
		{"str", StringValue("héllo ▁wörld\x00\xff")},
		{"str.empty", StringValue("")},
		{"u64", Uint64Value(math.MaxUint64)},
		{"i64", Int64Value(math.MinInt64)},
		{"f64", Float64Value(math.Pi)},
		{"a.u8", Uint8sValue([]uint8{0, 1, 255})},
		{"a.i8", Int8sValue([]int8{-128, 0, 127})},
		{"a.u16", Uint16sValue([]uint16{0, 65535})},
		{"a.i16", Int16sValue([]int16{-32768, 32767})},
		{"a.u32", Uint32sValue([]uint32{0, math.MaxUint32})},
		{"a.i32", Int32sValue([]int32{math.MinInt32, -1, math.MaxInt32})},
		{"a.f32", Float32sValue([]float32{0, -0.25, float32(math.Inf(1)), math.SmallestNonzeroFloat32})},
		{"a.bool", BoolsValue([]bool{true, false, true})},
		{"a.str", StringsValue([]string{"", "a", "▁b", strings.Repeat("z", 300)})},
		{"a.u64", Uint64sValue([]uint64{0, math.MaxUint64})},
		{"a.i64", Int64sValue([]int64{math.MinInt64, math.MaxInt64})},
		{"a.f64", Float64sValue([]float64{math.E, -0.0, math.MaxFloat64})},
		{"a.empty", StringsValue(nil)},
		{"a.via.ArrayValue", ArrayValue(Uint16, Uint16Value(7), Uint16Value(9))},
		{"a.nested", ArrayValue(Array,
			Int32sValue([]int32{1, 2, 3}),
			StringsValue([]string{"x", "y"}),
			ArrayValue(Array, Float64sValue([]float64{0.5}), ArrayValue(Bool)),
			ArrayValue(Uint8))},
	}
}

func TestRoundTripValuesAndTypes(t *testing.T) {
	w := NewWriter()
	for _, kv := range allValues() {
		w.Add(kv.Key, kv.Value)
	}
	types := Types()
	for i, typ := range types {
		// two rows of two blocks each: the smallest shape that still
		// exercises the row stride
		dims := []uint64{uint64(2 * typ.BlockSize()), 2}
		if err := w.AddTensor(fmt.Sprintf("t%02d.%s", i, typ), typ, dims); err != nil {
			t.Fatal(err)
		}
	}
	data := writeBytes(t, w, patternData)
	if size, err := w.Size(); err != nil || size != int64(len(data)) {
		t.Fatalf("Size() = %d, %v; wrote %d", size, err, len(data))
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 32 || f.DataOffset%32 != 0 {
		t.Errorf("version %d alignment %d data offset %d", f.Version, f.Alignment, f.DataOffset)
	}
	if !reflect.DeepEqual(f.KV, allValues()) {
		for i, kv := range allValues() {
			if i < len(f.KV) && !reflect.DeepEqual(f.KV[i], kv) {
				t.Errorf("key %q: read %v, wrote %v", kv.Key, f.KV[i].Value, kv.Value)
			}
		}
		t.Fatalf("read %d keys, wrote %d", len(f.KV), len(allValues()))
	}
	if len(f.Tensors) != len(types) {
		t.Fatalf("read %d tensors, wrote %d", len(f.Tensors), len(types))
	}
	for i, ti := range f.Tensors {
		want := int64(4 * types[i].TypeSize())
		if ti.Type != types[i] || ti.Size != want || ti.Offset%32 != 0 || ti.Elements() != int64(4*types[i].BlockSize()) {
			t.Errorf("tensor %q: %+v, want type %s size %d", ti.Name, ti, types[i], want)
		}
		if !bytes.Equal(f.TensorData(&ti), pattern(i, want)) {
			t.Errorf("tensor %q: data differs", ti.Name)
		}
	}
	checkInvariants(t, f)
}

func TestWriterAlignment(t *testing.T) {
	w := NewWriter()
	w.Add(AlignmentKey, Uint32Value(64))
	for _, name := range []string{"a", "b", "c"} {
		if err := w.AddTensor(name, F32, []uint64{5}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := Parse(writeBytes(t, w, patternData))
	if err != nil {
		t.Fatal(err)
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 {
		t.Fatalf("alignment %d data offset %d", f.Alignment, f.DataOffset)
	}
	for i, ti := range f.Tensors {
		if ti.Offset != uint64(64*i) {
			t.Errorf("tensor %q offset %d, want %d", ti.Name, ti.Offset, 64*i)
		}
	}
}

func TestWriterRejects(t *testing.T) {
	tests := []struct {
		name string
		do   func(w *Writer) error
		want string
	}{
		{"unknown type", func(w *Writer) error { return w.AddTensor("x", Type(4), []uint64{4}) }, "unknown tensor type id 4"},
		{"row not whole blocks", func(w *Writer) error { return w.AddTensor("x", Q4_K, []uint64{128, 2}) }, "not a multiple of the Q4_K block size 256"},
		{"no dims", func(w *Writer) error { return w.AddTensor("x", F32, nil) }, "0 dims"},
		{"five dims", func(w *Writer) error { return w.AddTensor("x", F32, []uint64{1, 1, 1, 1, 1}) }, "5 dims"},
		{"zero dim", func(w *Writer) error { return w.AddTensor("x", F32, []uint64{4, 0}) }, "dim 1 of [4 0] is zero"},
		{"overflow", func(w *Writer) error { return w.AddTensor("x", F32, []uint64{1 << 40, 1 << 40}) }, "overflows int64"},
		{"empty name", func(w *Writer) error { return w.AddTensor("", F32, []uint64{4}) }, "empty name"},
		{"long name", func(w *Writer) error { return w.AddTensor(strings.Repeat("n", 64), F32, []uint64{4}) }, "longer than 63"},
		{"duplicate tensor", func(w *Writer) error {
			w.AddTensor("x", F32, []uint64{4})
			return w.AddTensor("x", F16, []uint64{4})
		}, `tensor "x" added twice`},
		{"alignment type", func(w *Writer) error { w.Add(AlignmentKey, Uint64Value(32)); return w.Err() }, "uint32 power of two"},
		{"alignment value", func(w *Writer) error { w.Add(AlignmentKey, Uint32Value(48)); return w.Err() }, "uint32 power of two"},
		{"zero value", func(w *Writer) error { w.Add("k", Value{}); return w.Err() }, "zero Value"},
		{"mixed array", func(w *Writer) error {
			w.Add("k", ArrayValue(Uint32, Uint32Value(1), Int32Value(2)))
			_, err := w.WriteTo(io.Discard, nil)
			return err
		}, "element 1 has type int32"},
		{"too deep", func(w *Writer) error {
			v := Uint8sValue(nil)
			for range maxDepth {
				v = ArrayValue(Array, v)
			}
			w.Add("k", v)
			return w.Err()
		}, "nested deeper than 8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do(NewWriter())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWriterDataCallback(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		data DataFunc
		want string
	}{
		{"short", func(i int, ti TensorInfo, w io.Writer) error { _, err := w.Write(make([]byte, ti.Size-1)); return err },
			"wrote 31 bytes, want 32"},
		{"long", func(i int, ti TensorInfo, w io.Writer) error { _, err := w.Write(make([]byte, ti.Size+1)); return err },
			"past the tensor's end (1 bytes too many)"},
		{"failing", func(int, TensorInfo, io.Writer) error { return boom }, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter()
			w.AddTensor("x", F32, []uint64{8})
			_, err := w.WriteTo(io.Discard, tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `tensor "x"`) {
				t.Fatalf("error %v, want one naming the tensor and containing %q", err, tc.want)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.gguf")
	if err := WriteFile(path, smallWriter(t), patternData); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Architecture() != "llama" || len(f.Tensors) != 3 || f.Size() != int64(len(smallFile(t))) {
		t.Errorf("arch %q, %d tensors, %d bytes", f.Architecture(), len(f.Tensors), f.Size())
	}
	checkInvariants(t, f)
	if err := f.Close(); err != nil || f.TensorData(&f.Tensors[0]) != nil {
		t.Fatalf("Close: %v; data still reachable after Close", err)
	}
	// a failing write leaves neither the target nor a temporary behind
	bad := filepath.Join(dir, "bad.gguf")
	if err := WriteFile(bad, smallWriter(t), func(int, TensorInfo, io.Writer) error { return io.ErrUnexpectedEOF }); err == nil {
		t.Fatal("WriteFile succeeded with a failing callback")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("directory holds %d entries after a failed write, want 1", len(ents))
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.gguf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "missing.gguf"): "no such file",
		dir:                                "not a regular file",
		empty:                              "is empty",
	} {
		if _, err := Open(path); err == nil || !strings.HasPrefix(err.Error(), "gguf: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", path, err, want)
		}
	}
}

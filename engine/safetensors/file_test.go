package safetensors

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWriteParseRoundTrip(t *testing.T) {
	bf, _ := EncodeFloat32s(BF16, []float32{1, 2, 3, 4, 5, 6})
	cases := []struct {
		name    string
		meta    map[string]string
		tensors []TensorInfo
	}{
		{"one F32", nil, []TensorInfo{f32("w", 1, 3, 4)}},
		{"mixed dtypes", map[string]string{"format": "pt"}, []TensorInfo{
			f32("b.weight", 2, 5),
			{Name: "a.weight", DType: BF16, Shape: []int64{2, 3}, Data: bf},
			{Name: "ids", DType: I64, Shape: []int64{2}, Data: make([]byte, 16)},
			{Name: "mask", DType: U8, Shape: []int64{3}, Data: []byte{1, 0, 1}},
		}},
		{"scalar and empty", nil, []TensorInfo{
			{Name: "scale", DType: F32, Shape: []int64{}, Data: make([]byte, 4)},
			{Name: "nothing", DType: F16, Shape: []int64{0, 7}, Data: nil},
			f32("after", 3, 2),
		}},
		{"unicode names", map[string]string{"note": "ünïcode ✓"}, []TensorInfo{f32("层.0.权重", 1, 2)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := encode(t, c.meta, c.tensors...)
			if hdr := binary.LittleEndian.Uint64(data); (8+hdr)%8 != 0 {
				t.Errorf("header length %d leaves the data area unaligned", hdr)
			}
			f, err := Parse(data, "mem")
			if err != nil {
				t.Fatal(err)
			}
			got := f.Tensors()
			if len(got) != len(c.tensors) {
				t.Fatalf("got %d tensors, want %d", len(got), len(c.tensors))
			}
			if !slices.IsSortedFunc(got, func(a, b TensorInfo) int { return strings.Compare(a.Name, b.Name) }) {
				t.Error("Tensors() is not sorted by name")
			}
			for _, want := range c.tensors {
				g, ok := f.Tensor(want.Name)
				if !ok {
					t.Fatalf("tensor %q missing", want.Name)
				}
				if g.DType != want.DType || !slices.Equal(g.Shape, want.Shape) || !bytes.Equal(g.Data, want.Data) || g.File != "mem" {
					t.Errorf("tensor %q: got %s %v %d bytes from %q", want.Name, g.DType, g.Shape, len(g.Data), g.File)
				}
				if len(g.Data) > 0 && !bytes.Equal(data[g.Offset:g.Offset+int64(len(g.Data))], want.Data) {
					t.Errorf("tensor %q: Offset %d does not locate its data", want.Name, g.Offset)
				}
			}
			for k, v := range c.meta {
				if f.Metadata()[k] != v {
					t.Errorf("metadata %q = %q, want %q", k, f.Metadata()[k], v)
				}
			}
		})
	}
}

func TestAliasFromMetadata(t *testing.T) {
	meta := map[string]string{"format": "pt", "model.embed_tokens.weight": "lm_head.weight", "ghost": "absent"}
	f, err := Parse(encode(t, meta, f32("lm_head.weight", 1, 4, 2)), "mem")
	if err != nil {
		t.Fatal(err)
	}
	emb, ok := f.Tensor("model.embed_tokens.weight")
	if !ok || emb.Name != "lm_head.weight" {
		t.Fatalf("alias lookup = %v, %v; want the lm_head tensor", emb, ok)
	}
	if _, ok := f.Tensor("ghost"); ok {
		t.Error("an alias to a missing tensor resolved")
	}
	if _, ok := f.Tensor("format"); ok {
		t.Error(`metadata "format" was taken for an alias`)
	}
	if len(f.Tensors()) != 1 || len(f.Aliases()) != 1 {
		t.Errorf("Tensors() = %d entries, Aliases() = %v; want 1 and one alias", len(f.Tensors()), f.Aliases())
	}
}

func TestWriteRejects(t *testing.T) {
	cases := []struct {
		name string
		t    TensorInfo
	}{
		{"short data", TensorInfo{Name: "x", DType: F32, Shape: []int64{2}, Data: make([]byte, 7)}},
		{"long data", TensorInfo{Name: "x", DType: F32, Shape: []int64{2}, Data: make([]byte, 9)}},
		{"negative dim", TensorInfo{Name: "x", DType: F32, Shape: []int64{-1}, Data: nil}},
		{"unknown dtype", TensorInfo{Name: "x", DType: "F4", Shape: []int64{2}, Data: make([]byte, 1)}},
		{"empty name", TensorInfo{Name: "", DType: U8, Shape: []int64{1}, Data: []byte{1}}},
		{"reserved name", TensorInfo{Name: "__metadata__", DType: U8, Shape: []int64{1}, Data: []byte{1}}},
		{"bad utf-8", TensorInfo{Name: "\xff", DType: U8, Shape: []int64{1}, Data: []byte{1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Write(&bytes.Buffer{}, nil, c.t); err == nil {
				t.Error("Write succeeded")
			}
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		if err := Write(&bytes.Buffer{}, nil, f32("x", 1, 1), f32("x", 2, 1)); err == nil {
			t.Error("Write succeeded")
		}
	})
}

func TestOpenFileMapsAndCloses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	want := f32("w", 0.5, 8, 16)
	if err := WriteFile(path, nil, want); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := f.Tensor("w")
	if !ok || got.File != path {
		t.Fatalf("Tensor(w) = %v, %v", got, ok)
	}
	vals, err := got.Float32s()
	if err != nil || vals[127] != 64 {
		t.Fatalf("Float32s: %v, last = %v, want 64", err, vals[127])
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, ok := f.Tensor("w"); ok {
		t.Error("Tensor after Close still hands out a view")
	}
}

package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
)

// smallWriter builds the small valid file the corruption tests and the fuzz
// seeds start from: a few values of several kinds and three tensors.
func smallWriter(tb testing.TB) *Writer {
	tb.Helper()
	w := NewWriter()
	w.Add("general.architecture", StringValue("llama"))
	w.Add("llama.block_count", Uint32Value(2))
	w.Add("llama.rope.freq_base", Float32Value(10000))
	w.Add("tokenizer.ggml.add_bos_token", BoolValue(true))
	w.Add("tokenizer.ggml.tokens", StringsValue([]string{"<unk>", "<s>", "</s>", "▁a"}))
	w.Add("tokenizer.ggml.scores", Float32sValue([]float32{0, -1, -2, -3.5}))
	w.Add("nested", ArrayValue(Array, Int32sValue([]int32{1, -2}), StringsValue([]string{"x"})))
	for _, t := range []struct {
		name string
		typ  Type
		dims []uint64
	}{
		{"output_norm.weight", F32, []uint64{8}},
		{"token_embd.weight", Q8_0, []uint64{32, 2}},
		{"blk.0.attn_q.weight", F16, []uint64{4, 3}},
	} {
		if err := w.AddTensor(t.name, t.typ, t.dims); err != nil {
			tb.Fatal(err)
		}
	}
	return w
}

// patternData fills tensor i with bytes that differ per tensor and per
// position, so a misplaced tensor shows up as wrong bytes.
func patternData(i int, t TensorInfo, w io.Writer) error {
	_, err := w.Write(pattern(i, t.Size))
	return err
}

func pattern(i int, n int64) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*37 + j*11 + 1)
	}
	return b
}

func writeBytes(tb testing.TB, w *Writer, data DataFunc) []byte {
	tb.Helper()
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf, data)
	if err != nil {
		tb.Fatal(err)
	}
	if n != int64(buf.Len()) {
		tb.Fatalf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

func smallFile(tb testing.TB) []byte {
	return writeBytes(tb, smallWriter(tb), patternData)
}

// raw assembles hand-made (usually hostile) GGUF bytes.
type raw struct{ b []byte }

func header(version uint32, nTensors, nKV uint64) *raw {
	r := &raw{b: []byte(magic)}
	return r.u32(version).u64(nTensors).u64(nKV)
}

func (r *raw) u8(v byte) *raw { r.b = append(r.b, v); return r }
func (r *raw) u32(v uint32) *raw {
	r.b = binary.LittleEndian.AppendUint32(r.b, v)
	return r
}
func (r *raw) u64(v uint64) *raw {
	r.b = binary.LittleEndian.AppendUint64(r.b, v)
	return r
}
func (r *raw) str(s string) *raw { r.u64(uint64(len(s))); r.b = append(r.b, s...); return r }

// kv appends a key and a value type tag; the caller appends the value.
func (r *raw) kv(key string, t ValueType) *raw { return r.str(key).u32(uint32(t)) }

func (r *raw) tensor(name string, typ Type, off uint64, dims ...uint64) *raw {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.u64(d)
	}
	return r.u32(uint32(typ)).u64(off)
}

// pad appends zeros up to a multiple of 32 and then n data bytes.
func (r *raw) pad(n int) *raw {
	for len(r.b)%defaultAlignment != 0 {
		r.b = append(r.b, 0)
	}
	r.b = append(r.b, make([]byte, n)...)
	return r
}

// checkInvariants verifies, for a File that parsed, the promises of the
// package documentation, and that writing it back gives a file that
// parses to the same content.
func checkInvariants(tb testing.TB, f *File) {
	tb.Helper()
	if a := f.Alignment; a <= 0 || a&(a-1) != 0 {
		tb.Fatalf("alignment %d", a)
	}
	for i, kv := range f.KV {
		if v, ok := f.Lookup(kv.Key); !ok || f.keys[kv.Key] != i {
			tb.Fatalf("key %q: lookup %v %v", kv.Key, v, ok)
		}
		_ = kv.Value.String()
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if got, ok := f.Tensor(t.Name); !ok || got != t {
			tb.Fatalf("tensor %q: lookup gives another entry", t.Name)
		}
		if !t.Type.Known() || len(t.Dims) > maxDims || t.Offset%uint64(f.Alignment) != 0 {
			tb.Fatalf("tensor %q: bad entry %+v", t.Name, t)
		}
		if d := f.TensorData(t); int64(len(d)) != t.Size || int64(cap(d)) != t.Size {
			tb.Fatalf("tensor %q: data len %d cap %d, size %d", t.Name, len(d), cap(d), t.Size)
		}
	}
	checkRewrite(tb, f)
}

// checkRewrite writes f back with the Writer, when the Writer accepts its
// content, and checks the result reads back the same and is a fixed point.
func checkRewrite(tb testing.TB, f *File) {
	tb.Helper()
	once, ok := rewrite(f)
	if !ok {
		return
	}
	g, err := Parse(once)
	if err != nil {
		tb.Fatalf("rewritten file does not parse: %v", err)
	}
	if len(g.KV) != len(f.KV) || len(g.Tensors) != len(f.Tensors) {
		tb.Fatalf("rewrite: %d keys %d tensors, want %d %d", len(g.KV), len(g.Tensors), len(f.KV), len(f.Tensors))
	}
	for i := range f.Tensors {
		a, b := &f.Tensors[i], &g.Tensors[i]
		if a.Name != b.Name || a.Type != b.Type || fmt.Sprint(a.Dims) != fmt.Sprint(b.Dims) ||
			!bytes.Equal(f.TensorData(a), g.TensorData(b)) {
			tb.Fatalf("rewrite: tensor %d differs: %+v vs %+v", i, a, b)
		}
	}
	twice, _ := rewrite(g)
	if !bytes.Equal(once, twice) {
		tb.Fatalf("rewrite is not a fixed point")
	}
}

// rewrite copies f's metadata and tensors into a Writer and writes it; ok
// is false when the Writer refuses something the reader tolerates.
func rewrite(f *File) ([]byte, bool) {
	w := NewWriter()
	for _, kv := range f.KV {
		w.Add(kv.Key, kv.Value)
	}
	for _, t := range f.Tensors {
		if w.AddTensor(t.Name, t.Type, t.Dims) != nil {
			return nil, false
		}
	}
	if w.Err() != nil {
		return nil, false
	}
	var buf bytes.Buffer
	_, err := w.WriteTo(&buf, func(i int, _ TensorInfo, out io.Writer) error {
		_, err := out.Write(f.TensorData(&f.Tensors[i]))
		return err
	})
	if err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

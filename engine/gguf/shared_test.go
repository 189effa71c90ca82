package gguf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spillway/internal/testenv"
)

// sharedFact is something the oracle README or the models MANIFEST states
// about a file, checked against what the reader sees.
type sharedFact struct {
	file     string // relative to ../shared
	arch     string
	tensors  int
	nTokens  int
	types    map[string]Type // tensor name -> type (README table 2.3)
	uints    map[string]uint64
	strs     map[string]string
	embdDims []uint64 // token_embd.weight dims, when the file has tensors
}

var sharedFacts = []sharedFact{
	{file: "oracle/models/tiny-spm-F16.gguf", arch: "llama", tensors: 20, nTokens: 32000,
		types:    map[string]Type{"token_embd.weight": F16, "blk.0.attn_q.weight": F16, "blk.1.ffn_down.weight": F16, "output_norm.weight": F32},
		uints:    map[string]uint64{"general.file_type": 1, "llama.attention.head_count_kv": 2, "tokenizer.ggml.bos_token_id": 1},
		strs:     map[string]string{"tokenizer.ggml.model": "llama", "general.name": "tiny-spm"},
		embdDims: []uint64{256, 32000}},
	{file: "oracle/models/tiny-spm-Q8_0.gguf", arch: "llama", tensors: 20, nTokens: 32000,
		types:    map[string]Type{"token_embd.weight": Q8_0, "blk.0.attn_k.weight": Q8_0, "blk.0.attn_norm.weight": F32},
		uints:    map[string]uint64{"general.file_type": 7},
		embdDims: []uint64{256, 32000}},
	{file: "oracle/models/tiny-spm-Q4_0.gguf", arch: "llama", tensors: 20, nTokens: 32000,
		types:    map[string]Type{"token_embd.weight": Q6_K, "blk.0.attn_q.weight": Q4_0, "blk.1.ffn_down.weight": Q4_0},
		uints:    map[string]uint64{"general.file_type": 2},
		embdDims: []uint64{256, 32000}},
	{file: "oracle/models/tiny-bpe-Q4_K_M-embQ4_K.gguf", arch: "llama", tensors: 20, nTokens: 128256,
		types: map[string]Type{"token_embd.weight": Q4_K, "blk.0.attn_v.weight": Q4_K, "blk.1.attn_v.weight": Q6_K,
			"blk.0.ffn_down.weight": Q4_K, "blk.1.ffn_down.weight": Q6_K},
		uints:    map[string]uint64{"general.file_type": 15, "tokenizer.ggml.bos_token_id": 128000, "llama.attention.head_count_kv": 1},
		strs:     map[string]string{"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "llama-bpe"},
		embdDims: []uint64{256, 128256}},
	{file: "oracle/vocab/ggml-vocab-llama-spm.gguf", arch: "llama", nTokens: 32000,
		strs: map[string]string{"tokenizer.ggml.model": "llama"}},
	{file: "oracle/vocab/ggml-vocab-phi-3.gguf", arch: "phi3", nTokens: 32064,
		strs: map[string]string{"tokenizer.ggml.model": "llama"}},
	{file: "oracle/vocab/ggml-vocab-gpt-2.gguf", arch: "gpt2", nTokens: 50257,
		strs: map[string]string{"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2"}},
	{file: "models/stories260K.gguf", arch: "llama", tensors: 48, nTokens: 512,
		types:    map[string]Type{"token_embd.weight": F32, "output.weight": F32},
		uints:    map[string]uint64{"llama.embedding_length": 64, "llama.block_count": 5, "llama.feed_forward_length": 172},
		embdDims: []uint64{64, 512}},
	{file: "models/derived/TinyStories-656K-f32.gguf", arch: "llama", tensors: 20, nTokens: 2048,
		types:    map[string]Type{"token_embd.weight": F32, "blk.0.attn_q.weight": F32},
		uints:    map[string]uint64{"llama.embedding_length": 128, "general.alignment": 32},
		embdDims: []uint64{128, 2048}},
	{file: "models/derived/TinyStories-656K-Q8_0.gguf", arch: "llama", tensors: 20, nTokens: 2048,
		types:    map[string]Type{"token_embd.weight": Q8_0, "blk.0.attn_norm.weight": F32},
		uints:    map[string]uint64{"general.file_type": 7},
		embdDims: []uint64{128, 2048}},
}

func TestSharedFiles(t *testing.T) {
	for _, fact := range sharedFacts {
		t.Run(filepath.Base(fact.file), func(t *testing.T) {
			f, err := Open(testenv.Shared(t, fact.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			checkFacts(t, f, fact)
			checkInvariants(t, f)
		})
	}
}

func checkFacts(t *testing.T, f *File, fact sharedFact) {
	t.Helper()
	if f.Version != 3 || f.Architecture() != fact.arch || len(f.Tensors) != fact.tensors {
		t.Errorf("version %d, architecture %q, %d tensors; want 3, %q, %d", f.Version, f.Architecture(), len(f.Tensors), fact.arch, fact.tensors)
	}
	if toks, ok := f.Strings("tokenizer.ggml.tokens"); !ok || len(toks) != fact.nTokens {
		t.Errorf("tokenizer.ggml.tokens: %d tokens (ok=%v), want %d", len(toks), ok, fact.nTokens)
	}
	if tt, ok := f.Int32s("tokenizer.ggml.token_type"); !ok || len(tt) != fact.nTokens {
		t.Errorf("tokenizer.ggml.token_type: %d entries (ok=%v), want %d", len(tt), ok, fact.nTokens)
	}
	for name, want := range fact.types {
		if ti, ok := f.Tensor(name); !ok || ti.Type != want {
			t.Errorf("tensor %s: %+v (found %v), want type %s", name, ti, ok, want)
		}
	}
	for key, want := range fact.uints {
		if got, ok := f.Uint(key); !ok || got != want {
			t.Errorf("%s = %d (ok=%v), want %d", key, got, ok, want)
		}
	}
	for key, want := range fact.strs {
		if got, ok := f.String(key); !ok || got != want {
			t.Errorf("%s = %q (ok=%v), want %q", key, got, ok, want)
		}
	}
	if fact.embdDims != nil {
		ti, ok := f.Tensor("token_embd.weight")
		if !ok || fmt.Sprint(ti.Dims) != fmt.Sprint(fact.embdDims) {
			t.Errorf("token_embd.weight: %+v, want dims %v", ti, fact.embdDims)
		}
	}
}

// TestSharedRewriteIdentical writes every shared file back through the
// Writer: llama.cpp's writer and ours must agree byte for byte.
func TestSharedRewriteIdentical(t *testing.T) {
	for _, fact := range sharedFacts {
		t.Run(filepath.Base(fact.file), func(t *testing.T) {
			f, err := Open(testenv.Shared(t, fact.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			out, ok := rewrite(f)
			if !ok {
				t.Fatal("the Writer refused the file's content")
			}
			if !bytes.Equal(out, f.data) {
				t.Fatalf("rewrite differs: %d bytes vs %d, first difference at %d", len(out), len(f.data), firstDiff(out, f.data))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestSharedLegacyV1(t *testing.T) {
	path := testenv.Shared(t, "models/legacy/tinyllamas-stories-260k-f32.ggufv1.gguf")
	_, err := Open(path)
	if !errors.Is(err, ErrV1) || !strings.Contains(err.Error(), "GGUF v1 is not supported") {
		t.Fatalf("Open(v1 file) = %v, want the v1 error", err)
	}
}

// tensorsJSON is refs/dequant/<model>.tensors.json (oracle README §5).
type tensorsJSON struct {
	DataOffset int64 `json:"data_offset"`
	Tensors    []struct {
		Name   string    `json:"name"`
		TypeID uint32    `json:"type_id"`
		Type   string    `json:"type"`
		Ne     [4]uint64 `json:"ne"`
		Offset uint64    `json:"offset"`
		NBytes int64     `json:"nbytes"`
	} `json:"tensors"`
}

// TestSharedTensorTables compares the whole tensor table with the one
// llama.cpp dumped, entry by entry.
func TestSharedTensorTables(t *testing.T) {
	for _, model := range []string{"tiny-spm-F16", "tiny-spm-Q8_0", "tiny-spm-Q4_0", "tiny-bpe-Q4_K_M-embQ4_K"} {
		t.Run(model, func(t *testing.T) {
			raw, err := os.ReadFile(testenv.Shared(t, "oracle/refs/dequant/"+model+".tensors.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref tensorsJSON
			if err := json.Unmarshal(raw, &ref); err != nil {
				t.Fatal(err)
			}
			f, err := Open(testenv.Shared(t, "oracle/models/"+model+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.DataOffset != ref.DataOffset || len(f.Tensors) != len(ref.Tensors) {
				t.Fatalf("data offset %d, %d tensors; reference %d, %d", f.DataOffset, len(f.Tensors), ref.DataOffset, len(ref.Tensors))
			}
			for i, r := range ref.Tensors {
				got := f.Tensors[i]
				ne := [4]uint64{1, 1, 1, 1}
				copy(ne[:], got.Dims)
				if got.Name != r.Name || uint32(got.Type) != r.TypeID || !strings.EqualFold(got.Type.String(), r.Type) ||
					ne != r.Ne || got.Offset != r.Offset || got.Size != r.NBytes {
					t.Errorf("tensor %d: %s %s %v off %d size %d; reference %s %s(%d) %v off %d size %d",
						i, got.Name, got.Type, ne, got.Offset, got.Size, r.Name, r.Type, r.TypeID, r.Ne, r.Offset, r.NBytes)
				}
			}
		})
	}
}

// TestSharedTensorData checks TensorData points at the right bytes: the
// first 16 rows of tiny-spm-F16's token_embd, widened from F16, must equal
// ggml's own dequantization bit for bit.
func TestSharedTensorData(t *testing.T) {
	ref, err := os.ReadFile(testenv.Shared(t, "oracle/refs/dequant/tiny-spm-F16.token_embd.weight.rows0-16.f32"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(testenv.Shared(t, "oracle/models/tiny-spm-F16.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ti, _ := f.Tensor("token_embd.weight")
	data := f.TensorData(ti) // (32000, 256) f16
	const n = 16 * 256
	if len(ref) != 4*n || len(data) < 2*n {
		t.Fatalf("reference %d bytes, tensor %d bytes", len(ref), len(data))
	}
	for i := range n {
		want := math.Float32frombits(binary.LittleEndian.Uint32(ref[4*i:]))
		got := halfToFloat(binary.LittleEndian.Uint16(data[2*i:]))
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("element %d: %g, reference %g", i, got, want)
		}
	}
}

// halfToFloat widens an IEEE binary16 value exactly (test-only reference).
func halfToFloat(h uint16) float32 {
	sign := float32(1)
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * float32(math.Ldexp(frac, -24))
	case 0x1f:
		if frac != 0 {
			return float32(math.NaN())
		}
		return sign * float32(math.Inf(1))
	}
	return sign * float32(math.Ldexp(1024+frac, exp-25))
}

// BenchmarkOpenTinyBPE measures opening a file whose metadata holds a
// 128k-token vocabulary and 280k merges; SetBytes counts the metadata.
func BenchmarkOpenTinyBPE(b *testing.B) {
	path := testenv.Shared(b, "oracle/models/tiny-bpe-Q4_K_M-embQ4_K.gguf")
	f, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(f.DataOffset)
	f.Close()
	b.ReportAllocs()
	for b.Loop() {
		f, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// f32 builds an F32 tensor of the given shape holding 0, 1, 2, … scaled by
// seed, so every tensor's bytes differ.
func f32(name string, seed float32, shape ...int64) TensorInfo {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = seed * float32(i+1)
	}
	data, _ := EncodeFloat32s(F32, vals)
	return TensorInfo{Name: name, DType: F32, Shape: shape, Data: data}
}

// encode writes tensors into memory with Write.
func encode(t testing.TB, meta map[string]string, ts ...TensorInfo) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, meta, ts...); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

// rawFile assembles a file from a literal header and dataLen zero bytes,
// for headers Write would refuse to produce.
func rawFile(header string, dataLen int) []byte {
	b := make([]byte, 8, 8+len(header)+dataLen)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, dataLen)...)
}

// writeFiles writes name -> content into dir.
func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

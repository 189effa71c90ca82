package safetensors

import (
	"math/rand"
	"testing"

	"spillway/internal/testenv"
)

// BenchmarkFloat32s measures weight decoding at load time; the bytes
// reported are those read from the mapping.
func BenchmarkFloat32s(b *testing.B) {
	const n = 1 << 20 // (n,) elements
	r := rand.New(rand.NewSource(1))
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = float32(r.NormFloat64())
	}
	for _, dt := range []DType{F32, F16, BF16} {
		data, err := EncodeFloat32s(dt, vals)
		if err != nil {
			b.Fatal(err)
		}
		ti := TensorInfo{Name: "w", DType: dt, Shape: []int64{n}, Data: data}
		b.Run(string(dt), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := ti.Float32s(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenRealModel measures opening the real 656K checkpoint: the
// header parse and mapping, not the weights (which stay in the page cache).
func BenchmarkOpenRealModel(b *testing.B) {
	dir := testenv.Shared(b, tinyStories)
	for b.Loop() {
		c, err := OpenCheckpoint(dir)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

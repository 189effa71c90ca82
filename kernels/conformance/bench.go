package conformance

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
)

// MatMulShape is a weight matrix (N outputs, K inputs) of a real model.
type MatMulShape struct {
	Name string
	N, K int
}

// BenchShapes are TinyLlama-1.1B's projections.
var BenchShapes = []MatMulShape{
	{"attn_q", 2048, 2048},
	{"attn_kv", 256, 2048},
	{"ffn_up", 5632, 2048},
	{"ffn_down", 2048, 5632},
	{"output", 32000, 2048},
}

// BenchTypes are the weight types Bench measures: what llama.cpp users run.
var BenchTypes = []kernels.DType{kernels.F16, kernels.Q8_0, kernels.Q4_0, kernels.Q4_K, kernels.Q6_K}

// BenchTokens are the batch sizes Bench measures: a decode step (a
// memory-bound GEMV) and a prefill chunk (compute-bound).
var BenchTokens = []int{1, 512}

// Bench measures MatMul of the backend for every BenchShapes × BenchTypes ×
// BenchTokens as sub-benchmarks named "<type>/<shape>_<n>x<k>/T=<T>"
// (select with -bench 'Conformance/Q4_K/.*T=1$'). newBackend is called
// once; Bench closes the backend at the end.
func Bench(b *testing.B, newBackend func(b *testing.B) kernels.Backend) {
	be := newBackend(b)
	b.Cleanup(func() {
		if err := be.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	for _, dt := range BenchTypes {
		for _, s := range BenchShapes {
			for _, T := range BenchTokens {
				name := fmt.Sprintf("%s/%s_%dx%d/T=%d", dt, s.Name, s.N, s.K, T)
				b.Run(name, func(b *testing.B) { BenchMatMul(b, be, dt, s.N, s.K, T) })
			}
		}
	}
}

// BenchMatMul measures out (T, n) = x (T, k) @ w (n, k)ᵀ with w of type
// wdt and reports GB/s (weight bytes read per second: the figure to hold
// against the machine's memory bandwidth at T=1) and GFLOP/s (2·T·n·k per
// op). Each iteration ends with Sync, so queued device work is counted.
func BenchMatMul(b *testing.B, be kernels.Backend, wdt kernels.DType, n, k, T int) {
	w, err := be.FromHost(wdt, n, k, BenchWeights(wdt, n, k)) // (n, k)
	if err != nil {
		b.Fatalf("FromHost: %v", err)
	}
	act := be.ActDType()
	rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
	xs := make([]float32, T*k) // (T, k)
	for i := range xs {
		xs[i] = float32(rng.NormFloat64())
	}
	x, err := be.Alloc(act, T, k)
	if err != nil {
		b.Fatalf("Alloc: %v", err)
	}
	if err := be.Upload(x, encode(act, xs, k)); err != nil {
		b.Fatalf("Upload: %v", err)
	}
	out, err := be.Alloc(act, T, n) // (T, n)
	if err != nil {
		b.Fatalf("Alloc: %v", err)
	}
	// Backends that re-lay weights on first use (kernels.WeightPreparer) do
	// it before the clock starts, as the engine does at load.
	if p, ok := be.(kernels.WeightPreparer); ok {
		if err := p.PrepareWeights(w); err != nil {
			b.Fatalf("PrepareWeights: %v", err)
		}
	}
	for b.Loop() {
		be.MatMul(out, x, w)
		if err := be.Sync(); err != nil {
			b.Fatalf("Sync: %v", err)
		}
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(w.Bytes())/sec/1e9, "GB/s")
	b.ReportMetric(2*float64(T)*float64(n)*float64(k)/sec/1e9, "GFLOP/s")
}

// BenchWeights returns an (n, k) weight matrix of type dt: 16 distinct
// random rows quantized once and repeated, since quantizing a 32000-row
// k-quant matrix in Go takes longer than the benchmark, and timing does not
// depend on the values.
func BenchWeights(dt kernels.DType, n, k int) []byte {
	rng := rand.New(rand.NewPCG(uint64(dt), uint64(k)))
	rb := dt.RowBytes(k)
	const distinct = 16
	rows := make([]byte, distinct*rb)
	src := make([]float32, k)
	for r := 0; r < distinct; r++ {
		for i := range src {
			src[i] = float32(rng.NormFloat64() * 0.02)
		}
		quant.QuantizeRow(dt, rows[r*rb:(r+1)*rb], src)
	}
	data := make([]byte, n*rb)
	for r := 0; r < n; r++ {
		copy(data[r*rb:], rows[(r%distinct)*rb:(r%distinct+1)*rb])
	}
	return data
}

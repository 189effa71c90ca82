package quant

import "testing"

// benchRow is the row length of the benchmarks: a 4096-wide hidden state
// (a Llama-7B row), 16 super-blocks.
const benchRow = 4096

// BenchmarkDequantizeRow reports GB/s of quantized input read; the
// machine's memory bandwidth (tens of GB/s) is the ceiling a pure-Go
// reference is nowhere near, and the float types show the table path.
func BenchmarkDequantizeRow(b *testing.B) {
	for _, dt := range allTypes {
		b.Run(dt.String(), func(b *testing.B) {
			x := goldenInput()[:benchRow]
			src := make([]byte, dt.RowBytes(benchRow))
			QuantizeRow(dt, src, x)
			dst := make([]float32, benchRow) // (4096,)
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				DequantizeRow(dt, dst, src)
			}
			b.ReportMetric(float64(benchRow)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}

// BenchmarkQuantizeRow reports GB/s of float32 input; the k-quant scale
// searches make those types 10–100× slower than the legacy ones.
func BenchmarkQuantizeRow(b *testing.B) {
	for _, dt := range allTypes {
		b.Run(dt.String(), func(b *testing.B) {
			x := goldenInput()[:benchRow] // (4096,)
			dst := make([]byte, dt.RowBytes(benchRow))
			b.SetBytes(4 * benchRow)
			for b.Loop() {
				QuantizeRow(dt, dst, x)
			}
		})
	}
}

func TestNoAllocations(t *testing.T) {
	x := goldenInput()[:benchRow]
	for _, dt := range allTypes {
		q := make([]byte, dt.RowBytes(benchRow))
		y := make([]float32, benchRow)
		if n := testing.AllocsPerRun(5, func() { QuantizeRow(dt, q, x) }); n != 0 {
			t.Errorf("QuantizeRow(%s) allocates %.0f times per call", dt, n)
		}
		if n := testing.AllocsPerRun(5, func() { DequantizeRow(dt, y, q) }); n != 0 {
			t.Errorf("DequantizeRow(%s) allocates %.0f times per call", dt, n)
		}
		if n := testing.AllocsPerRun(5, func() { QuantizeActivationRow(dt, q, x) }); n != 0 {
			t.Errorf("QuantizeActivationRow(%s) allocates %.0f times per call", dt, n)
		}
		if n := testing.AllocsPerRun(5, func() { ErrorBound(dt, x) }); n != 0 {
			t.Errorf("ErrorBound(%s) allocates %.0f times per call", dt, n)
		}
	}
}

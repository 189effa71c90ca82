package quant

import (
	"testing"

	"spillway/kernels"
)

// How quantize(dequantize(q)) relates to q, per type.
type stability int

const (
	sameBytes  stability = iota // an exact fixed point, byte for byte
	sameValues                  // bytes may differ (Q8_1's s, rounded from another d) but every value returns
	ulpValues                   // values move by at most a float32 rounding of the scale (Q8_K's f32 d)
	settles                     // the scale search may pick another fit: stays within ErrorBound, most blocks identical
)

var stabilityOf = []struct {
	dt        kernels.DType
	kind      stability
	minBlocks float64 // settles: share of identical blocks (measured on N(0,1) in parentheses)
}{
	{kernels.F32, sameBytes, 1}, {kernels.F16, sameBytes, 1}, {kernels.BF16, sameBytes, 1},
	{kernels.Q4_0, sameBytes, 1}, {kernels.Q4_1, sameBytes, 1}, {kernels.Q5_0, sameBytes, 1},
	{kernels.Q5_1, sameBytes, 1}, {kernels.Q8_0, sameBytes, 1}, {kernels.Q8_1, sameValues, 1},
	{kernels.Q8_K, ulpValues, 1},
	{kernels.Q2_K, settles, 0.97}, // (0.994)
	{kernels.Q3_K, settles, 0.40}, // (0.512)
	{kernels.Q4_K, settles, 0.98}, // (0.998)
	{kernels.Q5_K, settles, 0.85}, // (0.934)
	{kernels.Q6_K, settles, 0.75}, // (0.801; llama.cpp's token_embd 0.807)
}

func TestRequantizeStability(t *testing.T) {
	r := &rng{s: 5}
	x := make([]float32, 512*kernels.QK_K) // (131072,)
	for i := range x {
		x[i] = r.gauss()
	}
	for _, s := range stabilityOf {
		t.Run(s.dt.String(), func(t *testing.T) {
			q := make([]byte, s.dt.RowBytes(len(x)))
			QuantizeRow(s.dt, q, x)
			checkStability(t, s.dt, s.kind, s.minBlocks, q)
		})
	}
}

// checkStability requantizes the dequantized q and checks the promise of
// its stability kind.
func checkStability(t *testing.T, dt kernels.DType, kind stability, minBlocks float64, q []byte) {
	t.Helper()
	n := len(q) / dt.BlockBytes() * dt.BlockSize()
	y := make([]float32, n) // (n,)
	DequantizeRow(dt, y, q)
	q2 := make([]byte, len(q))
	QuantizeRow(dt, q2, y)
	y2 := make([]float32, n) // (n,)
	DequantizeRow(dt, y2, q2)
	blocks := sameBlockShare(dt, q, q2)
	e, at := maxAbsDiff(y2, y)
	switch kind {
	case sameBytes:
		if blocks != 1 {
			t.Errorf("only %.4f of the blocks are byte-identical after requantizing", blocks)
		}
	case sameValues:
		if e != 0 {
			t.Errorf("value %d moved from %g to %g", at, y[at], y2[at])
		}
	case ulpValues:
		if lim := abs32(y[at]) * 0x1p-23; e > lim {
			t.Errorf("value %d moved from %g to %g, more than one ulp", at, y[at], y2[at])
		}
	case settles:
		if b := ErrorBound(dt, y); e > b {
			t.Errorf("requantizing moved value %d by %g, above the bound %g", at, e, b)
		}
		if blocks < minBlocks {
			t.Errorf("only %.4f of the blocks are identical after requantizing, want ≥ %.2f", blocks, minBlocks)
		}
	}
	t.Logf("identical blocks %.4f, largest move %g", blocks, e)
}

func sameBlockShare(dt kernels.DType, a, b []byte) float64 {
	bb, same := dt.BlockBytes(), 0
	for i := 0; i < len(a); i += bb {
		if string(a[i:i+bb]) == string(b[i:i+bb]) {
			same++
		}
	}
	return float64(same) / float64(len(a)/bb)
}

func sameByteShare(a, b []byte) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / float64(len(a))
}

// TestLlamaFilesRequantize: the tensors llama-quantize wrote keep the same
// stability promises as our own output.
func TestLlamaFilesRequantize(t *testing.T) {
	for _, model := range oracleModels[1:] {
		m := loadOracle(t, model)
		for _, ti := range m.table.Tensors {
			if ti.Ne[1] == 1 || kernels.DType(ti.TypeID) == kernels.F32 {
				continue
			}
			t.Run(model+"/"+ti.Name, func(t *testing.T) {
				dt, _, _, data := m.tensor(t, ti.Name)
				// 1024 super-blocks are plenty and keep the test quick.
				data = data[:min(len(data), 1024*dt.BlockBytes()*kernels.QK_K/dt.BlockSize())]
				for _, s := range stabilityOf {
					if s.dt == dt {
						checkStability(t, dt, s.kind, s.minBlocks, data)
					}
				}
			})
		}
	}
}

// TestAgreesWithLlamaQuantize quantizes the F16 file's weights and
// compares with what llama-quantize wrote from the unshipped F32 master.
// The inputs differ by the F16 rounding (relative 2^-12), which moves
// block scales across f16 rounding boundaries in a fraction of the
// blocks, so identical bytes, not blocks, are the measure; a layout or
// rounding-rule bug would drop it far below these floors (measured
// 0.983–0.999).
func TestAgreesWithLlamaQuantize(t *testing.T) {
	f16 := loadOracle(t, "tiny-spm-F16")
	for _, c := range []struct {
		model, tensor string
		minBytes      float64
	}{
		{"tiny-spm-Q8_0", "token_embd.weight", 0.975},
		{"tiny-spm-Q8_0", "blk.1.ffn_down.weight", 0.975},
		{"tiny-spm-Q4_0", "token_embd.weight", 0.975}, // Q6_K
		{"tiny-spm-Q4_0", "blk.0.attn_q.weight", 0.99},
		{"tiny-spm-Q4_0", "blk.1.ffn_up.weight", 0.99},
	} {
		t.Run(c.model+"/"+c.tensor, func(t *testing.T) {
			m := loadOracle(t, c.model)
			dt, ne0, rows, want := m.tensor(t, c.tensor)
			sdt, sne0, _, src := f16.tensor(t, c.tensor)
			if sdt != kernels.F16 || sne0 != ne0 {
				t.Fatalf("F16 file has %s with rows of %d", sdt, sne0)
			}
			x := make([]float32, ne0*rows) // (rows, ne0)
			DequantizeRow(sdt, x, src)
			got := make([]byte, len(want))
			for r := range rows {
				QuantizeRow(dt, got[r*dt.RowBytes(ne0):(r+1)*dt.RowBytes(ne0)], x[r*ne0:(r+1)*ne0])
			}
			share := sameByteShare(got, want)
			if share < c.minBytes {
				t.Errorf("%s: %.4f of the bytes agree with llama-quantize, want ≥ %.3f", dt, share, c.minBytes)
			}
			t.Logf("%s: bytes agreeing %.4f, blocks %.4f", dt, share, sameBlockShare(dt, got, want))
		})
	}
}

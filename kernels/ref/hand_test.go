package ref_test

import (
	"encoding/binary"
	"math"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
	"spillway/kernels/ref"
)

// tensor makes an F32 (rows, cols) ref tensor holding vals.
func tensor(t *testing.T, b *ref.Backend, rows, cols int, vals ...float32) kernels.Tensor {
	t.Helper()
	if len(vals) == 0 {
		vals = make([]float32, rows*cols)
	}
	data := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	x, err := b.FromHost(kernels.F32, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// values reads any float tensor back as float64 (Rows·Cols,).
func values(t *testing.T, b *ref.Backend, x kernels.Tensor) []float64 {
	t.Helper()
	raw := make([]byte, x.Bytes())
	if err := b.Download(raw, x); err != nil {
		t.Fatal(err)
	}
	out := make([]float64, 0, x.Rows*x.Cols)
	row := make([]float32, x.Cols)
	for r := 0; r < x.Rows; r++ {
		quant.DequantizeRow(x.DType, row, raw[r*x.RowBytes():(r+1)*x.RowBytes()])
		for _, v := range row {
			out = append(out, float64(v))
		}
	}
	return out
}

// near fails unless got and want agree within tol element by element.
func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s[%d] = %.9g, want %.9g", what, i, got[i], want[i])
		}
	}
}

func TestHandRMSNorm(t *testing.T) {
	b := newRef(t)
	cases := []struct {
		name  string
		eps   float32
		alias bool
		want  []float64
	}{
		// x = [3 4]: mean(x²) = 12.5.
		{"eps0", 0, false, []float64{3 / math.Sqrt(12.5), 2 * 4 / math.Sqrt(12.5)}},
		{"eps37.5", 37.5, false, []float64{3 / math.Sqrt(50), 2 * 4 / math.Sqrt(50)}},
		{"inplace", 0, true, []float64{3 / math.Sqrt(12.5), 2 * 4 / math.Sqrt(12.5)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, w := tensor(t, b, 1, 2, 3, 4), tensor(t, b, 1, 2, 1, 2)
			out := x
			if !c.alias {
				out = tensor(t, b, 1, 2)
			}
			b.RMSNorm(out, x, w, c.eps)
			near(t, "out", values(t, b, out), c.want, 1e-6)
		})
	}
}

func TestHandElementwise(t *testing.T) {
	b := newRef(t)
	s1 := 1 / (1 + math.Exp(-1)) // silu(1)
	t.Run("SiLUMul", func(t *testing.T) {
		out := tensor(t, b, 1, 3)
		b.SiLUMul(out, tensor(t, b, 1, 3, 0, 1, -1), tensor(t, b, 1, 3, 5, 2, 3))
		near(t, "out", values(t, b, out), []float64{0, 2 * s1, 3 * -(1 - s1)}, 1e-6)
	})
	t.Run("Add/broadcast", func(t *testing.T) {
		a := tensor(t, b, 2, 2, 1, 2, 3, 4)
		b.Add(a, a, tensor(t, b, 1, 2, 10, 20))
		near(t, "out", values(t, b, a), []float64{11, 22, 13, 24}, 0)
	})
	t.Run("Add/rows", func(t *testing.T) {
		out := tensor(t, b, 2, 1)
		b.Add(out, tensor(t, b, 2, 1, 1, 2), tensor(t, b, 2, 1, 10, 20))
		near(t, "out", values(t, b, out), []float64{11, 22}, 0)
	})
}

// q8Block is one Q8_0 block: scale 0.5 (F16 0x3800), quants i-16.
func q8Block() []byte {
	blk := []byte{0x00, 0x38}
	for i := 0; i < 32; i++ {
		blk = append(blk, byte(int8(i-16)))
	}
	return blk
}

func TestHandQ8_0(t *testing.T) {
	b := newRef(t)
	w, err := b.FromHost(kernels.Q8_0, 1, 32, q8Block())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 32)
	for i := range want {
		want[i] = 0.5 * float64(i-16)
	}
	emb := tensor(t, b, 1, 32)
	b.Embed(emb, w, []int32{0})
	near(t, "Embed", values(t, b, emb), want, 0)

	// x row 0 = ones: 0.5·Σ(i-16) = -8; x row 1 = e_20: 0.5·(20-16) = 2.
	xv := make([]float32, 64) // (2, 32)
	for i := 0; i < 32; i++ {
		xv[i] = 1
	}
	xv[32+20] = 1
	x := tensor(t, b, 2, 32, xv...)
	out := tensor(t, b, 2, 1)
	b.MatMul(out, x, w)
	near(t, "MatMul", values(t, b, out), []float64{-8, 2}, 0)
}

func TestHandKVRounding(t *testing.T) {
	third := float32(1.0 / 3)
	cases := []struct {
		dt   kernels.DType
		want float64
	}{
		{kernels.F32, float64(third)},
		{kernels.F16, 0.333251953125}, // 0x3555
		{kernels.BF16, 0.333984375},   // 0x3eab: rounded up, truncation would give 0.33203125
	}
	for _, c := range cases {
		t.Run(c.dt.String(), func(t *testing.T) {
			b := newRef(t)
			kv, err := b.AllocKV(kernels.KVSpec{NumLayers: 1, NumBlocks: 1, BlockSize: 2, NumKVHeads: 1, HeadDim: 2, DType: c.dt})
			if err != nil {
				t.Fatal(err)
			}
			k := tensor(t, b, 1, 2, third, -third)
			b.StoreKV(kv, 0, k, k, []int32{1})
			near(t, "K", values(t, b, kv.K[0]), []float64{0, 0, c.want, -c.want}, 0)
			near(t, "V", values(t, b, kv.V[0]), []float64{0, 0, c.want, -c.want}, 0)
		})
	}
}

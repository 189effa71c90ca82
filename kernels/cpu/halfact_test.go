//go:build cgo

package cpu

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
	"spillway/kernels/ref"
)

// twin is one tensor with the same bytes on the cpu backend and on ref.
type twin struct{ cpu, ref kernels.Tensor }

// encodeRow stores vals (cols,) as one row of a float type.
func encodeRow(dt kernels.DType, vals []float32) []byte {
	b := make([]byte, dt.RowBytes(len(vals)))
	for i, v := range vals {
		switch dt {
		case kernels.F32:
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		case kernels.F16:
			binary.LittleEndian.PutUint16(b[2*i:], quant.F32ToF16(v))
		case kernels.BF16:
			binary.LittleEndian.PutUint16(b[2*i:], quant.F32ToBF16(v))
		}
	}
	return b
}

type halfEnv struct {
	t   *testing.T
	cpu *Backend
	ref *ref.Backend
	rng *rand.Rand
}

func (e *halfEnv) tensor(dt kernels.DType, rows, cols int) twin {
	e.t.Helper()
	vals := randRows(e.rng, rows, cols, 1)
	var data []byte
	if dt.Quantized() {
		data = make([]byte, rows*dt.RowBytes(cols))
		for r := 0; r < rows; r++ {
			quant.QuantizeRow(dt, data[r*dt.RowBytes(cols):(r+1)*dt.RowBytes(cols)], vals[r*cols:(r+1)*cols])
		}
	} else {
		data = encodeRow(dt, vals)
	}
	c, err := e.cpu.FromHost(dt, rows, cols, append([]byte(nil), data...))
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.ref.FromHost(dt, rows, cols, append([]byte(nil), data...))
	if err != nil {
		e.t.Fatal(err)
	}
	return twin{c, r}
}

// values downloads both sides of a float tensor as float32.
func (e *halfEnv) values(x twin) (got, want []float32) {
	e.t.Helper()
	dec := func(b kernels.Backend, t kernels.Tensor) []float32 {
		raw := make([]byte, t.Bytes())
		if err := b.Download(raw, t); err != nil {
			e.t.Fatal(err)
		}
		out := make([]float32, t.Rows*t.Cols)
		for r := 0; r < t.Rows; r++ {
			rb := t.RowBytes()
			quant.DequantizeRow(t.DType, out[r*t.Cols:(r+1)*t.Cols], raw[r*rb:(r+1)*rb])
		}
		return out
	}
	return dec(e.cpu, x.cpu), dec(e.ref, x.ref)
}

type halfCase struct {
	name string
	run  func(e *halfEnv) twin
}

// halfCases run one op each on both backends and return its output.
func halfCases() []halfCase {
	const T, d, n = 19, 64, 7
	return []halfCase{
		{"MatMul/xF16,wF32,outBF16", func(e *halfEnv) twin {
			x, w, o := e.tensor(kernels.F16, T, d), e.tensor(kernels.F32, n, d), e.tensor(kernels.BF16, T, n)
			e.cpu.MatMul(o.cpu, x.cpu, w.cpu)
			e.ref.MatMul(o.ref, x.ref, w.ref)
			return o
		}},
		{"MatMul/xBF16,wF16,outF16,T=3", func(e *halfEnv) twin {
			x, w, o := e.tensor(kernels.BF16, 3, d), e.tensor(kernels.F16, n, d), e.tensor(kernels.F16, 3, n)
			e.cpu.MatMul(o.cpu, x.cpu, w.cpu)
			e.ref.MatMul(o.ref, x.ref, w.ref)
			return o
		}},
		{"RMSNorm/xBF16,wF16,outF16", func(e *halfEnv) twin {
			x, w, o := e.tensor(kernels.BF16, T, d), e.tensor(kernels.F16, 1, d), e.tensor(kernels.F16, T, d)
			e.cpu.RMSNorm(o.cpu, x.cpu, w.cpu, 1e-5)
			e.ref.RMSNorm(o.ref, x.ref, w.ref, 1e-5)
			return o
		}},
		{"Add/aF16,bBF16broadcast,outF32", func(e *halfEnv) twin {
			a, b, o := e.tensor(kernels.F16, T, d), e.tensor(kernels.BF16, 1, d), e.tensor(kernels.F32, T, d)
			e.cpu.Add(o.cpu, a.cpu, b.cpu)
			e.ref.Add(o.ref, a.ref, b.ref)
			return o
		}},
		{"SiLUMul/gateBF16,upF16,outBF16", func(e *halfEnv) twin {
			g, u, o := e.tensor(kernels.BF16, T, d), e.tensor(kernels.F16, T, d), e.tensor(kernels.BF16, T, d)
			e.cpu.SiLUMul(o.cpu, g.cpu, u.cpu)
			e.ref.SiLUMul(o.ref, g.ref, u.ref)
			return o
		}},
		{"RoPE/F16,neox", func(e *halfEnv) twin {
			x := e.tensor(kernels.F16, T, 2*d)
			pos := make([]int32, T)
			for i := range pos {
				pos[i] = int32(3*i + 1)
			}
			p := kernels.RoPEParams{HeadDim: d, NDims: d / 2, Base: 10000, Style: kernels.RoPENeoX}
			e.cpu.RoPE(x.cpu, pos, p)
			e.ref.RoPE(x.ref, pos, p)
			return x
		}},
		{"Embed/tableBF16,outF16", func(e *halfEnv) twin {
			tab, o := e.tensor(kernels.BF16, 11, d), e.tensor(kernels.F16, 4, d)
			ids := []int32{3, 0, 10, 3}
			e.cpu.Embed(o.cpu, tab.cpu, ids)
			e.ref.Embed(o.ref, tab.ref, ids)
			return o
		}},
	}
}

// TestHalfActivations runs every op with F16 and BF16 activations (which
// the cpu backend widens to F32 and rounds back) against the reference.
// Both round the same F32 result to the output type, so they may differ by
// about one unit of that type on top of the F32 computation's error.
func TestHalfActivations(t *testing.T) {
	for _, c := range halfCases() {
		t.Run(c.name, func(t *testing.T) {
			cb, err := newISA(kernels.Options{Threads: 2}, "")
			if err != nil {
				t.Fatal(err)
			}
			defer cb.Close()
			rb, _ := ref.New(kernels.Options{})
			e := &halfEnv{t: t, cpu: cb, ref: rb, rng: rand.New(rand.NewPCG(7, uint64(len(c.name))))}
			got, want := e.values(c.run(e))
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-2*math.Abs(float64(want[i]))+1e-4 {
					t.Fatalf("element %d: cpu %g, ref %g", i, got[i], want[i])
				}
			}
		})
	}
	t.Run("StoreKV+Attention/F16", func(t *testing.T) { halfAttention(t) })
}

// halfAttention stores F16/BF16 k and v into an F32 cache and attends with
// F16 queries into a BF16 output.
func halfAttention(t *testing.T) {
	cb, err := newISA(kernels.Options{Threads: 2}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	rb, _ := ref.New(kernels.Options{})
	e := &halfEnv{t: t, cpu: cb, ref: rb, rng: rand.New(rand.NewPCG(9, 9))}
	spec := kernels.KVSpec{NumLayers: 1, NumBlocks: 4, BlockSize: 4, NumKVHeads: 2, HeadDim: 16, DType: kernels.F32}
	cc, err := cb.AllocKV(spec)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rb.AllocKV(spec)
	if err != nil {
		t.Fatal(err)
	}
	const ctx = 10
	k, v := e.tensor(kernels.F16, ctx, 32), e.tensor(kernels.BF16, ctx, 32)
	slots := make([]int32, ctx)
	table := []int32{2, 0, 3}
	for p := range slots {
		slots[p] = table[p/4]*4 + int32(p%4)
	}
	cb.StoreKV(cc, 0, k.cpu, v.cpu, slots)
	rb.StoreKV(rc, 0, k.ref, v.ref, slots)
	q, o := e.tensor(kernels.F16, 3, 64), e.tensor(kernels.BF16, 3, 64)
	ab := &kernels.AttnBatch{QStart: []int32{0, 3}, CtxLen: []int32{ctx}, BlockTables: [][]int32{table},
		NumHeads: 4, NumKVHeads: 2, HeadDim: 16, Scale: 0.25}
	cb.Attention(o.cpu, q.cpu, cc, 0, ab)
	rb.Attention(o.ref, q.ref, rc, 0, ab)
	got, want := e.values(o)
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-2*math.Abs(float64(want[i]))+1e-4 {
			t.Fatalf("out element %d: cpu %g, ref %g", i, got[i], want[i])
		}
	}
}

//go:build cgo

package cpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
	"spillway/kernels/conformance"
	"spillway/kernels/quant"
)

// pair is one computation on the scalar path and on the SIMD path.
type pair struct{ scalar, simd *Backend }

// simdISA is the widest SIMD level this CPU runs: the tests that take a
// pair check it, and TestAVX512MatchesAVX2 ties the AVX2 tiles that
// AVX-512 replaces to it bit for bit.
func simdISA() string {
	if isaSupported(isaAVX512) {
		return "avx512"
	}
	return "avx2"
}

func newPair(t *testing.T) pair {
	t.Helper()
	if !isaSupported(isaAVX2) {
		t.Skip("this CPU has no AVX2")
	}
	s, err := newISA(kernels.Options{Threads: 2}, "scalar")
	if err != nil {
		t.Fatal(err)
	}
	v, err := newISA(kernels.Options{Threads: 2}, simdISA())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); v.Close() })
	return pair{s, v}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func randRows(rng *rand.Rand, rows, cols int, sigma float64) []float32 {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * sigma)
	}
	return v
}

// matmul runs out = x @ wᵀ on b and returns out.
func matmul(t *testing.T, b *Backend, wdt kernels.DType, w []byte, x []float32, T, n, k int) []float32 {
	t.Helper()
	wt, err := b.FromHost(wdt, n, k, w)
	if err != nil {
		t.Fatal(err)
	}
	xt, err := b.FromHost(kernels.F32, T, k, f32bytes(x))
	if err != nil {
		t.Fatal(err)
	}
	ot, err := b.Alloc(kernels.F32, T, n)
	if err != nil {
		t.Fatal(err)
	}
	b.MatMul(ot, xt, wt)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 4*T*n)
	if err := b.Download(raw, ot); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, T*n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// TestSIMDMatchesScalar checks the SIMD dot and panel kernels against the
// scalar ones. Both see the same 8-bit activations and compute the same
// integer block sums, so they may differ only by float rounding: the bound
// is 1e-5 of Σ|w·x|, far below what one wrong scale or nibble would cost.
func TestSIMDMatchesScalar(t *testing.T) {
	p := newPair(t)
	for _, wdt := range conformance.WeightTypes {
		for _, c := range []struct{ T, blocks, n int }{
			{1, 1, 7}, {2, 3, 9}, {5, 1, 8}, {6, 3, 17}, {7, 2, 23}, {13, 1, 1}, {35, 5, 16}, {50, 5, 19},
			{16, 2, 24}, {70, 2, 9},
			// Enough panels and blocks for the tiles that replicate x in
			// k-slices (a ragged last slice and panel included).
			{16, 19, 141}, {3, 19, 141},
		} {
			t.Run(fmt.Sprintf("%s/T=%d,blocks=%d,n=%d", wdt, c.T, c.blocks, c.n), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(wdt), uint64(c.T*1000+c.n)))
				k := c.blocks * wdt.BlockSize()
				if wdt.BlockSize() == 1 {
					k = c.blocks*64 + 3 // float weights take any k
				}
				wf := randRows(rng, c.n, k, 0.5)
				w := make([]byte, c.n*wdt.RowBytes(k))
				for r := 0; r < c.n; r++ {
					quant.QuantizeRow(wdt, w[r*wdt.RowBytes(k):(r+1)*wdt.RowBytes(k)], wf[r*k:(r+1)*k])
					quant.DequantizeRow(wdt, wf[r*k:(r+1)*k], w[r*wdt.RowBytes(k):(r+1)*wdt.RowBytes(k)])
				}
				x := randRows(rng, c.T, k, 1)
				got := matmul(t, p.simd, wdt, w, x, c.T, c.n, k)
				want := matmul(t, p.scalar, wdt, w, x, c.T, c.n, k)
				for i := range got {
					tt, r := i/c.n, i%c.n
					s := 0.0
					for j := 0; j < k; j++ {
						s += math.Abs(float64(wf[r*k+j]) * float64(x[tt*k+j]))
					}
					if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*s+1e-30 {
						t.Fatalf("out[%d][%d] = %g on %s, %g on scalar (|Σw·x| scale %g)", tt, r, got[i], p.simd.ISA(), want[i], s)
					}
				}
			})
		}
	}
}

// FuzzMatMulISA feeds arbitrary weight bytes (NaN and Inf scales, any
// nibbles) of every type through both ISA paths at fuzzed shapes: neither
// may crash, and where the products are finite they must agree as in
// TestSIMDMatchesScalar.
func FuzzMatMulISA(f *testing.F) {
	f.Add(uint8(3), uint8(1), uint8(7), uint8(1), []byte{1, 2, 3})
	f.Add(uint8(9), uint8(17), uint8(9), uint8(2), []byte{0x3c, 0x00, 0xff, 0x7c})
	f.Add(uint8(12), uint8(6), uint8(33), uint8(1), []byte{0x00, 0x3c, 0x55, 0xaa})
	f.Fuzz(func(t *testing.T, ti, T8, n8, blocks8 uint8, data []byte) {
		if len(data) == 0 {
			return
		}
		p := newPair(t)
		wdt := conformance.WeightTypes[int(ti)%len(conformance.WeightTypes)]
		T, n, blocks := int(T8)%40+1, int(n8)%40+1, int(blocks8)%4+1
		k := blocks * wdt.BlockSize()
		if wdt.BlockSize() == 1 {
			k = blocks*32 + int(T8)%7
		}
		w := make([]byte, n*wdt.RowBytes(k))
		for i := range w {
			w[i] = data[i%len(data)] ^ byte(i/len(data))
		}
		rng := rand.New(rand.NewPCG(uint64(len(data)), uint64(ti)))
		x := randRows(rng, T, k, 1)
		got := matmul(t, p.simd, wdt, w, x, T, n, k)
		want := matmul(t, p.scalar, wdt, w, x, T, n, k)
		wf := make([]float32, k)
		for r := 0; r < n; r++ {
			quant.DequantizeRow(wdt, wf, w[r*wdt.RowBytes(k):(r+1)*wdt.RowBytes(k)])
			for tt := 0; tt < T; tt++ {
				s := 0.0
				for j := range wf {
					s += math.Abs(float64(wf[j]) * float64(x[tt*k+j]))
				}
				a, b := float64(got[tt*n+r]), float64(want[tt*n+r])
				if math.IsInf(s, 0) || math.IsNaN(s) || s > 1e30 {
					continue
				}
				if math.Abs(a-b) > 1e-5*s+1e-30 {
					t.Fatalf("%s T=%d n=%d k=%d: out[%d][%d] = %g on %s, %g on scalar (scale %g)", wdt, T, n, k, tt, r, a, p.simd.ISA(), b, s)
				}
			}
		}
	})
}

//go:build cgo

package cpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
)

// packTypes are the weight types the AVX2 kernels keep packed.
var packTypes = []kernels.DType{kernels.Q4_0, kernels.Q6_K}

// quantRows returns n random rows of k quantized to dt.
func quantRows(rng *rand.Rand, dt kernels.DType, n, k int) []byte {
	wf := randRows(rng, n, k, 0.5)
	w := make([]byte, n*dt.RowBytes(k))
	for r := 0; r < n; r++ {
		quant.QuantizeRow(dt, w[r*dt.RowBytes(k):(r+1)*dt.RowBytes(k)], wf[r*k:(r+1)*k])
	}
	return w
}

// outBytes syncs b and returns x's bytes.
func outBytes(t *testing.T, b *Backend, x kernels.Tensor) []byte {
	t.Helper()
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, x.Bytes())
	if err := b.Download(raw, x); err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestPackedTwins: on AVX2, the packed types get a twin of their weights
// (PrepareWeights or the first MatMul), it is made once per view, and an
// Upload into the weight's buffer replaces it, so MatMul sees new bytes.
func TestPackedTwins(t *testing.T) {
	p := newPair(t)
	b := p.simd
	for _, dt := range packTypes {
		t.Run(dt.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(dt), 7))
			n, k, T := 19, 2*dt.BlockSize(), 3
			if dt.BlockSize() == 32 {
				k = 8 * dt.BlockSize()
			}
			w, err := b.Alloc(dt, 2*n, k)
			if err != nil {
				t.Fatal(err)
			}
			x, _ := b.FromHost(kernels.F32, T, k, f32bytes(randRows(rng, T, k, 1)))
			out, _ := b.Alloc(kernels.F32, T, n)
			before := b.PackedBytes()
			wa, wb := quantRows(rng, dt, 2*n, k), quantRows(rng, dt, 2*n, k)
			if err := b.Upload(w, wa); err != nil {
				t.Fatal(err)
			}
			top, bottom := w.Slice(0, n), w.Slice(n, n)
			if err := b.PrepareWeights(top); err != nil {
				t.Fatal(err)
			}
			one := b.PackedBytes() - before
			if one <= 0 {
				t.Fatalf("PrepareWeights made no packed twin for %s", dt)
			}
			b.MatMul(out, x, top)
			b.MatMul(out, x, top)
			if got := b.PackedBytes() - before; got != one {
				t.Fatalf("a second MatMul on the same view packed again: %d bytes, want %d", got, one)
			}
			// Each row view has its own twin: the bottom half must not reuse the top's.
			b.MatMul(out, x, bottom)
			gotBottom := outBytes(t, b, out)
			wantBottom := matmulBytes(t, b, dt, wa[n*dt.RowBytes(k):], x, n, k)
			if !slices.Equal(gotBottom, wantBottom) {
				t.Fatal("MatMul on a row view of a packed buffer differs from the same rows on their own")
			}
			if err := b.Upload(w, wb); err != nil {
				t.Fatal(err)
			}
			if got := len(b.twins[w.Buf.(*buffer)]); got != 0 {
				t.Fatalf("Upload kept %d stale twins", got)
			}
			b.MatMul(out, x, top)
			if got, want := outBytes(t, b, out), matmulBytes(t, b, dt, wb[:n*dt.RowBytes(k)], x, n, k); !slices.Equal(got, want) {
				t.Fatal("MatMul after Upload still reads the old weights")
			}
		})
	}
}

// matmulBytes is x @ wᵀ for weights w (n, k) of dt in a tensor of their own.
func matmulBytes(t *testing.T, b *Backend, dt kernels.DType, w []byte, x kernels.Tensor, n, k int) []byte {
	t.Helper()
	wt, err := b.FromHost(dt, n, k, w)
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Alloc(kernels.F32, x.Rows, n)
	if err != nil {
		t.Fatal(err)
	}
	b.MatMul(out, x, wt)
	return outBytes(t, b, out)
}

// TestMatMulNEqualsMatMul: several weights in one call give, bit for bit,
// what separate MatMul calls give, for packed and unpacked types, mixed
// types in one call (which split), ragged panels and T across the chunk
// of 64 rows.
func TestMatMulNEqualsMatMul(t *testing.T) {
	p := newPair(t)
	for _, be := range []*Backend{p.simd, p.scalar} {
		for _, c := range []struct {
			T   int
			dts []kernels.DType
		}{
			{1, []kernels.DType{kernels.Q4_0, kernels.Q4_0, kernels.Q4_0}},
			{16, []kernels.DType{kernels.Q4_0, kernels.Q4_0}},
			{70, []kernels.DType{kernels.Q4_0, kernels.Q4_0, kernels.Q4_0, kernels.Q4_0}},
			{5, []kernels.DType{kernels.Q6_K, kernels.Q6_K}},
			{9, []kernels.DType{kernels.Q4_0, kernels.Q6_K, kernels.Q4_0, kernels.F16}},
			{3, []kernels.DType{kernels.Q8_0, kernels.Q4_K}},
		} {
			t.Run(fmt.Sprintf("%s/T=%d/%v", be.isa, c.T, c.dts), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(c.T), uint64(len(c.dts))))
				k := 512
				x, _ := be.FromHost(kernels.F32, c.T, k, f32bytes(randRows(rng, c.T, k, 1)))
				var outs, ws []kernels.Tensor
				var want [][]byte
				for i, dt := range c.dts {
					n := 8*i + 5 + 16*(i%2)
					w, err := be.FromHost(dt, n, k, quantRows(rng, dt, n, k))
					if err != nil {
						t.Fatal(err)
					}
					o, _ := be.Alloc(kernels.F32, c.T, n)
					be.MatMul(o, x, w)
					want = append(want, outBytes(t, be, o))
					o2, _ := be.Alloc(kernels.F32, c.T, n)
					outs, ws = append(outs, o2), append(ws, w)
				}
				be.MatMulN(outs, x, ws)
				for i := range outs {
					if !slices.Equal(outBytes(t, be, outs[i]), want[i]) {
						t.Fatalf("output %d (%s) of MatMulN differs from MatMul", i, c.dts[i])
					}
				}
			})
		}
	}
}

// TestPackedRowsIndependent: a row of x gets bit for bit the same outputs
// whatever other rows share its MatMul (alone, or among 7, 16 or 70: for
// Q4_0 one-pass tiles against multi-pass ones of 4+3, 6+5+5 and eleven
// passes, which load the nibbles the first pass unpacked), which batched
// decoding needs to reproduce single-sequence results. Q6_K rows start at its packed minimum
// of 4, below which single decodes take the dot product.
func TestPackedRowsIndependent(t *testing.T) {
	p := newPair(t)
	for _, dt := range packTypes {
		sub := 1
		if dt == kernels.Q6_K {
			sub = 4
		}
		for _, T := range []int{7, 16, 70} {
			t.Run(fmt.Sprintf("%s/T=%d", dt, T), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(dt), uint64(T)))
				n, k := 141, 19*dt.BlockSize()
				if dt == kernels.Q6_K {
					k = 3 * dt.BlockSize()
				}
				w := quantRows(rng, dt, n, k)
				xf := randRows(rng, T, k, 1)
				x, _ := p.simd.FromHost(kernels.F32, T, k, f32bytes(xf))
				all := matmulBytes(t, p.simd, dt, w, x, n, k)
				rb := 4 * n
				for t0 := 0; t0+sub <= T; t0 += sub {
					xs, _ := p.simd.FromHost(kernels.F32, sub, k, f32bytes(xf[t0*k:(t0+sub)*k]))
					got := matmulBytes(t, p.simd, dt, w, xs, n, k)
					if !slices.Equal(got, all[t0*rb:(t0+sub)*rb]) {
						t.Fatalf("rows %d..%d: %d at a time differ from all %d at once", t0, t0+sub, sub, T)
					}
				}
			})
		}
	}
}

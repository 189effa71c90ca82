//go:build cgo

package cpu

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"spillway/kernels"
)

// x32Row is one X32G activation row decoded (sw.h's layout).
type x32Row struct {
	q    []int8
	d, s []float32
	a    []int16 // (nb, 4): m, m, zero-point sums
	g    float32
}

func parseX32(b []byte, k int) x32Row {
	nb := k / 32
	f := func(off int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[off:])) }
	r := x32Row{q: make([]int8, k), d: make([]float32, nb), s: make([]float32, nb), a: make([]int16, 4*nb)}
	for i := range r.q {
		r.q[i] = int8(b[i])
	}
	for i := 0; i < nb; i++ {
		r.d[i] = f(k + 4*i)
		r.s[i] = f(k + 4*nb + 4*i)
	}
	for i := range r.a {
		r.a[i] = int16(binary.LittleEndian.Uint16(b[k+8*nb+2*i:]))
	}
	r.g = f(k + 16*nb)
	return r
}

// TestXQuant32: the SIMD and scalar paths quantize a row for legacy weights to the same
// bytes. Q8_0's X32 row scales each block by amax/127, as llama.cpp does.
// Q4_0's X32G row keeps its promises: each block's scale d = m·g is
// amax/127 rounded up to the row's power-of-two grid g (the largest at m
// in [8192, 16384]), the values fit ±127 and round to nearest, s = d·Σq,
// and the zero-point sums are 8·Σq over positions 4i, 4i+1 and 4i+2, 4i+3.
func TestXQuant32(t *testing.T) {
	p := newPair(t)
	const k = 512
	rng := rand.New(rand.NewPCG(3, 4))
	rows := map[string]func(i int) float32{
		"normal":  func(int) float32 { return float32(rng.NormFloat64()) },
		"zero":    func(int) float32 { return 0 },
		"tiny":    func(int) float32 { return float32(rng.NormFloat64() * 1e-20) },
		"huge":    func(int) float32 { return float32(rng.NormFloat64() * 1e30) },
		"one-hot": func(i int) float32 { return float32(b2f(i == 77)) * 3.5 },
		// Blocks 10^-6 to 10^3 apart: small ones sit at small m.
		"ranges": func(i int) float32 { return float32(rng.NormFloat64() * math.Pow(10, float64(i/32%10)-6)) },
		"some-zero-blocks": func(i int) float32 {
			if i/32%3 == 0 {
				return 0
			}
			return float32(rng.NormFloat64())
		},
	}
	for name, gen := range rows {
		t.Run(name, func(t *testing.T) {
			x := make([]float32, k)
			for i := range x {
				x[i] = gen(i)
			}
			got, want := p.simd.ctx.xquant(kernels.Q4_0, x), p.scalar.ctx.xquant(kernels.Q4_0, x)
			if !slices.Equal(got, want) {
				t.Fatalf("Q4_0: %s and scalar rows differ", p.simd.ISA())
			}
			checkX32G(t, x, parseX32(got, k))
			got, want = p.simd.ctx.xquant(kernels.Q8_0, x), p.scalar.ctx.xquant(kernels.Q8_0, x)
			n := k + 8*k/32 // q, d, s: the rest is unset
			if !slices.Equal(got[:n], want[:n]) {
				t.Fatalf("Q8_0: %s and scalar rows differ", p.simd.ISA())
			}
			for b := range k / 32 {
				d := math.Float32frombits(binary.LittleEndian.Uint32(got[k+4*b:]))
				amax := float32(0)
				for _, v := range x[32*b : 32*b+32] {
					amax = max(amax, float32(math.Abs(float64(v))))
				}
				if want := amax / 127; d != want && !(amax < 1e-30 && d == 0) {
					t.Fatalf("Q8_0: block %d: d = %g, want amax/127 = %g", b, d, want)
				}
			}
		})
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func checkX32G(t *testing.T, x []float32, r x32Row) {
	t.Helper()
	if frac, _ := math.Frexp(float64(r.g)); frac != 0.5 {
		t.Fatalf("g = %g is not a power of two", r.g)
	}
	maxM := int16(0)
	for b := range r.d {
		blk, q := x[32*b:32*b+32], r.q[32*b:32*b+32]
		amax, sum, z0, z1 := 0.0, 0, 0, 0
		for i, v := range blk {
			amax = math.Max(amax, math.Abs(float64(v)))
			sum += int(q[i])
			if i%4 < 2 {
				z0 += int(q[i])
			} else {
				z1 += int(q[i])
			}
		}
		m, d := r.a[4*b], float64(r.d[b])
		maxM = max(maxM, m)
		if r.a[4*b+1] != m || d != float64(m)*float64(r.g) {
			t.Fatalf("block %d: d = %g, m = %d, %d, g = %g: d is not m·g", b, d, m, r.a[4*b+1], r.g)
		}
		if amax < 1e-30 {
			if m != 0 {
				t.Fatalf("block %d is zero but m = %d", b, m)
			}
			continue
		}
		want := float64(float32(amax) / 127)
		if d < want || (m > 1 && d-float64(r.g) >= want) {
			t.Fatalf("block %d: d = %g is not amax/127 = %g rounded up to the grid %g", b, d, want, r.g)
		}
		for i, v := range blk {
			if q[i] < -127 || math.Abs(float64(v)-float64(q[i])*d) > d/2*(1+1e-6) {
				t.Fatalf("block %d: x[%d] = %g quantized to %d·%g", b, i, v, q[i], d)
			}
		}
		if r.s[b] != float32(d)*float32(sum) {
			t.Fatalf("block %d: s = %g, want d·Σq = %g", b, r.s[b], float32(d)*float32(sum))
		}
		if int(r.a[4*b+2]) != 8*z0 || int(r.a[4*b+3]) != 8*z1 {
			t.Fatalf("block %d: zero-point sums %d, %d, want %d, %d", b, r.a[4*b+2], r.a[4*b+3], 8*z0, 8*z1)
		}
	}
	if maxM != 0 && (maxM < 8192 || maxM > 16384) {
		t.Fatalf("largest m = %d, not in [8192, 16384]", maxM)
	}
}

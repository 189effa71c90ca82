//go:build cgo

package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
)

var blockTypes = []kernels.DType{
	kernels.Q4_0, kernels.Q4_1, kernels.Q5_0, kernels.Q5_1, kernels.Q8_0,
	kernels.Q2_K, kernels.Q3_K, kernels.Q4_K, kernels.Q5_K, kernels.Q6_K,
}

// hostRow returns a quantized row of k elements of dt and its values as
// kernels/quant decodes them.
func hostRow(rng *rand.Rand, dt kernels.DType, k int) ([]byte, []float32) {
	src := make([]float32, k) // (k,)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * math.Ldexp(1, i/32%5-2))
	}
	row := make([]byte, dt.RowBytes(k))
	quant.QuantizeRow(dt, row, src)
	want := make([]float32, k)
	quant.DequantizeRow(dt, want, row)
	return row, want
}

// TestHostDeq32 holds the kernels' block decoders (quant.cuh, built for
// the host) to kernels/quant, piece by piece, within Embed's tolerance
// (the kernels may fuse a·level + b into one rounding).
func TestHostDeq32(t *testing.T) {
	for _, dt := range blockTypes {
		t.Run(dt.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(dt), 1))
			k := 3 * max(dt.BlockSize(), 256)
			row, want := hostRow(rng, dt, k)
			for p := 0; p < k/32; p++ {
				got := hostDeq32(dt, row, p)
				for j, g := range got {
					w := want[32*p+j]
					if d := math.Abs(float64(g - w)); d > 2e-6+1e-6*math.Abs(float64(w)) {
						t.Fatalf("piece %d element %d: got %g, want %g", p, j, g, w)
					}
				}
			}
		})
	}
}

// TestHostDot32 checks the dp4a dot product of every format against the
// float64 dot of the decoded weights with activations that are exactly
// dx·qx, so that the only error allowed is float32 summation.
func TestHostDot32(t *testing.T) {
	for _, dt := range blockTypes {
		t.Run(dt.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(dt), 2))
			k := 2 * max(dt.BlockSize(), 256)
			row, w := hostRow(rng, dt, k)
			for p := 0; p < k/32; p++ {
				var qx [32]int8
				dx := float32(0.01 + rng.Float64()/10)
				var s [2]float64
				want, abs := 0.0, 0.0
				for j := range qx {
					qx[j] = int8(rng.IntN(255) - 127)
					x := float64(dx * float32(qx[j]))
					s[j/16] += x
					want += float64(w[32*p+j]) * x
					abs += math.Abs(float64(w[32*p+j]) * x)
				}
				got := hostDot32(dt, row, p, &qx, dx, float32(s[0]), float32(s[1]))
				if d := math.Abs(float64(got) - want); d > 2e-6*abs+1e-6 {
					t.Fatalf("piece %d: got %g, want %g (|err| %.3g, Σ|wx| %.3g)", p, got, want, d, abs)
				}
			}
		})
	}
}

// TestHostF16 compares quant.cuh's host F16 conversion, which the host
// check relies on, with kernels/quant for every bit pattern.
func TestHostF16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got, want := hostF16(uint16(h)), quant.F16ToF32(uint16(h))
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("F16 %#04x: got %g, want %g", h, got, want)
		}
	}
}

// TestHostQ4KChunk checks the Q4_K GEMV's chunk decomposition (q4k_chunk
// of quant.cuh, as matmul_q4k.cu runs it): the eight chunks of a
// super-block, each against 16 activations of two pieces, add up to the
// float64 dot of the decoded weights with those activations.
func TestHostQ4KChunk(t *testing.T) {
	checkUnits(t, kernels.Q4_K, 8, func(blk []byte, sb, u int, qx []int8, dx []float32) (float32, []int) {
		c, h := u/2, u%2
		pl, ph := 8*sb+2*c, 8*sb+2*c+1 // pieces of the low and high nibbles
		var xl, xh [16]int8
		copy(xl[:], qx[32*pl+16*h:])
		copy(xh[:], qx[32*ph+16*h:])
		got := hostQ4KChunk(blk, u, &xl, &xh, dx[pl], halfSum(qx, dx, pl, h), dx[ph], halfSum(qx, dx, ph, h))
		var elems []int
		for j := 0; j < 16; j++ {
			elems = append(elems, 32*pl+16*h+j, 32*ph+16*h+j)
		}
		return got, elems
	})
}

// TestHostQ6KUnit checks the Q6_K GEMV's unit decomposition (q6k_unit of
// quant.cuh, as matmul_q6k.cu runs it): the four units of a super-block
// add up to the float64 dot of the decoded weights with the activations.
func TestHostQ6KUnit(t *testing.T) {
	checkUnits(t, kernels.Q6_K, 4, func(blk []byte, sb, u int, qx []int8, dx []float32) (float32, []int) {
		h, e := u/2, u%2
		var x [4][16]int8
		var d, hs [4]float32
		var elems []int
		for s := range 4 {
			p := 8*sb + 4*h + s
			copy(x[s][:], qx[32*p+16*e:])
			d[s], hs[s] = dx[p], halfSum(qx, dx, p, e)
			for j := 0; j < 16; j++ {
				elems = append(elems, 32*p+16*e+j)
			}
		}
		return hostQ6KUnit(blk, h, e, &x, &d, &hs), elems
	})
}

// checkUnits holds a GEMV's units of a super-block of dt (units of them;
// unit returns its dot product and the elements it covers) to the float64
// dot of the decoded weights with 8-bit activations: the units' sums
// must add up to it over each super-block and cover it exactly.
func checkUnits(t *testing.T, dt kernels.DType, units int, unit func(blk []byte, sb, u int, qx []int8, dx []float32) (float32, []int)) {
	rng := rand.New(rand.NewPCG(uint64(dt), 3))
	const k = 3 * 256
	row, w := hostRow(rng, dt, k)
	qx, dx := randQ8(rng, k)
	bs := dt.RowBytes(256)
	for sb := 0; sb < k/256; sb++ {
		got, want, abs := 0.0, 0.0, 0.0
		seen := map[int]bool{}
		for u := 0; u < units; u++ {
			g, elems := unit(row[bs*sb:bs*(sb+1)], sb, u, qx, dx)
			got += float64(g)
			for _, e := range elems {
				if seen[e] {
					t.Fatalf("super-block %d: element %d in two units", sb, e)
				}
				seen[e] = true
				x := float64(dx[e/32]) * float64(qx[e])
				want += float64(w[e]) * x
				abs += math.Abs(float64(w[e]) * x)
			}
		}
		if len(seen) != 256 {
			t.Fatalf("super-block %d: units cover %d elements, want 256", sb, len(seen))
		}
		if d := math.Abs(got - want); d > 4e-6*abs+1e-6 {
			t.Fatalf("super-block %d: units add to %g, want %g (|err| %.3g, Σ|wx| %.3g)", sb, got, want, d, abs)
		}
	}
}

// randQ8 returns k random int8 activations and a scale per 32.
func randQ8(rng *rand.Rand, k int) ([]int8, []float32) {
	qx := make([]int8, k)       // (k,)
	dx := make([]float32, k/32) // per piece
	for i := range qx {
		qx[i] = int8(rng.IntN(255) - 127)
	}
	for p := range dx {
		dx[p] = float32(0.01 + rng.Float64()/10)
	}
	return qx, dx
}

// halfSum is d·Σq over half h of piece p, as sw_quant_q8 stores it.
func halfSum(qx []int8, dx []float32, p, h int) float32 {
	s := 0
	for j := 16 * h; j < 16*h+16; j++ {
		s += int(qx[32*p+j])
	}
	return dx[p] * float32(s)
}

//go:build cgo

package cpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"spillway/kernels"
)

// TestAVX512MatchesAVX2: the AVX-512 tiles compute every packed MatMul
// bit for bit as the AVX2 ones do (the same integer block sums, converted
// and added in the same order), for T from 1 through several passes over
// a panel, ragged panels, and rows of x whose blocks are all zero (scale
// 0) beside ordinary ones. So the properties the AVX2 path is tested for
// (batch invariance, the oracle's tolerances) hold on both, and a server
// gives the same tokens whichever of the two its CPU runs.
func TestAVX512MatchesAVX2(t *testing.T) {
	if !isaSupported(isaAVX512) {
		t.Skip("this CPU has no AVX-512 VNNI")
	}
	var be [2]*Backend
	for i, isa := range []string{"avx2", "avx512"} {
		b, err := newISA(kernels.Options{Threads: 2}, isa)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		be[i] = b
	}
	for _, dt := range packTypes {
		for _, c := range []struct{ T, n, blocks int }{
			{1, 16, 1}, {1, 141, 19}, {2, 7, 3}, {3, 33, 2}, {4, 141, 19}, {5, 16, 4}, {6, 17, 2},
			{7, 141, 5}, {8, 31, 3}, {9, 16, 2}, {12, 47, 3}, {16, 141, 19}, {17, 20, 2}, {33, 9, 2}, {70, 141, 3},
			// Enough panels that a thread's unit holds several (Q6_K's tiles
			// take them two at a time, an odd one alone).
			{4, 1030, 1}, {9, 1029, 2}, {16, 8203, 1},
		} {
			t.Run(fmt.Sprintf("%s/T=%d,n=%d,blocks=%d", dt, c.T, c.n, c.blocks), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(dt), uint64(c.T*1000+c.n)))
				k := c.blocks * dt.BlockSize()
				w := quantRows(rng, dt, c.n, k)
				xf := randRows(rng, c.T, k, 1)
				if c.T > 2 {
					clear(xf[k : 2*k]) // a row of x with no finite scale
				}
				var got [2][]byte
				for i, b := range be {
					x, err := b.FromHost(kernels.F32, c.T, k, f32bytes(xf))
					if err != nil {
						t.Fatal(err)
					}
					got[i] = matmulBytes(t, b, dt, w, x, c.n, k)
				}
				if i := firstDiff(got[0], got[1]); i >= 0 {
					t.Fatalf("output byte %d (row %d of x, column %d) differs between avx2 and avx512",
						i, i/4/c.n, i/4%c.n)
				}
			})
		}
	}
}

// firstDiff is the first index where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	if slices.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

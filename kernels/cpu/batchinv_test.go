package cpu

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"spillway/kernels"
)

// batchInvariantTypes are the weight types whose MatMul gives a row of x
// the same bits whatever rows share the call: the legacy types. Each
// output adds its blocks in order, an exact integer sum per block met by
// the same float steps on every path (avx2_dotr.c's dot products, the
// panel GEMM, Q4_0's packed tiles). Not yet: the k-quants, whose dot
// products keep 8 partial sums per output against one in their panel
// kernels, and float weights (16 partial sums against one).
var batchInvariantTypes = []kernels.DType{kernels.Q4_0, kernels.Q4_1, kernels.Q5_0, kernels.Q5_1, kernels.Q8_0}

// TestRowsIndependentOfBatch: every row of a MatMul of T rows (T from 1
// through each path's threshold to 70) equals that row computed alone, bit
// for bit, on both ISAs. Continuous batching relies on it to give each
// request what it gets alone (engine.TestBatchedEqualsSolo).
func TestRowsIndependentOfBatch(t *testing.T) {
	p := newPair(t)
	for _, be := range []*Backend{p.simd, p.scalar} {
		for _, dt := range batchInvariantTypes {
			t.Run(fmt.Sprintf("%s/%s", be.Name(), dt), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(dt), 7))
				n, k := 141, 2*256 // ragged panels; two super-blocks
				w := quantRows(rng, dt, n, k)
				const maxT = 70
				xf := randRows(rng, maxT, k, 1)
				alone := make([][]byte, maxT)
				for i := range alone {
					x, _ := be.FromHost(kernels.F32, 1, k, f32bytes(xf[i*k:(i+1)*k]))
					alone[i] = matmulBytes(t, be, dt, w, x, n, k)
				}
				for _, T := range []int{2, 3, 4, 5, 7, 8, 9, 16, 33, 70} {
					x, _ := be.FromHost(kernels.F32, T, k, f32bytes(xf[:T*k]))
					all := matmulBytes(t, be, dt, w, x, n, k)
					for i := 0; i < T; i++ {
						if !slices.Equal(all[i*4*n:(i+1)*4*n], alone[i]) {
							t.Fatalf("row %d of %d differs from the row alone", i, T)
						}
					}
				}
			})
		}
	}
}

package conformance

import (
	"fmt"
	"math"
	"testing"

	"spillway/kernels"
)

// mmCase is one MatMul shape: out (T, n) = x (T, k) @ w (n, k)ᵀ with k =
// rowLen(w's type, mult): an odd number of blocks, or an odd length.
type mmCase struct {
	T, mult, n int
	k          int  // when > 0, the row length instead of rowLen's (a model's 4096)
	view       bool // x, w and out are Slices at non-zero offsets
	outF32     bool // out is F32 whatever ActDType is (logits)
}

func (c mmCase) String() string {
	s := fmt.Sprintf("T=%d,blocks=%d,n=%d", c.T, c.mult, c.n)
	if c.k > 0 {
		s = fmt.Sprintf("T=%d,k=%d,n=%d", c.T, c.k, c.n)
	}
	if c.view {
		s += ",view"
	}
	if c.outF32 {
		s += ",outF32"
	}
	return s
}

// matmulCases covers decode (T=1), short and odd prefill chunks, n = 1,
// and a case large enough for a fast backend's tiling and thread split.
func matmulCases(act kernels.DType) []mmCase {
	cs := []mmCase{
		{T: 1, mult: 1, n: 5},
		{T: 1, mult: 3, n: 1},
		{T: 3, mult: 7, n: 33, view: true},
		{T: 17, mult: 3, n: 67, view: true},
		{T: 33, mult: 5, n: 131, view: true},
		{T: 67, mult: 3, n: 35, view: true}, // past a GPU's GEMV passes, into its GEMM
		// Long rows over few outputs: a GPU splits each row among warps.
		{T: 3, mult: 130, n: 7, view: true},
		{T: 2, k: 4096, n: 9},
	}
	if act != kernels.F32 {
		cs = append(cs, mmCase{T: 3, mult: 3, n: 33, view: true, outF32: true})
	}
	return cs
}

func testMatMul(h *harness) {
	for _, wdt := range WeightTypes {
		for _, c := range matmulCases(h.act) {
			h.t.Run(fmt.Sprintf("%s/%s", wdt, c), func(t *testing.T) { h.sub(t).matmul(wdt, c) })
		}
	}
}

func (h *harness) matmul(wdt kernels.DType, c mmCase) {
	k := rowLen(wdt, c.mult)
	if c.k > 0 {
		k = c.k
	}
	x := h.actIn(c.T, k, c.view, h.activations()) // (T, k)
	w := h.weight(wdt, c.n, k, c.view, func(r, _ int) float32 {
		// Rows of different magnitudes, so a scale mixed up between rows
		// shows.
		return float32(h.rng.NormFloat64() * math.Ldexp(1, r%5-2))
	}) // (n, k)
	odt := h.act
	if c.outF32 {
		odt = kernels.F32
	}
	out := h.output(odt, c.T, c.n, c.view) // (T, n)
	h.be.MatMul(out.be, x.be, w.be)
	h.ref.MatMul(out.ref, x.ref, w.ref)
	want := h.want(out)
	h.check("out", c.n, h.got(out), want, func(i int) float64 {
		t, j := i/c.n, i%c.n
		return matmulBound(wdt, odt, x.vals[t*k:(t+1)*k], w.vals[j*k:(j+1)*k], float64(want[i]))
	})
	h.unchanged("x, w", x, w)
}

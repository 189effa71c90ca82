package conformance

import (
	"fmt"
	"testing"

	"spillway/kernels"
)

// ids returns n token ids below v: the last and first rows of the table,
// then random ones (repeats included).
func (h *harness) ids(n, v int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(h.rng.IntN(v))
	}
	ids[0] = int32(v - 1)
	if n > 1 {
		ids[1] = 0
	}
	return ids
}

// rowLen is an odd multiple of dt's block size, or an odd length for the
// float types, so that SIMD tails and multi-block rows are exercised.
func rowLen(dt kernels.DType, mult int) int {
	if dt.BlockSize() == 1 {
		return 32*mult + 1
	}
	return dt.BlockSize() * mult
}

func testEmbed(h *harness) {
	for _, dt := range WeightTypes {
		for _, T := range []int{1, 3, 17} {
			h.t.Run(fmt.Sprintf("%s/T=%d", dt, T), func(t *testing.T) {
				h := h.sub(t)
				const vocab = 37
				d := rowLen(dt, 3)
				view := T > 1
				table := h.weight(dt, vocab, d, view, h.normal(1)) // (V, d)
				ids := h.ids(T, vocab)
				out := h.output(h.act, T, d, view) // (T, d)
				h.be.Embed(out.be, table.be, ids)
				h.ref.Embed(out.ref, table.ref, ids)
				h.checkTol("out", d, h.got(out), h.want(out), widen(tolEmbed, h.act))
				h.unchanged("table", table)
			})
		}
	}
	// Embed also gathers rows of an activation tensor (hidden states of the
	// tokens whose logits are wanted).
	h.t.Run("activations", func(t *testing.T) {
		h := h.sub(t)
		table := h.actIn(9, 70, true, h.activations()) // (9, 70)
		ids := []int32{8, 0, 4, 4}
		out := h.output(h.act, len(ids), 70, true) // (4, 70)
		h.be.Embed(out.be, table.be, ids)
		h.ref.Embed(out.ref, table.ref, ids)
		h.checkTol("out", 70, h.got(out), h.want(out), widen(Tol{}, h.act))
	})
}

// ewCase is one shape of an element-wise op test.
type ewCase struct {
	T, d  int
	bcast bool // Add: b is (1, d)
	alias bool // out is the first input's view
	view  bool // inputs and output are Slices at a non-zero offset
}

func (c ewCase) String() string {
	s := fmt.Sprintf("T=%d,d=%d", c.T, c.d)
	if c.bcast {
		s += ",bcast"
	}
	if c.alias {
		s += ",inplace"
	}
	if c.view {
		s += ",view"
	}
	return s
}

var ewCases = []ewCase{
	{T: 1, d: 7},
	{T: 3, d: 256, bcast: true, alias: true, view: true},
	{T: 17, d: 100, alias: true, view: true},
	{T: 17, d: 1000, bcast: true, view: true},
	{T: 5, d: 4096, alias: true},
}

// binaryOp runs a two-input element-wise op on both backends, out
// aliasing the first input when c.alias, and compares.
func (h *harness) binaryOp(c ewCase, a, b *tpair, tol Tol, op func(be kernels.Backend, out, a, b kernels.Tensor)) {
	h.t.Helper()
	var out *tpair
	if c.alias {
		out = h.refOnly(c.T, c.d)
		op(h.be, a.be, a.be, b.be)
		op(h.ref, out.ref, a.ref, b.ref)
		h.checkTol("out", c.d, h.got(a), h.want(out), tol)
		h.unchanged("second input", b)
		return
	}
	out = h.output(h.act, c.T, c.d, c.view)
	op(h.be, out.be, a.be, b.be)
	op(h.ref, out.ref, a.ref, b.ref)
	h.checkTol("out", c.d, h.got(out), h.want(out), tol)
	h.unchanged("inputs", a, b)
}

func testRMSNorm(h *harness) {
	for i, c := range ewCases {
		c.bcast = false // no second operand to broadcast
		h.t.Run(c.String(), func(t *testing.T) {
			h := h.sub(t)
			eps := []float32{1e-5, 1e-6}[i%2]
			x := h.actIn(c.T, c.d, c.view, func(r, _ int) float32 {
				v := float32(h.rng.NormFloat64())
				if r == 1 {
					v *= 1e-3 // mean(x²) ≈ 1e-6: eps matters in this row
				}
				return v
			})
			w := h.input(kernels.F32, kernels.F32, 1, c.d, c.view, false, func(int, int) float32 {
				return float32(1 + 0.2*h.rng.NormFloat64())
			})
			h.binaryOp(c, x, w, widen(tolRMSNorm, h.act), func(be kernels.Backend, out, x, w kernels.Tensor) {
				be.RMSNorm(out, x, w, eps)
			})
		})
	}
}

func testAdd(h *harness) {
	for _, c := range ewCases {
		h.t.Run(c.String(), func(t *testing.T) {
			h := h.sub(t)
			a := h.actIn(c.T, c.d, c.view, h.activations())
			bRows := c.T
			if c.bcast {
				bRows = 1
			}
			b := h.actIn(bRows, c.d, c.view, h.activations())
			h.binaryOp(c, a, b, widen(tolAdd, h.act), func(be kernels.Backend, out, a, b kernels.Tensor) {
				be.Add(out, a, b)
			})
		})
	}
}

func testSiLUMul(h *harness) {
	for _, c := range ewCases {
		c.bcast = false // no second operand to broadcast
		h.t.Run(c.String(), func(t *testing.T) {
			h := h.sub(t)
			gate := h.actIn(c.T, c.d, c.view, h.normal(4)) // wide: both tails of silu
			up := h.actIn(c.T, c.d, c.view, h.activations())
			h.binaryOp(c, gate, up, widen(tolSiLUMul, h.act), func(be kernels.Backend, out, g, u kernels.Tensor) {
				be.SiLUMul(out, g, u)
			})
		})
	}
}

package conformance

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"spillway/kernels"
)

// testFused checks what a backend fuses against the sequence of ops it
// stands for, on the backend under test and bit for bit (the sequence
// itself is checked against the reference by the other groups):
//   - the optional fused ops (kernels.AddRMSNormer, RoPEStoreKVer,
//     MultiMatMuler), skipped where the backend has none;
//   - work an op does ahead for the next one, which must not show: a
//     MatMul of an op's fresh output must equal a MatMul of a copy of it
//     (a GPU quantizes the outputs of RMSNorm, SiLU·mul and Attention for
//     the MatMul while it writes them).
func testFused(h *harness) {
	for _, c := range fusedNormCases {
		h.t.Run("AddRMSNorm/"+c.String(), func(t *testing.T) { h.sub(t).addRMSNorm(c) })
	}
	for _, c := range fusedNormCases {
		h.t.Run("RMSNorm+MatMul/"+c.String(), func(t *testing.T) { h.sub(t).opThenMatMul(c, "RMSNorm") })
		h.t.Run("SiLUMul+MatMul/"+c.String(), func(t *testing.T) { h.sub(t).opThenMatMul(c, "SiLUMul") })
	}
	for _, c := range attnCases {
		h.t.Run("Attention+MatMul/"+c.name, func(t *testing.T) { h.sub(t).attentionThenMatMul(c) })
	}
	for _, c := range ropeCases {
		for _, dt := range KVTypes {
			h.t.Run(fmt.Sprintf("RoPEStoreKV/%s/%s", c.name, dt), func(t *testing.T) { h.sub(t).ropeStoreKV(c, dt) })
		}
	}
	for _, c := range matmulNCases {
		for _, T := range []int{1, 3, 9, 67} {
			h.t.Run(fmt.Sprintf("MatMulN/%s/T=%d", c, T), func(t *testing.T) { h.sub(t).matmulN(c, T) })
		}
	}
}

// fusedNormCases: decode and batch shapes of a model's width, a width
// that is not whole 32-blocks, and one past what a GPU block holds in
// registers.
var fusedNormCases = []ewCase{
	{T: 1, d: 4096},
	{T: 5, d: 256, view: true},
	{T: 17, d: 100, view: true},
	{T: 3, d: 8448},
}

// twin puts the same values on the tested backend twice (and on the
// reference, unused), for a fused op and its sequence to run on.
func (h *harness) twin(rows, cols int, view bool, gen func(r, c int) float32) (a, b *tpair) {
	vals := make([]float32, rows*cols) // (rows, cols)
	for i := range vals {
		vals[i] = gen(i/cols, i%cols)
	}
	same := func(r, c int) float32 { return vals[r*cols+c] }
	return h.actIn(rows, cols, view, same), h.actIn(rows, cols, view, same)
}

// bytesOf downloads the tested view's bytes.
func (h *harness) bytesOf(t kernels.Tensor) []byte {
	h.t.Helper()
	h.sync()
	d := make([]byte, t.Bytes())
	h.must(h.be.Download(d, t), "Download")
	return d
}

// identical fails unless the tested tensors a and b hold the same bytes,
// naming the first element that differs.
func (h *harness) identical(what string, a, b kernels.Tensor) {
	h.t.Helper()
	ga, gb := h.bytesOf(a), h.bytesOf(b)
	if bytes.Equal(ga, gb) {
		return
	}
	va, vb := decode(a.DType, ga, a.Cols), decode(b.DType, gb, b.Cols)
	for i := range va {
		if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
			h.t.Errorf("%s: %s: fused and unfused differ at row %d col %d: %g, want %g",
				h.be.Name(), what, i/a.Cols, i%a.Cols, va[i], vb[i])
			return
		}
	}
	h.t.Errorf("%s: %s: fused and unfused bytes differ", h.be.Name(), what)
}

// normWeight is an RMSNorm weight (1, d) near 1.
func (h *harness) normWeight(d int, view bool) *tpair {
	return h.input(kernels.F32, kernels.F32, 1, d, view, false, func(int, int) float32 {
		return float32(1 + 0.2*h.rng.NormFloat64())
	})
}

func (h *harness) addRMSNorm(c ewCase) {
	f, ok := h.be.(kernels.AddRMSNormer)
	if !ok {
		h.t.Skipf("%s has no fused AddRMSNorm", h.be.Name())
	}
	xa, xb := h.twin(c.T, c.d, c.view, h.activations())
	ra, rb := h.twin(c.T, c.d, c.view, h.activations())
	w := h.normWeight(c.d, c.view)
	oa, ob := h.output(h.act, c.T, c.d, c.view), h.output(h.act, c.T, c.d, c.view)
	f.AddRMSNorm(oa.be, xa.be, ra.be, w.be, 1e-5)
	h.be.Add(xb.be, xb.be, rb.be)
	h.be.RMSNorm(ob.be, xb.be, w.be, 1e-5)
	h.identical("out", oa.be, ob.be)
	h.identical("x", xa.be, xb.be)
	h.got(oa) // nothing written around the views
	h.got(xa)
	h.unchanged("r, w", ra, w)
}

// opThenMatMul runs op (RMSNorm or SiLUMul) into an output, then checks
// the MatMuls that read it (thenMatMul).
func (h *harness) opThenMatMul(c ewCase, op string) {
	x := h.actIn(c.T, c.d, c.view, h.activations())
	var other *tpair
	switch op {
	case "RMSNorm":
		other = h.normWeight(c.d, false)
	case "SiLUMul":
		other = h.actIn(c.T, c.d, c.view, h.activations())
	}
	h.thenMatMul(c.T, c.d, c.view, func(out kernels.Tensor) {
		if op == "RMSNorm" {
			h.be.RMSNorm(out, x.be, other.be, 1e-6)
		} else {
			h.be.SiLUMul(out, x.be, other.be)
		}
	})
}

// thenMatMul runs op into an output (T, d), then MatMuls of it and of a
// fresh copy of it, with weights (block-quantized among them) loaded
// before op runs, as in a model: the products must be equal.
func (h *harness) thenMatMul(T, d int, view bool, op func(out kernels.Tensor)) {
	h.t.Helper()
	var ws []*tpair
	for _, wdt := range []kernels.DType{kernels.Q4_K, kernels.Q8_0, kernels.F16} {
		if d%wdt.BlockSize() == 0 {
			ws = append(ws, h.weight(wdt, 19, d, false, h.normal(1))) // (19, d)
		}
	}
	out := h.output(h.act, T, d, view)
	op(out.be)
	cp, err := h.be.Alloc(h.act, T, d)
	h.must(err, "Alloc")
	h.must(h.be.Upload(cp, h.bytesOf(out.be)), "Upload")
	for _, w := range ws {
		ya, yb := h.output(h.act, T, 19, false), h.output(h.act, T, 19, false)
		h.be.MatMul(ya.be, out.be, w.be)
		h.be.MatMul(yb.be, cp, w.be)
		h.identical(fmt.Sprintf("MatMul %s of its output", w.be.DType), ya.be, yb.be)
	}
}

// attentionThenMatMul checks the output projection of an Attention's
// output, as thenMatMul.
func (h *harness) attentionThenMatMul(c attnCase) {
	ab, numBlocks := h.attnBatch(c)
	spec := kernels.KVSpec{NumLayers: 2, NumBlocks: numBlocks, BlockSize: c.bs, NumKVHeads: c.kvHeads, HeadDim: c.hd, DType: kernels.F16}
	cbe, _, _ := h.caches(spec, nil)
	T := int(ab.QStart[len(ab.QStart)-1])
	cols := c.heads * c.hd
	q := h.actIn(T, cols, true, h.normal(1)) // (T, heads·hd)
	h.thenMatMul(T, cols, true, func(out kernels.Tensor) { h.be.Attention(out, q.be, cbe, 1, ab) })
}

func (h *harness) ropeStoreKV(c ropeCase, dt kernels.DType) {
	f, ok := h.be.(kernels.RoPEStoreKVer)
	if !ok {
		h.t.Skipf("%s has no fused RoPEStoreKV", h.be.Name())
	}
	p := kernels.RoPEParams{HeadDim: c.hd, NDims: c.nd, Base: c.base, Style: c.style, FreqScale: c.scale}
	if c.factors {
		p.FreqFactors = make([]float32, c.nd/2)
		for i := range p.FreqFactors {
			p.FreqFactors[i] = float32(1 + 7*h.rng.Float64())
		}
	}
	kvHeads := max(1, c.heads/2) // grouped-query: fewer k, v heads than q heads
	spec := kernels.KVSpec{NumLayers: 2, NumBlocks: 3, BlockSize: 16, NumKVHeads: kvHeads, HeadDim: c.hd, DType: dt}
	ca, cb := h.twinCaches(spec)
	pos, slots := make([]int32, c.T), make([]int32, c.T)
	for t, s := range h.rng.Perm(spec.Slots())[:c.T] {
		pos[t], slots[t] = int32(h.rng.IntN(8192)), int32(s)
	}
	qa, qb := h.twin(c.T, c.heads*c.hd, c.view, h.activations())
	ka, kb := h.twin(c.T, kvHeads*c.hd, c.view, h.activations())
	va, vb := h.twin(c.T, kvHeads*c.hd, c.view, h.activations())
	f.RoPEStoreKV(qa.be, ka.be, va.be, pos, p, ca, 1, slots)
	h.be.RoPE(qb.be, pos, p)
	h.be.RoPE(kb.be, pos, p)
	h.be.StoreKV(cb, 1, kb.be, vb.be, slots)
	h.identical("q", qa.be, qb.be)
	h.identical("k", ka.be, kb.be)
	for l := range spec.NumLayers {
		h.identical(fmt.Sprintf("layer %d cache K", l), ca.K[l], cb.K[l])
		h.identical(fmt.Sprintf("layer %d cache V", l), ca.V[l], cb.V[l])
	}
	h.got(qa)
	h.got(ka)
	h.unchanged("v", va)
}

// twinCaches allocates two caches of spec on the tested backend holding
// the same random values.
func (h *harness) twinCaches(spec kernels.KVSpec) (a, b *kernels.KVCache) {
	a, err := h.be.AllocKV(spec)
	h.must(err, "AllocKV")
	b, err = h.be.AllocKV(spec)
	h.must(err, "AllocKV")
	width := spec.NumKVHeads * spec.HeadDim
	for l := range spec.NumLayers {
		for _, pair := range [][2]kernels.Tensor{{a.K[l], b.K[l]}, {a.V[l], b.V[l]}} {
			vals := make([]float32, spec.Slots()*width) // (slots, width)
			for i := range vals {
				vals[i] = float32(h.rng.NormFloat64())
			}
			data := encode(spec.DType, vals, width)
			h.must(h.be.Upload(pair[0], data), "Upload to KV cache")
			h.must(h.be.Upload(pair[1], data), "Upload to KV cache")
		}
	}
	return a, b
}

// matmulNCase is one MatMulN call: weights of the given types and rows,
// all k wide.
type matmulNCase struct {
	types []kernels.DType
	rows  []int
	k     int
}

func (c matmulNCase) String() string {
	s := ""
	for i, dt := range c.types {
		s += fmt.Sprintf("%s×%d+", dt, c.rows[i])
	}
	return fmt.Sprintf("%sk=%d", s, c.k)
}

// matmulNCases: q, k, v of one type and of mixed types (Q4_K_M's Q6_K v),
// gate and up, and row counts that give each matrix its own warps per row.
var matmulNCases = []matmulNCase{
	{[]kernels.DType{kernels.Q4_K, kernels.Q4_K, kernels.Q4_K}, []int{96, 17, 17}, 1024},
	{[]kernels.DType{kernels.Q4_K, kernels.Q4_K, kernels.Q6_K}, []int{64, 16, 16}, 4096},
	{[]kernels.DType{kernels.Q8_0, kernels.Q8_0}, []int{130, 130}, 288},
	{[]kernels.DType{kernels.Q4_0, kernels.Q4_0, kernels.Q4_0, kernels.Q4_0}, []int{5, 40, 3, 9}, 512},
	{[]kernels.DType{kernels.F16, kernels.F16, kernels.F16}, []int{70, 9, 9}, 2048},
	{[]kernels.DType{kernels.BF16, kernels.BF16}, []int{33, 65}, 264},
	{[]kernels.DType{kernels.F32, kernels.F32}, []int{7, 5}, 97},
}

func (h *harness) matmulN(c matmulNCase, T int) {
	f, ok := h.be.(kernels.MultiMatMuler)
	if !ok {
		h.t.Skipf("%s has no MatMulN", h.be.Name())
	}
	x := h.actIn(T, c.k, true, h.activations()) // (T, k)
	ws := make([]kernels.Tensor, len(c.types))
	outs, solo := make([]kernels.Tensor, len(ws)), make([]*tpair, len(ws))
	for i, dt := range c.types {
		ws[i] = h.weight(dt, c.rows[i], c.k, i%2 == 1, h.normal(1)).be // (rows, k)
		o := h.output(h.act, T, c.rows[i], i%2 == 0)
		outs[i] = o.be
		solo[i] = h.output(h.act, T, c.rows[i], false)
	}
	f.MatMulN(outs, x.be, ws)
	for i, w := range ws {
		h.be.MatMul(solo[i].be, x.be, w)
	}
	for i := range ws {
		h.identical(fmt.Sprintf("out %d (%s)", i, c.types[i]), outs[i], solo[i].be)
	}
	h.unchanged("x", x)
}

package conformance

import (
	"bytes"
	"math"

	"spillway/kernels"
	"spillway/kernels/quant"
)

// tpair is one tensor on both backends: be is the view under test, ref
// holds the same values on the reference backend.
type tpair struct {
	be, ref kernels.Tensor
	parent  kernels.Tensor // be's whole allocation; be is rows [pad, pad+Rows)
	pad     int
	init    []byte    // parent's bytes when created
	vals    []float32 // (Rows, Cols) the values be's view holds, as float32
}

// viewPadBefore and viewPadAfter are how many rows sit before a view and after it: 2 before so the
// byte offset is non-zero, 1 after to catch writes past the end.
const viewPadBefore, viewPadAfter = 2, 1

// input puts rows×cols values from gen on both backends: as beDT on the
// tested backend (rounded or quantized there first), and as refDT on the
// reference. With view, the tested tensor is a Slice of a larger one whose
// extra rows hold other values. fromHost uses FromHost, as weight loading
// does, instead of Alloc and Upload.
func (h *harness) input(beDT, refDT kernels.DType, rows, cols int, view, fromHost bool, gen func(r, c int) float32) *tpair {
	h.t.Helper()
	pb, pa := 0, 0
	if view {
		pb, pa = viewPadBefore, viewPadAfter
	}
	prows := pb + rows + pa
	src := make([]float32, prows*cols) // (prows, cols)
	junk := h.normal(3)
	for r := 0; r < prows; r++ {
		for c := 0; c < cols; c++ {
			if r >= pb && r < pb+rows {
				src[r*cols+c] = gen(r-pb, c)
			} else {
				src[r*cols+c] = junk(r, c)
			}
		}
	}
	data := encode(beDT, src, cols) // (prows, cols) of beDT
	p := &tpair{pad: pb, init: data}
	rb := beDT.RowBytes(cols)
	p.vals = decode(beDT, data[pb*rb:(pb+rows)*rb], cols)
	var err error
	if fromHost {
		p.parent, err = h.be.FromHost(beDT, prows, cols, bytes.Clone(data))
		h.must(err, "FromHost")
	} else {
		p.parent, err = h.be.Alloc(beDT, prows, cols)
		h.must(err, "Alloc")
		h.must(h.be.Upload(p.parent, data), "Upload")
	}
	p.be = p.parent.Slice(pb, rows)
	refData := data[pb*rb : (pb+rows)*rb]
	if refDT != beDT {
		refData = encode(refDT, p.vals, cols)
	}
	p.ref, err = h.ref.FromHost(refDT, rows, cols, bytes.Clone(refData))
	h.must(err, "reference FromHost")
	return p
}

// actIn is an activation input: ActDType on the tested backend, exactly the
// same values in F32 on the reference.
func (h *harness) actIn(rows, cols int, view bool, gen func(r, c int) float32) *tpair {
	return h.input(h.act, kernels.F32, rows, cols, view, false, gen)
}

// weight is a weight input: identical dt bytes on both backends, loaded
// with FromHost.
func (h *harness) weight(dt kernels.DType, rows, cols int, view bool, gen func(r, c int) float32) *tpair {
	return h.input(dt, dt, rows, cols, view, true, gen)
}

// output is an output of type dt on the tested backend, filled with NaN
// (which F16 and BF16 keep) so that every element the op owns must be
// written; the reference output is F32.
func (h *harness) output(dt kernels.DType, rows, cols int, view bool) *tpair {
	h.t.Helper()
	pb, pa := 0, 0
	if view {
		pb, pa = viewPadBefore, viewPadAfter
	}
	nan := make([]float32, (pb+rows+pa)*cols)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	p := &tpair{pad: pb, init: encode(dt, nan, cols)}
	var err error
	p.parent, err = h.be.Alloc(dt, pb+rows+pa, cols)
	h.must(err, "Alloc")
	h.must(h.be.Upload(p.parent, p.init), "Upload")
	p.be = p.parent.Slice(pb, rows)
	p.ref, err = h.ref.Alloc(kernels.F32, rows, cols)
	h.must(err, "reference Alloc")
	return p
}

// refOnly is a reference output with no tested counterpart, for ops the
// tested backend runs in place.
func (h *harness) refOnly(rows, cols int) *tpair {
	h.t.Helper()
	r, err := h.ref.Alloc(kernels.F32, rows, cols)
	h.must(err, "reference Alloc")
	return &tpair{ref: r}
}

// got downloads the tested view as float32 (Rows, Cols) and checks that
// the rows around it were left alone.
func (h *harness) got(p *tpair) []float32 {
	h.t.Helper()
	h.sync()
	all := make([]byte, p.parent.Bytes())
	h.must(h.be.Download(all, p.parent), "Download")
	rb := p.parent.RowBytes()
	lo, hi := p.pad*rb, (p.pad+p.be.Rows)*rb
	if !bytes.Equal(all[:lo], p.init[:lo]) || !bytes.Equal(all[hi:], p.init[hi:]) {
		h.t.Errorf("%s wrote outside the view %v at row %d of %v", h.be.Name(), p.be, p.pad, p.parent)
	}
	return decode(p.be.DType, all[lo:hi], p.be.Cols)
}

// want downloads the reference result as float32 (Rows, Cols).
func (h *harness) want(p *tpair) []float32 {
	h.t.Helper()
	d := make([]byte, p.ref.Bytes())
	h.must(h.ref.Download(d, p.ref), "reference Download")
	return decode(p.ref.DType, d, p.ref.Cols)
}

// unchanged fails the test when an input of the tested backend was written.
func (h *harness) unchanged(name string, ps ...*tpair) {
	h.t.Helper()
	h.sync()
	for _, p := range ps {
		all := make([]byte, p.parent.Bytes())
		h.must(h.be.Download(all, p.parent), "Download")
		if !bytes.Equal(all, p.init) {
			h.t.Errorf("%s modified its input %s %v", h.be.Name(), name, p.be)
		}
	}
}

// encode quantizes vals (rows, cols) row by row into dt.
func encode(dt kernels.DType, vals []float32, cols int) []byte {
	rb := dt.RowBytes(cols)
	rows := len(vals) / cols
	out := make([]byte, rows*rb)
	for r := 0; r < rows; r++ {
		quant.QuantizeRow(dt, out[r*rb:(r+1)*rb], vals[r*cols:(r+1)*cols])
	}
	return out
}

// decode dequantizes rows of dt into float32 (rows, cols).
func decode(dt kernels.DType, data []byte, cols int) []float32 {
	rb := dt.RowBytes(cols)
	rows := len(data) / rb
	out := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		quant.DequantizeRow(dt, out[r*cols:(r+1)*cols], data[r*rb:(r+1)*rb])
	}
	return out
}

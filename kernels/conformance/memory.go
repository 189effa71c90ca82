package conformance

import (
	"bytes"
	"testing"

	"spillway/kernels"
)

// testMemory checks allocation and transfers: Alloc zeroes, Upload and
// Download honour views, FromHost holds the given bytes, and bad sizes or
// types are errors (returned, not panicked: they may come from files).
func testMemory(h *harness) {
	h.t.Run("Alloc/zeroed", func(t *testing.T) {
		h := h.sub(t)
		for _, dt := range []kernels.DType{h.act, kernels.F32, kernels.Q8_0} {
			x, err := h.be.Alloc(dt, 3, 64)
			h.must(err, "Alloc")
			if x.DType != dt || x.Rows != 3 || x.Cols != 64 || x.Bytes() != 3*dt.RowBytes(64) {
				t.Errorf("Alloc(%s, 3, 64) returned %v", dt, x)
			}
			got := make([]byte, x.Bytes())
			h.must(h.be.Download(got, x), "Download")
			if !bytes.Equal(got, make([]byte, len(got))) {
				t.Errorf("Alloc(%s, 3, 64) is not zeroed", dt)
			}
		}
	})
	h.t.Run("Upload/view", func(t *testing.T) {
		h := h.sub(t)
		parent, err := h.be.Alloc(h.act, 5, 33)
		h.must(err, "Alloc")
		view := parent.Slice(1, 3)
		data := encode(h.act, randVals(h, 3*33), 33) // (3, 33)
		h.must(h.be.Upload(view, data), "Upload")
		got := make([]byte, view.Bytes())
		h.must(h.be.Download(got, view), "Download")
		all := make([]byte, parent.Bytes())
		h.must(h.be.Download(all, parent), "Download")
		rb := parent.RowBytes()
		if !bytes.Equal(got, data) || !bytes.Equal(all[rb:4*rb], data) {
			t.Errorf("a view of rows 1..3 does not read back what was uploaded")
		}
		if !bytes.Equal(all[:rb], make([]byte, rb)) || !bytes.Equal(all[4*rb:], make([]byte, rb)) {
			t.Errorf("Upload into rows 1..3 wrote rows 0 or 4")
		}
	})
	h.t.Run("FromHost", func(t *testing.T) {
		h := h.sub(t)
		data := encode(kernels.Q4_K, randVals(h, 3*512), 512) // (3, 512)
		w, err := h.be.FromHost(kernels.Q4_K, 3, 512, bytes.Clone(data))
		h.must(err, "FromHost")
		got := make([]byte, w.Bytes())
		h.must(h.be.Download(got, w), "Download")
		row := make([]byte, w.RowBytes())
		h.must(h.be.Download(row, w.Slice(2, 1)), "Download")
		if !bytes.Equal(got, data) || !bytes.Equal(row, data[2*len(row):]) {
			t.Errorf("FromHost(Q4_K, 3, 512) does not read back its bytes")
		}
	})
	h.t.Run("errors", func(t *testing.T) { h.sub(t).memoryErrors() })
}

// memoryErrors checks that each bad call returns an error.
func (h *harness) memoryErrors() {
	be := h.be
	x, err := be.Alloc(kernels.F32, 2, 8)
	h.must(err, "Alloc")
	q8 := make([]byte, kernels.Q8_0.RowBytes(64)*2)
	cases := []struct {
		name string
		call func() error
	}{
		{"Upload/short", func() error { return be.Upload(x, make([]byte, 63)) }},
		{"Upload/long", func() error { return be.Upload(x, make([]byte, 65)) }},
		{"Download/short", func() error { return be.Download(make([]byte, 63), x) }},
		{"FromHost/short", func() error { _, err := be.FromHost(kernels.Q8_0, 2, 64, q8[:len(q8)-1]); return err }},
		{"Alloc/partial-block", func() error { _, err := be.Alloc(kernels.Q4_0, 1, 33); return err }},
		{"Alloc/unknown-type", func() error { _, err := be.Alloc(kernels.DType(99), 1, 1); return err }},
		{"Alloc/negative", func() error { _, err := be.Alloc(kernels.F32, -1, 4); return err }},
		{"AllocKV/no-blocks", func() error {
			_, err := be.AllocKV(kernels.KVSpec{NumLayers: 1, BlockSize: 16, NumKVHeads: 1, HeadDim: 64, DType: kernels.F16})
			return err
		}},
	}
	for _, tc := range cases {
		h.t.Run(tc.name, func(t *testing.T) {
			var err error
			if msg, ok := panics(func() { err = tc.call() }); ok {
				t.Errorf("%s panicked instead of returning an error: %v", h.be.Name(), msg)
			} else if err == nil {
				t.Errorf("%s accepted a bad %s call", h.be.Name(), tc.name)
			} else {
				t.Logf("%s: %v", tc.name, err)
			}
		})
	}
}

// randVals returns n N(0, 1) values.
func randVals(h *harness, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(h.rng.NormFloat64())
	}
	return v
}

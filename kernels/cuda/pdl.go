//go:build cgo

package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"spillway/kernels"
)

// Programmatic dependent launch (PDL). A decode step is some ten short
// kernels a layer, and between two of them the GPU idles while the next
// grid is launched. On sm_90 and newer every kernel can be launched so
// that it starts while the kernel before it on the stream still runs: its
// first act (pdl_enter, common.cuh) waits until that grid has finished
// and its writes are visible, then lets its own successor launch. Graph
// capture keeps these edges. It is on when the device is sm_90 or newer,
// the driver has cuLaunchKernelEx, SPILLWAY_CUDA_PDL is not 0, and a
// probe of dependent launches, eager and captured, computes the right
// result; otherwise every launch is a plain one.
//
// What a kernel may read before its wait: a kernel starts only once every
// block of the one before it has passed its own wait, so everything on
// the stream before that kernel has finished; and a kernel launched right
// after a copy waits for the copy in full. So before the wait a kernel may
// read what no kernel of the step writes: the metadata the stager copies
// (never written by a kernel) and the KV-cache rows of positions computed
// in earlier steps. Attention does (attn_begin in attention.cu); every
// other kernel only prefetches its weights into L2 (TestKernelsEnterPDL).

// enablePDL turns PDL on where it is allowed and the probe passes; the
// probe's error, if any, is kept for Device to report.
func (b *Backend) enablePDL() {
	if os.Getenv("SPILLWAY_CUDA_PDL") == "0" || b.g.info.cc < 90 || !hasLaunchEx() {
		return
	}
	b.g.pdl = true
	if err := b.probePDL(); err != nil {
		b.g.pdl = false
		b.pdlErr = err
	}
}

// probePDL runs what a decode step does between kernels: y = x + x, then
// an async copy of c = 2x from pinned host memory, then z = y + c, both
// eagerly and as a captured, replayed graph, and checks that z = 4x.
func (b *Backend) probePDL() (err error) {
	const n = 1 << 16
	buf, err := b.g.alloc(4 * 4 * n) // x, y, c, z: F32 (n,) each
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.g.free(buf)) }()
	pin, err := b.g.hostAlloc(4 * n)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.g.hostFree(pin)) }()
	x, y, c, z := buf, buf+4*n, buf+8*n, buf+12*n
	src, twice := make([]byte, 4*n), hostBytes(pin, 4*n)
	for i := 0; i < n; i++ {
		putFloat(src[4*i:], float32(i%1000))
		putFloat(twice[4*i:], float32(2*(i%1000)))
	}
	if err := b.g.htod(x, src); err != nil {
		return err
	}
	f := b.g.fns["sw_add"]
	add := func(out, a, bb uint64) error {
		var v argv
		v.ptr(out).i32(int(kernels.F32)).ptr(a).i32(int(kernels.F32)).ptr(bb).i32(int(kernels.F32)).i32(0).i32(n).i64(n)
		return b.g.launch(f, [3]int{gridFor(n, ewThreads, b.g.info.sms), 1, 1}, [3]int{ewThreads, 1, 1}, 0, &v)
	}
	step := func() error {
		return errors.Join(add(y, x, x), b.g.htodAsync(c, pin, 4*n), add(z, y, c))
	}
	check := func(how string) error {
		got := make([]byte, 4*n)
		if err := b.g.dtoh(got, z); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if v, want := math.Float32frombits(binary.LittleEndian.Uint32(got[4*i:])), float32(4*(i%1000)); v != want {
				return fmt.Errorf("PDL probe (%s): element %d is %g, want %g", how, i, v, want)
			}
		}
		return nil
	}
	if err := errors.Join(step(), b.g.sync()); err != nil {
		return err
	}
	if err := check("eager"); err != nil {
		return err
	}
	if err := errors.Join(b.g.memsetAsync(c, 4*n), b.g.memsetAsync(z, 4*n)); err != nil {
		return err
	}
	if err := b.g.captureBegin(); err != nil {
		return err
	}
	lerr := step()
	exec, err := b.g.captureEnd()
	if err = errors.Join(lerr, err); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.g.graphDestroy(exec)) }()
	if err := errors.Join(b.g.graphLaunch(exec), b.g.sync()); err != nil {
		return err
	}
	return check("graph")
}

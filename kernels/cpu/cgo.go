//go:build cgo

package cpu

// ISO C11 rather than gnu11: GCC then never contracts a*b+c into an FMA
// behind our back, which keeps Embed's dequantization bit-exact with ggml
// and the scalar reference path free of FMA. SIMD code uses FMA explicitly.

/*
#cgo CFLAGS: -O3 -std=c11 -Wall
#cgo amd64 CFLAGS: -march=x86-64 -mtune=generic
#cgo LDFLAGS: -lm -lpthread
#include "ops.h"
*/
import "C"

import (
	"errors"
	"unsafe"

	"spillway/kernels"
)

// The ISA levels of sw.h.
const (
	isaScalar = C.SW_ISA_SCALAR
	isaAVX2   = C.SW_ISA_AVX2
	isaAVX512 = C.SW_ISA_AVX512
)

var errScratch = errors.New("cpu: out of memory for kernel scratch")

func isaSupported(isa int) bool { return C.sw_isa_supported(C.int(isa)) != 0 }
func isaBest() int              { return int(C.sw_isa_best()) }

// cctx owns a C backend context: its thread pool, kernel table and scratch.
type cctx struct{ p *C.sw_ctx }

func newCtx(isa, threads int) *cctx {
	p := C.sw_ctx_new(C.int(isa), C.int(threads))
	if p == nil {
		return nil
	}
	return &cctx{p}
}

func (c *cctx) free()        { C.sw_ctx_free(c.p) }
func (c *cctx) threads() int { return int(c.p.nth) }

// cAlloc returns n zeroed bytes of 64-byte-aligned C memory, or nil.
func cAlloc(n int) unsafe.Pointer { return C.sw_alloc(C.size_t(n)) }
func cFree(p unsafe.Pointer)      { C.sw_free(p) }

// view is a tensor resolved to its first byte; built by Backend.view.
type view struct {
	p          unsafe.Pointer
	dt         kernels.DType
	rows, cols int
}

func (v view) c() C.sw_tensor {
	return C.sw_tensor{data: (*C.uint8_t)(v.p), _type: C.int(v.dt), rows: C.int(v.rows), cols: C.int(v.cols)}
}

func i32ptr(s []int32) *C.int32_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.int32_t)(unsafe.Pointer(&s[0]))
}

func status(rc C.int) error {
	if rc != 0 {
		return errScratch
	}
	return nil
}

func (c *cctx) embed(out, table view, ids []int32) error {
	return status(C.sw_op_embed(c.p, out.c(), table.c(), i32ptr(ids), C.int(len(ids))))
}

func (c *cctx) rmsnorm(out, x, w view, eps float32) error {
	return status(C.sw_op_rmsnorm(c.p, out.c(), x.c(), w.c(), C.float(eps)))
}

func (c *cctx) add(out, a, b view) error { return status(C.sw_op_add(c.p, out.c(), a.c(), b.c())) }

func (c *cctx) silumul(out, g, u view) error {
	return status(C.sw_op_silumul(c.p, out.c(), g.c(), u.c()))
}

// xquant is one row x quantized as MatMul does for weights of wt (nil when
// they take x as floats).
func (c *cctx) xquant(wt kernels.DType, x []float32) []byte {
	n := int(C.sw_op_xquant(c.p, C.int(wt), C.int(len(x)), nil, nil))
	if n == 0 {
		return nil
	}
	out := make([]byte, n)
	C.sw_op_xquant(c.p, C.int(wt), C.int(len(x)), (*C.float)(unsafe.Pointer(&x[0])), (*C.uint8_t)(unsafe.Pointer(&out[0])))
	return out
}

// matmul reads w's packed twin when packed is not nil.
func (c *cctx) matmul(out, x, w view, packed unsafe.Pointer) error {
	return status(C.sw_op_matmul(c.p, out.c(), x.c(), w.c(), (*C.uint8_t)(packed)))
}

// matmulPacked runs outs[i] = x @ ws[i]ᵀ over the packed twins, in one
// pass of the pool (len ≤ maxMulti).
func (c *cctx) matmulPacked(outs []view, x view, ws []view, packed []unsafe.Pointer) error {
	var co, cw C.sw_tensors
	var cp C.sw_packs
	for i := range outs {
		co.t[i], cw.t[i], cp.p[i] = outs[i].c(), ws[i].c(), (*C.uint8_t)(packed[i])
	}
	return status(C.sw_op_matmul_packed(c.p, C.int(len(outs)), co, x.c(), cw, cp))
}

// maxMulti is the most weights one packed MatMul call takes (SW_MAXW).
const maxMulti = C.SW_MAXW

// packBytes is the size of the packed twin of a (rows, cols) weight of dt,
// or 0 when this context's kernels keep dt as it is.
func (c *cctx) packBytes(dt kernels.DType, rows, cols int) int {
	return int(C.sw_pack_bytes(c.p, C.int(dt), C.int(rows), C.int(cols)))
}

// packMinT is the number of rows of x from which MatMul reads the packed
// twin of a dt weight (1: always; the GGUF bytes are then never read again).
func (c *cctx) packMinT(dt kernels.DType) int { return int(C.sw_pack_min_t(c.p, C.int(dt))) }

// pack writes w's packed twin (packBytes bytes) to dst.
func (c *cctx) pack(w view, dst unsafe.Pointer) { C.sw_op_pack(c.p, w.c(), (*C.uint8_t)(dst)) }

func (c *cctx) storekv(kc, vc, k, v view, slots []int32) error {
	return status(C.sw_op_storekv(c.p, kc.c(), vc.c(), k.c(), v.c(), i32ptr(slots)))
}

func (c *cctx) rope(x view, pos []int32, p kernels.RoPEParams) error {
	r := C.sw_rope{
		head_dim: C.int(p.HeadDim), ndims: C.int(p.NDims),
		base: C.float(p.Base), freq_scale: C.float(p.FreqScale),
	}
	if p.Style == kernels.RoPENeoX {
		r.neox = 1
	}
	if len(p.FreqFactors) > 0 {
		r.freq_factors = (*C.float)(unsafe.Pointer(&p.FreqFactors[0]))
	}
	return status(C.sw_op_rope(c.p, x.c(), i32ptr(pos), r))
}

// attnArgs is an AttnBatch flattened for C: block tables concatenated.
type attnArgs struct {
	qstart, ctxlen, tables, toff []int32
	b                            *kernels.AttnBatch
	blockSize                    int
}

func (c *cctx) attention(out, q, kc, vc view, a *attnArgs) error {
	ca := C.sw_attn{
		qstart: i32ptr(a.qstart), ctxlen: i32ptr(a.ctxlen), tables: i32ptr(a.tables), toff: i32ptr(a.toff),
		nseq: C.int(len(a.ctxlen)), nheads: C.int(a.b.NumHeads), nkv: C.int(a.b.NumKVHeads),
		head_dim: C.int(a.b.HeadDim), block_size: C.int(a.blockSize), window: C.int(a.b.Window),
		scale: C.float(a.b.Scale),
	}
	return status(C.sw_op_attention(c.p, out.c(), q.c(), kc.c(), vc.c(), ca))
}

// probePorts runs n trips of an issue-port probe loop (avx2_probe.c);
// false when this build or CPU has none.
func probePorts(kind, n int) bool { return C.sw_probe_ports(C.int(kind), C.long(n)) == 0 }

// The probe loops of avx2_probe.c.
const (
	probeMB     = C.SW_PROBE_MB
	probeAddInd = C.SW_PROBE_ADD_IND
	probeAddAlt = C.SW_PROBE_ADD_ALT
	probeAddDep = C.SW_PROBE_ADD_DEP
)

func (c *cctx) benchRead(p unsafe.Pointer, n int) float64 {
	return float64(C.sw_bench_read(c.p, (*C.uint8_t)(p), C.size_t(n)))
}

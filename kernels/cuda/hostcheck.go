//go:build cgo

package cuda

/*
#include <stdint.h>
void hq_deq32(int dt, const uint8_t *row, int p, float *y);
float hq_dot32(int dt, const uint8_t *row, int p, const int8_t *qx, float dx, float s0, float s1);
float hq_f16(uint16_t h);
float hq_q4k_chunk(const uint8_t *blk, int u, const int8_t *xl, const int8_t *xh, float dl, float sl,
		   float dh, float sh);
float hq_q6k_unit(const uint8_t *blk, int h, int e, const int8_t *x, const float *dx,
		  const float *hs);
*/
import "C"

import (
	"unsafe"

	"spillway/kernels"
)

// The host build of quant.cuh, for tests: what the kernels compute for one
// piece (32 elements) of a row of a block type.

// hostDeq32 decodes piece p of row.
func hostDeq32(dt kernels.DType, row []byte, p int) (y [32]float32) {
	C.hq_deq32(C.int(dt), (*C.uint8_t)(unsafe.Pointer(&row[0])), C.int(p), (*C.float)(unsafe.Pointer(&y[0])))
	return y
}

// hostDot32 is the kernels' 8-bit dot product of piece p of row with
// activations dx·qx whose half sums are s0 and s1.
func hostDot32(dt kernels.DType, row []byte, p int, qx *[32]int8, dx, s0, s1 float32) float32 {
	return float32(C.hq_dot32(C.int(dt), (*C.uint8_t)(unsafe.Pointer(&row[0])), C.int(p),
		(*C.int8_t)(unsafe.Pointer(&qx[0])), C.float(dx), C.float(s0), C.float(s1)))
}

// hostF16 is quant.cuh's host conversion of an F16 bit pattern.
func hostF16(h uint16) float32 { return float32(C.hq_f16(C.uint16_t(h))) }

// hostQ4KChunk is the Q4_K GEMV's dot product of chunk u of super-block
// blk (144 bytes) with 16 activations of each of its two pieces.
func hostQ4KChunk(blk []byte, u int, xl, xh *[16]int8, dl, sl, dh, sh float32) float32 {
	return float32(C.hq_q4k_chunk((*C.uint8_t)(unsafe.Pointer(&blk[0])), C.int(u),
		(*C.int8_t)(unsafe.Pointer(&xl[0])), (*C.int8_t)(unsafe.Pointer(&xh[0])),
		C.float(dl), C.float(sl), C.float(dh), C.float(sh)))
}

// hostQ6KUnit is the Q6_K GEMV's dot product of unit (h, e) of
// super-block blk (210 bytes) with 16 activations x[s] of each piece 4h+s.
func hostQ6KUnit(blk []byte, h, e int, x *[4][16]int8, dx, hs *[4]float32) float32 {
	return float32(C.hq_q6k_unit((*C.uint8_t)(unsafe.Pointer(&blk[0])), C.int(h), C.int(e),
		(*C.int8_t)(unsafe.Pointer(&x[0][0])), (*C.float)(unsafe.Pointer(&dx[0])), (*C.float)(unsafe.Pointer(&hs[0]))))
}

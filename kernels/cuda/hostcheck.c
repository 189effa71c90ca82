// hostcheck.c: quant.cuh compiled for the host, so that the block decoders
// and the 8-bit dot product the kernels use are tested against kernels/quant
// on any machine (hostcheck_test.go), GPU or not.
#include <string.h>

#include "quant.cuh"

void hq_deq32(int dt, const uint8_t *row, int p, float *y) { q_deq32(dt, row, p, y); }

float hq_dot32(int dt, const uint8_t *row, int p, const int8_t *qx, float dx, float s0, float s1) {
	uint32_t v[8];
	float a[2], b[2];
	int32_t x[8];
	memcpy(x, qx, sizeof x);
	if (!q_unpack(dt, row, p, v, a, b))
		return 0.0f;
	return q_dot32(v, a, b, x, dx, s0, s1);
}

float hq_f16(uint16_t h) { return q_f16((const uint8_t *)&h); }

float hq_q4k_chunk(const uint8_t *blk, int u, const int8_t *xl, const int8_t *xh, float dl, float sl,
		   float dh, float sh) {
	uint32_t hdr[4], q[4];
	int32_t l[4], h[4];
	memcpy(hdr, blk, sizeof hdr);
	memcpy(q, blk + 16 + 16 * u, sizeof q);
	memcpy(l, xl, sizeof l);
	memcpy(h, xh, sizeof h);
	return q4k_chunk(hdr, q, u, l, h, dl, sl, dh, sh);
}

float hq_q6k_unit(const uint8_t *blk, int h, int e, const int8_t *x, const float *dx,
		  const float *hs) {
	uint32_t ql0[4], ql1[4], qh[4];
	int32_t xs[4][4];
	int sc[4];
	memcpy(ql0, blk + 64 * h + 16 * e, sizeof ql0);
	memcpy(ql1, blk + 64 * h + 32 + 16 * e, sizeof ql1);
	memcpy(qh, blk + 128 + 32 * h + 16 * e, sizeof qh);
	memcpy(xs, x, sizeof xs);
	for (int s = 0; s < 4; s++)
		sc[s] = (int8_t)blk[192 + 8 * h + 2 * s + e];
	return q6k_unit(ql0, ql1, qh, sc, q_f16(blk + 208), (const int32_t(*)[4])xs, dx, hs);
}

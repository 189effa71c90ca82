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

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

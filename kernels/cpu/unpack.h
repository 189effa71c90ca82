// Scalar weight unpacking shared by the scalar kernels and the panel
// repackers (see unpack.c for the formulas).
#ifndef SW_UNPACK_H
#define SW_UNPACK_H

#include "sw.h"

// Per-super-block scales of a k-quant: w = d·sc[j]·u − dmin·mn[j].
typedef struct {
	float d, dmin;
	int16_t sc[16], mn[16]; // one per sub-block (8 used when sub == 32)
	int sub;                // elements per sub-block: 16 or 32
} sw_kscales;

void sw_unpack32(int t, const uint8_t *blk, uint8_t u[32], float *d, float *m);
void sw_unpack256(int t, const uint8_t *blk, uint8_t u[256], sw_kscales *s);
void sw_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m);
void sw_q3k_scales(const uint8_t *p, int8_t out[16]);

static inline int sw_is_legacy(int t) {
	return t == SW_Q4_0 || t == SW_Q4_1 || t == SW_Q5_0 || t == SW_Q5_1 || t == SW_Q8_0;
}
static inline int sw_is_kquant(int t) {
	return t == SW_Q2_K || t == SW_Q3_K || t == SW_Q4_K || t == SW_Q5_K || t == SW_Q6_K;
}

#endif

// Scalar unpacking of weight blocks into the form every dot product and
// panel kernel computes with: unsigned small integers u plus per-block
// float (legacy) or per-sub-block integer (k-quant) scales and mins, so
//   legacy: w = d·u + m                     (Q8_0: w = d·q, q signed)
//   k:      w = d·sc[j]·u − dmin·mn[j]      (j = element / sub)
// These are the obviously-correct versions; the AVX2 unpackers in
// avx2_unpack.h must produce the same bytes.
#include "sw.h"
#include "fp.h"
#include "unpack.h"

void sw_unpack32(int t, const uint8_t *blk, uint8_t u[32], float *d, float *m) {
	uint32_t qh = 0;
	const uint8_t *qs;
	*d = sw_ldh(blk);
	*m = 0;
	switch (t) {
	case SW_Q8_0:
		memcpy(u, ((const blk_q8_0 *)blk)->qs, 32);
		return;
	case SW_Q4_0: qs = ((const blk_q4_0 *)blk)->qs; *m = -8 * *d; break;
	case SW_Q4_1: qs = ((const blk_q4_1 *)blk)->qs; *m = sw_ldh(blk + 2); break;
	case SW_Q5_0:
		qs = ((const blk_q5_0 *)blk)->qs;
		memcpy(&qh, ((const blk_q5_0 *)blk)->qh, 4);
		*m = -16 * *d;
		break;
	default:
		qs = ((const blk_q5_1 *)blk)->qs;
		memcpy(&qh, ((const blk_q5_1 *)blk)->qh, 4);
		*m = sw_ldh(blk + 2);
		break;
	}
	for (int j = 0; j < 16; j++) {
		u[j] = (uint8_t)((qs[j] & 0xF) | (((qh >> j) & 1) << 4));
		u[j + 16] = (uint8_t)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
	}
}

static void unpack_q2k(const blk_q2_k *x, uint8_t *u, sw_kscales *s) {
	s->d = sw_h2f(x->d);
	s->dmin = sw_h2f(x->dmin);
	s->sub = 16;
	for (int j = 0; j < 16; j++) {
		s->sc[j] = x->scales[j] & 0xF;
		s->mn[j] = x->scales[j] >> 4;
	}
	for (int e = 0; e < QKK; e++) {
		int n = e / 128, shift = 2 * ((e % 128) / 32), l = e % 32;
		u[e] = (x->qs[32 * n + l] >> shift) & 3;
	}
}

static void unpack_q3k(const blk_q3_k *x, uint8_t *u, sw_kscales *s) {
	int8_t sc[16];
	sw_q3k_scales(x->scales, sc);
	s->d = s->dmin = sw_h2f(x->d);
	s->sub = 16;
	for (int j = 0; j < 16; j++) {
		s->sc[j] = sc[j];
		s->mn[j] = (int16_t)(4 * sc[j]);
	}
	for (int e = 0; e < QKK; e++) {
		int n = e / 128, k = (e % 128) / 32, l = e % 32;
		int lo = (x->qs[32 * n + l] >> (2 * k)) & 3;
		int hi = (x->hmask[l] >> (4 * n + k)) & 1;
		u[e] = (uint8_t)(lo | (hi << 2));
	}
}

static void unpack_q45k(int t, const uint8_t *blk, uint8_t *u, sw_kscales *s) {
	const blk_q4_k *x4 = (const blk_q4_k *)blk;
	const blk_q5_k *x5 = (const blk_q5_k *)blk;
	const uint8_t *scales = t == SW_Q4_K ? x4->scales : x5->scales;
	const uint8_t *ql = t == SW_Q4_K ? x4->qs : x5->qs;
	s->d = sw_h2f(x4->d);
	s->dmin = sw_h2f(x4->dmin);
	s->sub = 32;
	for (int j = 0; j < 8; j++) {
		uint8_t sc, m;
		sw_scale_min_k4(j, scales, &sc, &m);
		s->sc[j] = sc;
		s->mn[j] = m;
	}
	for (int e = 0; e < QKK; e++) {
		int j = e / 64, h = (e % 64) / 32, l = e % 32;
		int q = h ? ql[32 * j + l] >> 4 : ql[32 * j + l] & 0xF;
		if (t == SW_Q5_K) q |= ((x5->qh[l] >> (2 * j + h)) & 1) << 4;
		u[e] = (uint8_t)q;
	}
}

static void unpack_q6k(const blk_q6_k *x, uint8_t *u, sw_kscales *s) {
	s->d = s->dmin = sw_h2f(x->d);
	s->sub = 16;
	for (int j = 0; j < 16; j++) {
		s->sc[j] = x->scales[j];
		s->mn[j] = (int16_t)(32 * x->scales[j]);
	}
	for (int e = 0; e < QKK; e++) {
		int n = e / 128, quarter = (e % 128) / 32, l = e % 32;
		uint8_t lo = x->ql[64 * n + l + 32 * (quarter & 1)];
		lo = quarter >= 2 ? lo >> 4 : lo & 0xF;
		int hi = (x->qh[32 * n + l] >> (2 * quarter)) & 3;
		u[e] = (uint8_t)(lo | (hi << 4));
	}
}

void sw_unpack256(int t, const uint8_t *blk, uint8_t u[256], sw_kscales *s) {
	memset(s, 0, sizeof *s);
	switch (t) {
	case SW_Q2_K: unpack_q2k((const blk_q2_k *)blk, u, s); break;
	case SW_Q3_K: unpack_q3k((const blk_q3_k *)blk, u, s); break;
	case SW_Q4_K: case SW_Q5_K: unpack_q45k(t, blk, u, s); break;
	case SW_Q6_K: unpack_q6k((const blk_q6_k *)blk, u, s); break;
	}
}

// Scalar dequantization of every supported type, with ggml's order of
// float operations so rows come out bit-identical to ggml's to_float (the
// cgo flags forbid FMA contraction). Embed uses these directly; the tests
// use them as the slow reference for the SIMD unpackers.
#include "sw.h"
#include "fp.h"
#include "unpack.h"

int sw_block_elems(int t) {
	switch (t) {
	case SW_F32: case SW_F16: case SW_BF16: return 1;
	case SW_Q4_0: case SW_Q4_1: case SW_Q5_0: case SW_Q5_1: case SW_Q8_0: case SW_Q8_1: return QK;
	case SW_Q2_K: case SW_Q3_K: case SW_Q4_K: case SW_Q5_K: case SW_Q6_K: case SW_Q8_K: return QKK;
	}
	return 0;
}

int sw_block_bytes(int t) {
	switch (t) {
	case SW_F32: return 4;
	case SW_F16: case SW_BF16: return 2;
	case SW_Q4_0: return sizeof(blk_q4_0);
	case SW_Q4_1: return sizeof(blk_q4_1);
	case SW_Q5_0: return sizeof(blk_q5_0);
	case SW_Q5_1: return sizeof(blk_q5_1);
	case SW_Q8_0: return sizeof(blk_q8_0);
	case SW_Q8_1: return sizeof(blk_q8_1);
	case SW_Q2_K: return sizeof(blk_q2_k);
	case SW_Q3_K: return sizeof(blk_q3_k);
	case SW_Q4_K: return sizeof(blk_q4_k);
	case SW_Q5_K: return sizeof(blk_q5_k);
	case SW_Q6_K: return sizeof(blk_q6_k);
	case SW_Q8_K: return sizeof(blk_q8_k);
	}
	return 0;
}

void sw_to_f32(int t, const void *src, float *dst, int n) {
	const uint8_t *s = src;
	switch (t) {
	case SW_F32: memcpy(dst, src, (size_t)n * 4); break;
	case SW_F16: for (int i = 0; i < n; i++) dst[i] = sw_ldh(s + 2 * i); break;
	case SW_BF16: for (int i = 0; i < n; i++) dst[i] = sw_b2f(sw_ld16(s + 2 * i)); break;
	}
}

void sw_from_f32(int t, const float *src, void *dst, int n) {
	uint8_t *d = dst;
	switch (t) {
	case SW_F32: memcpy(dst, src, (size_t)n * 4); break;
	case SW_F16:
		for (int i = 0; i < n; i++) { uint16_t h = sw_f2h(src[i]); memcpy(d + 2 * i, &h, 2); }
		break;
	case SW_BF16:
		for (int i = 0; i < n; i++) { uint16_t h = sw_f2b(src[i]); memcpy(d + 2 * i, &h, 2); }
		break;
	}
}

// get_scale_min_k4: the 6-bit scale and min of sub-block j from the
// 12-byte packed table of Q4_K/Q5_K.
void sw_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}

// Q3_K's 16 six-bit scales (biased by 32) from their 12-byte packing.
void sw_q3k_scales(const uint8_t *p, int8_t out[16]) {
	for (int j = 0; j < 16; j++) {
		int lo = j < 8 ? (p[j] & 0xF) : (p[j - 8] >> 4);
		int hi = (p[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
		out[j] = (int8_t)((lo | (hi << 4)) - 32);
	}
}

static void deq_legacy(int t, const uint8_t *src, float *y, int nb) {
	for (int b = 0; b < nb; b++, y += QK) {
		if (t == SW_Q8_0 || t == SW_Q8_1) {
			const int8_t *qs = t == SW_Q8_0 ? ((const blk_q8_0 *)src)[b].qs : ((const blk_q8_1 *)src)[b].qs;
			float d = sw_ldh(src + (size_t)b * sw_block_bytes(t));
			for (int j = 0; j < QK; j++) y[j] = qs[j] * d;
			continue;
		}
		const uint8_t *blk = src + (size_t)b * sw_block_bytes(t);
		float d = sw_ldh(blk), m = 0;
		const uint8_t *qs, *qhp = NULL;
		int off = 0;
		switch (t) {
		case SW_Q4_0: qs = ((const blk_q4_0 *)blk)->qs; off = 8; break;
		case SW_Q4_1: qs = ((const blk_q4_1 *)blk)->qs; m = sw_ldh(blk + 2); break;
		case SW_Q5_0: qs = ((const blk_q5_0 *)blk)->qs; qhp = ((const blk_q5_0 *)blk)->qh; off = 16; break;
		default: qs = ((const blk_q5_1 *)blk)->qs; qhp = ((const blk_q5_1 *)blk)->qh; m = sw_ldh(blk + 2); break;
		}
		uint32_t qh = 0;
		if (qhp) memcpy(&qh, qhp, 4);
		for (int j = 0; j < 16; j++) {
			int x0 = (qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10);
			int x1 = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
			if (t == SW_Q4_1 || t == SW_Q5_1) {
				y[j] = x0 * d + m;
				y[j + 16] = x1 * d + m;
			} else {
				y[j] = (x0 - off) * d;
				y[j + 16] = (x1 - off) * d;
			}
		}
	}
}

static void deq_q2k(const blk_q2_k *x, float *y) {
	float d = sw_h2f(x->d), mn = sw_h2f(x->dmin);
	const uint8_t *q = x->qs;
	int is = 0;
	for (int n = 0; n < QKK; n += 128, q += 32) {
		for (int shift = 0; shift < 8; shift += 2) {
			for (int h = 0; h < 2; h++) {
				uint8_t sc = x->scales[is++];
				float dl = d * (sc & 0xF), ml = mn * (sc >> 4);
				for (int l = 0; l < 16; l++) *y++ = dl * ((q[l + 16 * h] >> shift) & 3) - ml;
			}
		}
	}
}

static void deq_q3k(const blk_q3_k *x, float *y) {
	float d = sw_h2f(x->d);
	int8_t sc[16];
	sw_q3k_scales(x->scales, sc);
	const uint8_t *q = x->qs;
	uint8_t m = 1;
	int is = 0;
	for (int n = 0; n < QKK; n += 128, q += 32) {
		for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
			for (int h = 0; h < 2; h++) {
				float dl = d * sc[is++];
				for (int l = 0; l < 16; l++) {
					int i = l + 16 * h;
					*y++ = dl * (((q[i] >> shift) & 3) - ((x->hmask[i] & m) ? 0 : 4));
				}
			}
		}
	}
}

static void deq_q45k(int t, const uint8_t *blk, float *y) {
	const blk_q4_k *x4 = (const blk_q4_k *)blk;
	const blk_q5_k *x5 = (const blk_q5_k *)blk;
	float d = sw_h2f(x4->d), mn = sw_h2f(x4->dmin);
	const uint8_t *scales = t == SW_Q4_K ? x4->scales : x5->scales;
	const uint8_t *ql = t == SW_Q4_K ? x4->qs : x5->qs;
	for (int j = 0; j < 4; j++, ql += 32) {
		for (int h = 0; h < 2; h++) {
			uint8_t sc, m;
			sw_scale_min_k4(2 * j + h, scales, &sc, &m);
			float d1 = d * sc, m1 = mn * m;
			for (int l = 0; l < 32; l++) {
				int q = h ? ql[l] >> 4 : ql[l] & 0xF;
				if (t == SW_Q5_K) q += (x5->qh[l] >> (2 * j + h) & 1) << 4;
				*y++ = d1 * q - m1;
			}
		}
	}
}

static void deq_q6k(const blk_q6_k *x, float *y) {
	float d = sw_h2f(x->d);
	const uint8_t *ql = x->ql, *qh = x->qh;
	const int8_t *sc = x->scales;
	for (int n = 0; n < QKK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
		for (int l = 0; l < 32; l++) {
			int is = l / 16;
			int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
			int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
			int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
			int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
			y[l] = d * sc[is] * q1;
			y[l + 32] = d * sc[is + 2] * q2;
			y[l + 64] = d * sc[is + 4] * q3;
			y[l + 96] = d * sc[is + 6] * q4;
		}
	}
}

// sw_dequant_row: dst (n,) = row src of type t.
void sw_dequant_row(int t, const void *src, float *dst, int n) {
	const uint8_t *s = src;
	int nb = n / sw_block_elems(t), bb = sw_block_bytes(t);
	switch (t) {
	case SW_F32: case SW_F16: case SW_BF16: sw_to_f32(t, src, dst, n); return;
	case SW_Q4_0: case SW_Q4_1: case SW_Q5_0: case SW_Q5_1: case SW_Q8_0: case SW_Q8_1:
		deq_legacy(t, s, dst, nb);
		return;
	}
	for (int b = 0; b < nb; b++) {
		const uint8_t *blk = s + (size_t)b * bb;
		float *y = dst + (size_t)b * QKK;
		switch (t) {
		case SW_Q2_K: deq_q2k((const blk_q2_k *)blk, y); break;
		case SW_Q3_K: deq_q3k((const blk_q3_k *)blk, y); break;
		case SW_Q4_K: case SW_Q5_K: deq_q45k(t, blk, y); break;
		case SW_Q6_K: deq_q6k((const blk_q6_k *)blk, y); break;
		case SW_Q8_K: {
			const blk_q8_k *x = (const blk_q8_k *)blk;
			for (int j = 0; j < QKK; j++) y[j] = x->d * x->qs[j];
			break;
		}
		}
	}
}

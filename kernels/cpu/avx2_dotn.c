// AVX2 dot products of one weight row with up to four activation rows at
// once (a decode step of a few sequences): each slice or super-block of w
// is converted or prepared once (avx2_kblock.h), then met by every row.
// For float weights and the k-quants; the legacy types use avx2_dotr.c,
// which matches their panel kernels bit for bit. These do not: a k-quant
// row keeps 8 partial sums here and one in tile_k and the packed Q6_K
// tile, so its last bits differ between a few rows of x and many.
#if defined(__x86_64__)
#include "avx2.h"
#include "avx2_kblock.h"


// acc += this super-block's share of one x row (q, bsums bs, scale dx).
FORCE __m256 krow(const kblock *kb, const int8_t *q, const int16_t *bs, float dx, __m256 acc) {
	__m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 8
	for (int c = 0; c < 8; c++)
		isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(kb->u[c], loadu256(q + 32 * c)), kb->sv[c]));
	__m256i msum = _mm256_madd_epi16(loadu256(bs), kb->mn);
	acc = _mm256_fmadd_ps(_mm256_set1_ps(kb->d * dx), _mm256_cvtepi32_ps(isum), acc);
	return _mm256_fnmadd_ps(_mm256_set1_ps(kb->dmin * dx), _mm256_cvtepi32_ps(msum), acc);
}

FORCE void dotn_k(int k, const uint8_t *w, size_t bb, const uint8_t *x, size_t xs, int C, float *out, size_t os,
                  void (*prep)(const uint8_t *, kblock *)) {
	__m256 acc[4];
#pragma GCC unroll 4
	for (int j = 0; j < C; j++) acc[j] = _mm256_setzero_ps();
	for (int b = 0; b < k / QKK; b++) {
		kblock kb;
		prep(w + (size_t)b * bb, &kb);
#pragma GCC unroll 4
		for (int j = 0; j < C; j++) {
			const uint8_t *xr = x + (size_t)j * xs;
			acc[j] = krow(&kb, (const int8_t *)xr + QKK * b, x256_bs(xr, k) + 16 * b, x256_d(xr, k)[b], acc[j]);
		}
	}
#pragma GCC unroll 4
	for (int j = 0; j < C; j++) out[(size_t)j * os] = hsum8(acc[j]);
}

// Float weights against up to four F32 rows; 8 elements per step.
FORCE void dotn_float(int k, const uint8_t *w, const uint8_t *x, size_t xs, int C, float *out, size_t os, int t) {
	// Two accumulators per row, 16 elements per step: with one, a single
	// row would wait on the FMA latency.
	__m256 acc[4][2];
	float tail[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
	for (int j = 0; j < C; j++) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
	int i = 0;
	for (; i + 16 <= k; i += 16) {
		__m256 w0 = ldw8(t, w, i), w1 = ldw8(t, w, i + 8);
#pragma GCC unroll 4
		for (int j = 0; j < C; j++) {
			const float *xr = (const float *)(x + (size_t)j * xs) + i;
			acc[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr), acc[j][0]);
			acc[j][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + 8), acc[j][1]);
		}
	}
	for (; i < k; i++) {
		float f;
		sw_to_f32(t, w + (size_t)i * (t == SW_F32 ? 4 : 2), &f, 1);
		for (int j = 0; j < C; j++) tail[j] += f * ((const float *)(x + (size_t)j * xs))[i];
	}
#pragma GCC unroll 4
	for (int j = 0; j < C; j++) out[(size_t)j * os] = hsum8(_mm256_add_ps(acc[j][0], acc[j][1])) + tail[j];
}

// Entry points: the if-chains turn nx into a compile-time C.
#define DEF_K(type, blk_t, prep)                                                                        \
	static void dotn_##type(int k, const uint8_t *w, const uint8_t *x, size_t xs, int nx, float *out,   \
	                        size_t os) {                                                                \
		if (nx == 1) dotn_k(k, w, sizeof(blk_t), x, xs, 1, out, os, prep);                              \
		else if (nx == 2) dotn_k(k, w, sizeof(blk_t), x, xs, 2, out, os, prep);                         \
		else if (nx == 3) dotn_k(k, w, sizeof(blk_t), x, xs, 3, out, os, prep);                         \
		else dotn_k(k, w, sizeof(blk_t), x, xs, 4, out, os, prep);                                      \
	}                                                                                                   \
	static float dot_##type(int k, const uint8_t *w, const uint8_t *x) {                               \
		float o;                                                                                        \
		dotn_k(k, w, sizeof(blk_t), x, 0, 1, &o, 0, prep);                                              \
		return o;                                                                                       \
	}
DEF_K(q2k, blk_q2_k, prep_q2k)
DEF_K(q3k, blk_q3_k, prep_q3k)
DEF_K(q4k, blk_q4_k, prep_q4k)
DEF_K(q5k, blk_q5_k, prep_q5k)
DEF_K(q6k, blk_q6_k, prep_q6k)

#define DEF_F(type, t)                                                                                  \
	static void dotn_##type(int k, const uint8_t *w, const uint8_t *x, size_t xs, int nx, float *out,   \
	                        size_t os) {                                                                \
		if (nx == 1) dotn_float(k, w, x, xs, 1, out, os, t);                                            \
		else if (nx == 2) dotn_float(k, w, x, xs, 2, out, os, t);                                       \
		else if (nx == 3) dotn_float(k, w, x, xs, 3, out, os, t);                                       \
		else dotn_float(k, w, x, xs, 4, out, os, t);                                                    \
	}
DEF_F(f32, SW_F32)
DEF_F(f16, SW_F16)
DEF_F(bf16, SW_BF16)

void sw_avx2_fill_dotn(sw_isa_table *t) {
	t->dot[SW_Q2_K] = dot_q2k;
	t->dot[SW_Q3_K] = dot_q3k;
	t->dot[SW_Q4_K] = dot_q4k;
	t->dot[SW_Q5_K] = dot_q5k;
	t->dotn[SW_Q2_K] = dotn_q2k;
	t->dotn[SW_Q3_K] = dotn_q3k;
	t->dotn[SW_Q4_K] = dotn_q4k;
	t->dotn[SW_Q5_K] = dotn_q5k;
	t->dot[SW_Q6_K] = dot_q6k;
	t->dotn[SW_Q6_K] = dotn_q6k;
	t->dotn[SW_F32] = dotn_f32;
	t->dotn[SW_F16] = dotn_f16;
	t->dotn[SW_BF16] = dotn_bf16;
}

SW_AVX2_END
#endif

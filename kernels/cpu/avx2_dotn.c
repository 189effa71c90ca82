// AVX2 dot products of one weight row with up to four activation rows at
// once (a decode step of a few sequences): each block of w is unpacked and
// its scales converted once, then met by every row. The k-quants use this
// for a single row as well: a super-block is prepared into a kblock
// (unsigned weights, per-chunk scale vectors, mins in bsums order) and
// every x row adds d·dx·Σ_c madd(maddubs(u_c, q_c), sc_c) − dmin·dx·Σ mn·bs.
#if defined(__x86_64__)
#include "avx2.h"

typedef struct {
	__m256i u[8];  // weights of chunk c (32 elements), unsigned
	__m256i sv[8]; // int16 scale of the sub-block of each element pair
	__m256i mn;    // int16 min of each 16-element group, in bsums order
	float d, dmin; // w = d·sc·u − dmin·mn
} kblock;

static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }

// Mins of eight 32-element sub-blocks, each repeated for its two groups.
FORCE __m256i mins_per16(__m128i mn8) {
	return _mm256_setr_m128i(_mm_unpacklo_epi16(mn8, mn8), _mm_unpackhi_epi16(mn8, mn8));
}

FORCE void prep_q45k(const uint8_t *b, kblock *kb, int five) {
	const blk_q4_k *x = (const blk_q4_k *)b; // Q5_K starts the same way
	__m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(x->scales));
	__m128i sc = _mm256_castsi256_si128(sm);
#pragma GCC unroll 8
	for (int c = 0; c < 8; c++) kb->sv[c] = bcast_i16(sc, c);
	kb->mn = mins_per16(_mm256_extracti128_si256(sm, 1));
	if (five) uk_q5k((const blk_q5_k *)b, kb->u);
	else uk_q4k(x, kb->u);
	kb->d = h2f(&x->d);
	kb->dmin = h2f(&x->dmin);
}
FORCE void prep_q4k(const uint8_t *b, kblock *kb) { prep_q45k(b, kb, 0); }
FORCE void prep_q5k(const uint8_t *b, kblock *kb) { prep_q45k(b, kb, 1); }

// Scales per 16 elements (sc8, int8) and their mins; for Q3_K and Q6_K
// the mins are the fixed offset times the scale (w = d·sc·(u − off)).
FORCE void prep_sc16(kblock *kb, __m128i sc8, __m256i mn) {
#pragma GCC unroll 8
	for (int c = 0; c < 8; c++) kb->sv[c] = pair_i8(sc8, c);
	kb->mn = mn;
}

FORCE void prep_q2k(const uint8_t *b, kblock *kb) {
	const blk_q2_k *x = (const blk_q2_k *)b;
	__m128i v = loadu128(x->scales), m4 = _mm_set1_epi8(0xF);
	prep_sc16(kb, _mm_and_si128(v, m4), _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), m4)));
	uk_q2k(x, kb->u);
	kb->d = h2f(&x->d);
	kb->dmin = h2f(&x->dmin);
}

FORCE void prep_q3k(const uint8_t *b, kblock *kb) {
	const blk_q3_k *x = (const blk_q3_k *)b;
	__m128i sc = k3_scales(x->scales);
	prep_sc16(kb, sc, _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 2));
	uk_q3k(x, kb->u);
	kb->d = kb->dmin = h2f(&x->d);
}

FORCE void prep_q6k(const uint8_t *b, kblock *kb) {
	const blk_q6_k *x = (const blk_q6_k *)b;
	__m128i sc = loadu128(x->scales);
	prep_sc16(kb, sc, _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5));
	uk_q6k(x, kb->u);
	kb->d = kb->dmin = h2f(&x->d);
}

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

// Legacy blocks against up to four X32 rows (one row: see avx2_quant.c).
FORCE void dotn_legacy(int k, const uint8_t *w, size_t bb, const uint8_t *x, size_t xs, int C, float *out, size_t os,
                       __m256i (*unpack)(const uint8_t *), int sgn, int moff, int mk) {
	__m256 acc[4];
	float corr[4];
#pragma GCC unroll 4
	for (int j = 0; j < C; j++) acc[j] = _mm256_setzero_ps(), corr[j] = 0;
	for (int b = 0; b < k / QK; b++) {
		const uint8_t *blk = w + (size_t)b * bb;
		__m256i u = unpack(blk), au = sgn ? _mm256_abs_epi8(u) : u;
		float d = h2f(blk), m = moff ? h2f(blk + moff) : mk * d;
#pragma GCC unroll 4
		for (int j = 0; j < C; j++) {
			const uint8_t *xr = x + (size_t)j * xs;
			__m256i q = loadu256(xr + QK * b);
			if (sgn) q = _mm256_sign_epi8(q, u);
			__m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(au, q), _mm256_set1_epi16(1));
			acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * x32_d(xr, k)[b]), _mm256_cvtepi32_ps(p), acc[j]);
			corr[j] += m * x32_s(xr, k)[b];
		}
	}
#pragma GCC unroll 4
	for (int j = 0; j < C; j++) out[(size_t)j * os] = hsum8(acc[j]) + corr[j];
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

#define DEF_L(type, blk_t, unpack, sgn, moff, mk)                                                       \
	static void dotn_##type(int k, const uint8_t *w, const uint8_t *x, size_t xs, int nx, float *out,   \
	                        size_t os) {                                                                \
		if (nx == 1) dotn_legacy(k, w, sizeof(blk_t), x, xs, 1, out, os, unpack, sgn, moff, mk);        \
		else if (nx == 2) dotn_legacy(k, w, sizeof(blk_t), x, xs, 2, out, os, unpack, sgn, moff, mk);   \
		else if (nx == 3) dotn_legacy(k, w, sizeof(blk_t), x, xs, 3, out, os, unpack, sgn, moff, mk);   \
		else dotn_legacy(k, w, sizeof(blk_t), x, xs, 4, out, os, unpack, sgn, moff, mk);                \
	}
DEF_L(q4_0, blk_q4_0, u32_q4_0, 0, 0, -8)
DEF_L(q4_1, blk_q4_1, u32_q4_1, 0, 2, 0)
DEF_L(q5_0, blk_q5_0, u32_q5_0, 0, 0, -16)
DEF_L(q5_1, blk_q5_1, u32_q5_1, 0, 2, 0)
DEF_L(q8_0, blk_q8_0, u32_q8_0, 1, 0, 0)

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
	t->dot[SW_Q6_K] = dot_q6k;
	t->dotn[SW_Q2_K] = dotn_q2k;
	t->dotn[SW_Q3_K] = dotn_q3k;
	t->dotn[SW_Q4_K] = dotn_q4k;
	t->dotn[SW_Q5_K] = dotn_q5k;
	t->dotn[SW_Q6_K] = dotn_q6k;
	t->dotn[SW_Q4_0] = dotn_q4_0;
	t->dotn[SW_Q4_1] = dotn_q4_1;
	t->dotn[SW_Q5_0] = dotn_q5_0;
	t->dotn[SW_Q5_1] = dotn_q5_1;
	t->dotn[SW_Q8_0] = dotn_q8_0;
	t->dotn[SW_F32] = dotn_f32;
	t->dotn[SW_F16] = dotn_f16;
	t->dotn[SW_BF16] = dotn_bf16;
}

SW_AVX2_END
#endif

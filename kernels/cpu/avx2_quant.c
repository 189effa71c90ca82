// AVX2 activation quantization (X32, X256) and the legacy-type dot
// products. Quantization rounds exactly like the scalar path (scale
// amax/127, multiply by its inverse, round to nearest even), so both ISAs
// feed the integer dots identical bytes.
#if defined(__x86_64__)
#include "avx2.h"
#include "unpack.h"

static inline float amax_f32(const float *x, int n) {
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 m = _mm256_setzero_ps();
	for (int i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
	__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	h = _mm_max_ss(h, _mm_movehdup_ps(h));
	return _mm_cvtss_f32(h);
}

// Quantize 32 floats by id into 32 int8 (natural order); returns the four
// int32 partial vectors' sum in *sum.
static inline __m256i quant32(const float *x, __m256 id, __m256i *isum) {
	__m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
	__m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
	__m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
	__m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
	*isum = _mm256_add_epi32(_mm256_add_epi32(a, b), _mm256_add_epi32(c, d));
	// packs interleave 128-bit lanes; the permute restores element order.
	__m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
	__m256i q = _mm256_packs_epi16(ab, cd);
	return _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

static inline int hsum_i32(__m256i v) {
	__m128i a = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0x4E));
	a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0xB1));
	return _mm_cvtsi128_si32(a);
}

static inline float inv_scale(float amax, float *d) {
	*d = amax < 1e-30f ? 0.0f : amax / 127.0f; // as quant_block in kscalar.c
	return *d != 0 ? 1.0f / *d : 0.0f;
}

void sw_avx2_xquant32(int k, const float *x, uint8_t *xq) {
	int nb = k / QK;
	float *d = (float *)(xq + k), *s = d + nb;
	for (int b = 0; b < nb; b++) {
		__m256 id = _mm256_set1_ps(inv_scale(amax_f32(x + QK * b, QK), &d[b]));
		__m256i isum;
		_mm256_storeu_si256((__m256i *)(xq + QK * b), quant32(x + QK * b, id, &isum));
		s[b] = d[b] * (float)hsum_i32(isum);
	}
}

void sw_avx2_xquant256(int k, const float *x, uint8_t *xq) {
	int nb = k / QKK;
	float *d = (float *)(xq + k);
	int16_t *bs = (int16_t *)(d + nb);
	const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
	for (int b = 0; b < nb; b++) {
		__m256 id = _mm256_set1_ps(inv_scale(amax_f32(x + QKK * b, QKK), &d[b]));
		for (int c = 0; c < 8; c++) {
			__m256i isum;
			__m256i q = quant32(x + QKK * b + 32 * c, id, &isum);
			_mm256_storeu_si256((__m256i *)(xq + QKK * b + 32 * c), q);
			// Sums of 16: pairs (maddubs) → quads (madd) → two hadds per lane.
			__m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
			__m256i s16 = _mm256_hadd_epi32(s4, s4);
			s16 = _mm256_hadd_epi32(s16, s16);
			bs[16 * b + 2 * c] = (int16_t)_mm256_extract_epi32(s16, 0);
			bs[16 * b + 2 * c + 1] = (int16_t)_mm256_extract_epi32(s16, 4);
		}
	}
}

// Σ over 32 bytes of u (unsigned) × q (signed) as 8 int32 lanes.
static inline __m256i dot_u8i8(__m256i u, __m256i q) {
	return _mm256_madd_epi16(_mm256_maddubs_epi16(u, q), _mm256_set1_epi16(1));
}

// The halves at p, p+stride, ..., p+7·stride (block scales of 8 blocks).
static inline __m128i halves8(const uint8_t *p, int stride) {
	uint16_t h[8];
	for (int i = 0; i < 8; i++) memcpy(&h[i], p + i * stride, 2);
	return _mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3], (short)h[4], (short)h[5],
	                      (short)h[6], (short)h[7]);
}

// Σu·q of one block as 8 int32 lanes; Q8_0's signed weights lend their
// sign to q so that |w| can be the unsigned operand.
#define PROD_U(U, blk, q) dot_u8i8(U(blk), q)
#define PROD_S(U, blk, q) \
	dot_u8i8(_mm256_abs_epi8(U(blk)), _mm256_sign_epi8(q, U(blk)))

// Legacy types against X32: Σ_b d·dx·Σu·q + m·s. Eight blocks per step:
// their scales are converted with one F16C instruction and multiplied by
// the activation scales in one vector op, and the min terms m·s add up in
// a vector; four FMA chains hide the FMA latency, which would otherwise
// bound the loop. bb: block bytes; moff: byte
// offset of a stored min (0: none); mk: the min as a multiple of d (Q4_0
// −8, Q5_0 −16; 0 with moff for none at all).
#define DOT_LEGACY(name, bb, U, PROD, moff, mk)                                             \
	static float name(int k, const uint8_t *w, const uint8_t *x) {                        \
		int nb = k / QK, b = 0;                                                             \
		const float *xd = x32_d(x, k), *xs = x32_s(x, k);                                   \
		__m256 acc[4], corr = _mm256_setzero_ps();                                          \
		for (int i = 0; i < 4; i++) acc[i] = corr;                                          \
		float sc[8];                                                                        \
		for (; b + 8 <= nb; b += 8) {                                                       \
			const uint8_t *blk = w + (size_t)b * (bb);                                      \
			__m256 dv = _mm256_cvtph_ps(halves8(blk, bb));                                  \
			_mm256_storeu_ps(sc, _mm256_mul_ps(dv, _mm256_loadu_ps(xd + b)));               \
			if (moff) dv = _mm256_cvtph_ps(halves8(blk + (moff), bb));                      \
			if (moff || (mk)) corr = _mm256_fmadd_ps(dv, _mm256_loadu_ps(xs + b), corr);    \
			for (int i = 0; i < 8; i++) {                                                   \
				__m256i p = PROD(U, blk + i * (bb), loadu256(x + QK * (b + i)));            \
				acc[i & 3] = _mm256_fmadd_ps(_mm256_broadcast_ss(sc + i), _mm256_cvtepi32_ps(p), acc[i & 3]); \
			}                                                                               \
		}                                                                                   \
		__m256 acc0 = _mm256_add_ps(acc[0], acc[2]), acc1 = _mm256_add_ps(acc[1], acc[3]);  \
		float c = hsum8(corr) * ((moff) ? 1.0f : (float)(mk));                              \
		for (; b < nb; b++) {                                                               \
			const uint8_t *blk = w + (size_t)b * (bb);                                      \
			float d = h2f(blk);                                                             \
			__m256i p = PROD(U, blk, loadu256(x + QK * b));                                 \
			acc0 = _mm256_fmadd_ps(_mm256_set1_ps(d * xd[b]), _mm256_cvtepi32_ps(p), acc0); \
			c += ((moff) ? h2f(blk + (moff)) : (mk) * d) * xs[b];                           \
		}                                                                                   \
		return hsum8(_mm256_add_ps(acc0, acc1)) + c;                                        \
	}
DOT_LEGACY(dot_q4_0, sizeof(blk_q4_0), u32_q4_0, PROD_U, 0, -8)
DOT_LEGACY(dot_q4_1, sizeof(blk_q4_1), u32_q4_1, PROD_U, 2, 0)
DOT_LEGACY(dot_q5_0, sizeof(blk_q5_0), u32_q5_0, PROD_U, 0, -16)
DOT_LEGACY(dot_q5_1, sizeof(blk_q5_1), u32_q5_1, PROD_U, 2, 0)
DOT_LEGACY(dot_q8_0, sizeof(blk_q8_0), u32_q8_0, PROD_S, 0, 0)

void sw_avx2_fill_legacy(sw_isa_table *t) {
	t->xquant[SW_X32] = sw_avx2_xquant32;
	t->xquant[SW_X256] = sw_avx2_xquant256;
	t->dot[SW_Q4_0] = dot_q4_0;
	t->dot[SW_Q4_1] = dot_q4_1;
	t->dot[SW_Q5_0] = dot_q5_0;
	t->dot[SW_Q5_1] = dot_q5_1;
	t->dot[SW_Q8_0] = dot_q8_0;
}

SW_AVX2_END
#endif

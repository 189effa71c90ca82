// AVX2 activation quantization (X32, X32G, X256) and the legacy-type dot
// products. Quantization rounds exactly like the scalar path (scale
// amax/127, for X32G rounded up to the row's grid by the shared
// sw_x32_grid; multiply by its inverse, round to nearest even), so both
// ISAs feed the integer dots identical bytes.
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

// The scales come from sw_x32_grid, as on the scalar path.
void sw_avx2_xquant32g(int k, const float *x, uint8_t *xq) {
	int nb = k / QK;
	float *d = (float *)(xq + k), *s = d + nb;
	int16_t *a = (int16_t *)x32_a(xq, k);
	const __m256i ones8 = _mm256_set1_epi8(1);
	for (int b = 0; b < nb; b++) d[b] = amax_f32(x + QK * b, QK);
	float g = sw_x32_grid(nb, d), ig = 1.0f / g;
	for (int b = 0; b < nb; b++) {
		__m256 id = _mm256_set1_ps(d[b] != 0 ? 1.0f / d[b] : 0.0f);
		__m256i isum, q = quant32(x + QK * b, id, &isum);
		_mm256_storeu_si256((__m256i *)(xq + QK * b), q);
		s[b] = d[b] * (float)hsum_i32(isum);
		// Pair sums (maddubs), then the int16 lanes 0, 2, 4, … and 1, 3,
		// 5, … added separately: the eight int32 lanes as int16 pairs.
		__m256i p = _mm256_maddubs_epi16(ones8, q);
		__m128i h = _mm_add_epi16(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
		h = _mm_add_epi16(h, _mm_shuffle_epi32(h, 0x4E));
		h = _mm_add_epi16(h, _mm_shuffle_epi32(h, 0xB1));
		int32_t z = _mm_cvtsi128_si32(h);
		x32_set_aux(a + 4 * b, d[b], ig, (int16_t)(z & 0xFFFF), (int16_t)(z >> 16));
	}
	*(float *)x32_g(xq, k) = g;
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

// The legacy types' dot products are avx2_dotr.c's, so that a single
// decode adds exactly what the panel kernels add.
void sw_avx2_fill_legacy(sw_isa_table *t) {
	t->xquant[SW_X32] = sw_avx2_xquant32;
	t->xquant[SW_X32G] = sw_avx2_xquant32g;
	t->xquant[SW_X256] = sw_avx2_xquant256;
}

SW_AVX2_END
#endif

// AVX2 dot products of float rows (F32/F16/BF16) with F32 activations,
// SiLU·mul, RoPE rotation, and the table fill of the AVX2 path.
#if defined(__x86_64__)
#include "avx2.h"

// Float rows: 32 elements per step in four FMA chains, scalar tail.
FORCE float dot_float(int k, const uint8_t *w, const float *x, int t) {
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	int i = 0;
	for (; i + 32 <= k; i += 32) {
		a0 = _mm256_fmadd_ps(ldw8(t, w, i), _mm256_loadu_ps(x + i), a0);
		a1 = _mm256_fmadd_ps(ldw8(t, w, i + 8), _mm256_loadu_ps(x + i + 8), a1);
		a2 = _mm256_fmadd_ps(ldw8(t, w, i + 16), _mm256_loadu_ps(x + i + 16), a2);
		a3 = _mm256_fmadd_ps(ldw8(t, w, i + 24), _mm256_loadu_ps(x + i + 24), a3);
	}
	for (; i + 8 <= k; i += 8) a0 = _mm256_fmadd_ps(ldw8(t, w, i), _mm256_loadu_ps(x + i), a0);
	float s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
	if (i < k) {
		float tail[32];
		sw_to_f32(t, w + (size_t)i * (t == SW_F32 ? 4 : 2), tail, k - i);
		for (int j = 0; j < k - i; j++) s += tail[j] * x[i + j];
	}
	return s;
}

static float dot_f32(int k, const uint8_t *w, const uint8_t *x) { return dot_float(k, w, (const float *)x, SW_F32); }
static float dot_f16(int k, const uint8_t *w, const uint8_t *x) { return dot_float(k, w, (const float *)x, SW_F16); }
static float dot_bf16(int k, const uint8_t *w, const uint8_t *x) { return dot_float(k, w, (const float *)x, SW_BF16); }

// silu(g)·u = g / (1 + e^−g) · u, sixteen at a time: two independent
// exp8 chains give the out-of-order core enough to overlap (exp8 and the
// division are long dependency chains). The tail goes through a padded
// vector, so every element sees the same arithmetic.
FORCE __m256 silumul8(__m256 g, __m256 u) {
	__m256 e = exp8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
	return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void silumul_avx2(int n, const float *g, const float *u, float *y) {
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 a = silumul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i));
		__m256 b = silumul8(_mm256_loadu_ps(g + i + 8), _mm256_loadu_ps(u + i + 8));
		_mm256_storeu_ps(y + i, a);
		_mm256_storeu_ps(y + i + 8, b);
	}
	for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, silumul8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
	if (i < n) {
		float tg[8] = {0}, tu[8] = {0};
		memcpy(tg, g + i, (size_t)(n - i) * 4);
		memcpy(tu, u + i, (size_t)(n - i) * 4);
		_mm256_storeu_ps(tg, silumul8(_mm256_loadu_ps(tg), _mm256_loadu_ps(tu)));
		memcpy(y + i, tg, (size_t)(n - i) * 4);
	}
}

// RoPE of one head in float64 with the scalar path's exact operations
// (products, then one add or subtract, then rounding to float; no FMA), so
// both paths give the same bits. Norm style: two pairs per vector,
// [x0 x1 x0' x1'] against [c c c' c'] and, swapped, [s s s' s'].
static void rope_norm_avx2(int half, const double *cs, float *y) {
	int i = 0;
	for (; i + 2 <= half; i += 2) {
		__m256d x = _mm256_cvtps_pd(_mm_loadu_ps(y + 2 * i)), t = _mm256_loadu_pd(cs + 2 * i);
		__m256d a = _mm256_mul_pd(x, _mm256_movedup_pd(t));
		__m256d b = _mm256_mul_pd(_mm256_permute_pd(x, 0x5), _mm256_permute_pd(t, 0xF));
		_mm_storeu_ps(y + 2 * i, _mm256_cvtpd_ps(_mm256_addsub_pd(a, b))); // x0·c − x1·s, x1·c + x0·s
	}
	for (; i < half; i++) {
		double x0 = y[2 * i], x1 = y[2 * i + 1], c = cs[2 * i], sn = cs[2 * i + 1];
		double a = x0 * c, b = x1 * sn, e = x0 * sn, f = x1 * c;
		y[2 * i] = (float)(a - b);
		y[2 * i + 1] = (float)(e + f);
	}
}

// NeoX style: four pairs (i, i+half) per step, cos and sin deinterleaved.
static void rope_neox_avx2(int half, const double *cs, float *y) {
	int i = 0;
	for (; i + 4 <= half; i += 4) {
		__m256d t0 = _mm256_loadu_pd(cs + 2 * i), t1 = _mm256_loadu_pd(cs + 2 * i + 4);
		__m256d c = _mm256_permute4x64_pd(_mm256_unpacklo_pd(t0, t1), 0xD8);
		__m256d sn = _mm256_permute4x64_pd(_mm256_unpackhi_pd(t0, t1), 0xD8);
		__m256d x0 = _mm256_cvtps_pd(_mm_loadu_ps(y + i)), x1 = _mm256_cvtps_pd(_mm_loadu_ps(y + i + half));
		__m256d a = _mm256_mul_pd(x0, c), b = _mm256_mul_pd(x1, sn);
		__m256d e = _mm256_mul_pd(x0, sn), f = _mm256_mul_pd(x1, c);
		_mm_storeu_ps(y + i, _mm256_cvtpd_ps(_mm256_sub_pd(a, b)));
		_mm_storeu_ps(y + i + half, _mm256_cvtpd_ps(_mm256_add_pd(e, f)));
	}
	for (; i < half; i++) {
		double x0 = y[i], x1 = y[i + half], c = cs[2 * i], sn = cs[2 * i + 1];
		double a = x0 * c, b = x1 * sn, e = x0 * sn, f = x1 * c;
		y[i] = (float)(a - b);
		y[i + half] = (float)(e + f);
	}
}

static void rope_head_avx2(int ndims, int neox, const double *cs, float *y) {
	if (neox) rope_neox_avx2(ndims / 2, cs, y);
	else rope_norm_avx2(ndims / 2, cs, y);
}

static float fdot_avx2(int n, const float *a, const float *b) {
	return dot_f32(n, (const uint8_t *)a, (const uint8_t *)b);
}

void sw_avx2_fill_legacy(sw_isa_table *t);
void sw_avx2_fill_dotn(sw_isa_table *t);
void sw_avx2_fill_dotr(sw_isa_table *t);
void sw_avx2_fill_gemm(sw_isa_table *t);
void sw_avx2_fill_attn(sw_isa_table *t);

void sw_avx2_fill(sw_isa_table *t) {
	*t = sw_scalar_table;
	t->isa = SW_ISA_AVX2;
	t->name = "avx2";
	sw_avx2_fill_legacy(t);
	sw_avx2_fill_dotn(t);
	sw_avx2_fill_dotr(t);
	t->dot[SW_F32] = dot_f32;
	t->dot[SW_F16] = dot_f16;
	t->dot[SW_BF16] = dot_bf16;
	t->silumul = silumul_avx2;
	t->rope_head = rope_head_avx2;
	t->fdot = fdot_avx2;
	sw_avx2_fill_gemm(t);
	sw_avx2_fill_attn(t);
}

SW_AVX2_END
#endif

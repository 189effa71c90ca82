// AVX2 dot products of float rows (F32/F16/BF16) with F32 activations,
// exp, and the table fill of the AVX2 path.
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

static void vexp_avx2(float *x, int n) {
	int i = 0;
	for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, exp8(_mm256_loadu_ps(x + i)));
	if (i < n) {
		float t[8] = {0};
		memcpy(t, x + i, (size_t)(n - i) * 4);
		_mm256_storeu_ps(t, exp8(_mm256_loadu_ps(t)));
		memcpy(x + i, t, (size_t)(n - i) * 4);
	}
}

static float fdot_avx2(int n, const float *a, const float *b) {
	return dot_f32(n, (const uint8_t *)a, (const uint8_t *)b);
}

void sw_avx2_fill_legacy(sw_isa_table *t);
void sw_avx2_fill_dotn(sw_isa_table *t);
void sw_avx2_fill_gemm(sw_isa_table *t);
void sw_avx2_fill_attn(sw_isa_table *t);

void sw_avx2_fill(sw_isa_table *t) {
	*t = sw_scalar_table;
	t->isa = SW_ISA_AVX2;
	t->name = "avx2";
	sw_avx2_fill_legacy(t);
	sw_avx2_fill_dotn(t);
	t->dot[SW_F32] = dot_f32;
	t->dot[SW_F16] = dot_f16;
	t->dot[SW_BF16] = dot_bf16;
	t->vexp = vexp_avx2;
	t->fdot = fdot_avx2;
	sw_avx2_fill_gemm(t);
	sw_avx2_fill_attn(t);
}

SW_AVX2_END
#endif

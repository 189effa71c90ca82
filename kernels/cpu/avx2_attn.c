// AVX2 attention inner loops and float-row conversions.
#if defined(__x86_64__)
#include "avx2.h"
#include "fp.h"

#include <math.h>

// s (nk,) = scale · K (nk, hd) q (hd,): eight keys at a time, reduced with
// a hadd tree so the eight sums land in one vector.
static void scores_avx2(int hd, int nk, const float *q, const float *K, float scale, float *s) {
	int j = 0;
	if (hd % 8 == 0) {
		__m256 vs = _mm256_set1_ps(scale);
		for (; j + 8 <= nk; j += 8) {
			__m256 a[8];
			for (int r = 0; r < 8; r++) a[r] = _mm256_setzero_ps();
			for (int i = 0; i < hd; i += 8) {
				__m256 qv = _mm256_loadu_ps(q + i);
				for (int r = 0; r < 8; r++)
					a[r] = _mm256_fmadd_ps(_mm256_loadu_ps(K + (size_t)(j + r) * hd + i), qv, a[r]);
			}
			__m256 h0 = _mm256_hadd_ps(a[0], a[1]), h1 = _mm256_hadd_ps(a[2], a[3]);
			__m256 h2 = _mm256_hadd_ps(a[4], a[5]), h3 = _mm256_hadd_ps(a[6], a[7]);
			__m256 g0 = _mm256_hadd_ps(h0, h1), g1 = _mm256_hadd_ps(h2, h3);
			__m256 sum = _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20), _mm256_permute2f128_ps(g0, g1, 0x31));
			_mm256_storeu_ps(s + j, _mm256_mul_ps(sum, vs));
		}
	}
	for (; j < nk; j++) {
		const float *k = K + (size_t)j * hd;
		__m256 a = _mm256_setzero_ps();
		int i = 0;
		for (; i + 8 <= hd; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(k + i), _mm256_loadu_ps(q + i), a);
		float t = hsum8(a);
		for (; i < hd; i++) t += k[i] * q[i];
		s[j] = scale * t;
	}
}

// acc[0, 8·NV) += Σ_j p_j · V_j[0, 8·NV) with the slice of acc in registers.
FORCE void pv_slice(int hd, int nk, const float *p, const float *V, float *acc, int NV) {
	__m256 a[8];
	for (int v = 0; v < NV; v++) a[v] = _mm256_loadu_ps(acc + 8 * v);
	for (int j = 0; j < nk; j++) {
		__m256 pj = _mm256_broadcast_ss(p + j);
		for (int v = 0; v < NV; v++) a[v] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(V + (size_t)j * hd + 8 * v), a[v]);
	}
	for (int v = 0; v < NV; v++) _mm256_storeu_ps(acc + 8 * v, a[v]);
}

static void pv_avx2(int hd, int nk, const float *p, const float *V, float *acc) {
	int i = 0;
	for (; i + 64 <= hd; i += 64) pv_slice(hd, nk, p, V + i, acc + i, 8);
	for (; i + 32 <= hd; i += 32) pv_slice(hd, nk, p, V + i, acc + i, 4);
	for (; i + 8 <= hd; i += 8) pv_slice(hd, nk, p, V + i, acc + i, 1);
	for (; i < hd; i++)
		for (int j = 0; j < nk; j++) acc[i] += p[j] * V[(size_t)j * hd + i];
}

static void fold_avx2(int hd, int nk, float *s, const float *V, float *m, float *l, float *acc) {
	int j = 0;
	__m256 vmx = _mm256_set1_ps(-INFINITY);
	for (; j + 8 <= nk; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(s + j));
	__m128 h = _mm_max_ps(_mm256_castps256_ps128(vmx), _mm256_extractf128_ps(vmx, 1));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	float mx = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
	for (; j < nk; j++) mx = s[j] > mx ? s[j] : mx;
	if (mx > *m) {
		if (*l > 0) {
			float f = expf(*m - mx);
			__m256 vf = _mm256_set1_ps(f);
			*l *= f;
			int i = 0;
			for (; i + 8 <= hd; i += 8) _mm256_storeu_ps(acc + i, _mm256_mul_ps(vf, _mm256_loadu_ps(acc + i)));
			for (; i < hd; i++) acc[i] *= f;
		}
		*m = mx;
	}
	__m256 vm = _mm256_set1_ps(*m), vs = _mm256_setzero_ps();
	for (j = 0; j + 8 <= nk; j += 8) {
		__m256 p = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
		_mm256_storeu_ps(s + j, p);
		vs = _mm256_add_ps(vs, p);
	}
	float sum = hsum8(vs);
	for (; j < nk; j++) {
		s[j] = expf(s[j] - *m);
		sum += s[j];
	}
	*l += sum;
	pv_avx2(hd, nk, s, V, acc);
}

// Prefetches requested per tile: a decode item of 41 F16 keys (hd 64)
// has 164 lines to ask for over about 13 tiles.
#define PF_STEP 12

// Q (8, hd) → qt (hd, 8): lane r of qt[d] is row r's element d.
static void transpose_q(int hd, const float *Q, float *qt) {
	for (int d = 0; d < hd; d += 8) {
		__m256i r[8];
		for (int i = 0; i < 8; i++) r[i] = _mm256_castps_si256(_mm256_loadu_ps(Q + (size_t)i * hd + d));
		tr8x8(r);
		for (int i = 0; i < 8; i++) _mm256_storeu_ps(qt + (size_t)(d + i) * 8, _mm256_castsi256_ps(r[i]));
	}
}

// Scores of the 8 rows (lanes) against NT keys K (NT, hd): s[t] = scale ·
// Σ_d K[t][d]·qt[d]. The sum over d runs in U interleaved chains so that
// short tiles are not bound by the FMA latency.
FORCE void score_tile(int hd, const float *K, const float *qt, __m256 vs, float *s, const int NT, const int U) {
	__m256 a[4][12];
	for (int u = 0; u < U; u++)
		for (int t = 0; t < NT; t++) a[u][t] = _mm256_setzero_ps();
	for (int d = 0; d < hd; d += U)
		for (int u = 0; u < U; u++) {
			__m256 q = _mm256_loadu_ps(qt + (size_t)(d + u) * 8);
			for (int t = 0; t < NT; t++)
				a[u][t] = _mm256_fmadd_ps(_mm256_broadcast_ss(K + (size_t)t * hd + d + u), q, a[u][t]);
		}
	for (int t = 0; t < NT; t++) {
		for (int u = 1; u < U; u++) a[0][t] = _mm256_add_ps(a[0][t], a[u][t]);
		_mm256_storeu_ps(s + 8 * t, _mm256_mul_ps(a[0][t], vs));
	}
}

// acc rows [0, NR), dimensions [0, 8·NV) += Σ_j p[8j + r]·V_j. Up to 12
// accumulators (3 rows × 4 vectors) keep both FMA pipes busy despite
// their latency.
FORCE void pv_tile(int hd, int nk, const float *p, const float *V, float *acc, const int NR, const int NV) {
	__m256 a[3][4];
	for (int r = 0; r < NR; r++)
		for (int v = 0; v < NV; v++) a[r][v] = _mm256_loadu_ps(acc + (size_t)r * hd + 8 * v);
	for (int j = 0; j < nk; j++) {
		__m256 x[4];
		for (int v = 0; v < NV; v++) x[v] = _mm256_loadu_ps(V + (size_t)j * hd + 8 * v);
		for (int r = 0; r < NR; r++) {
			__m256 pj = _mm256_broadcast_ss(p + 8 * j + r);
			for (int v = 0; v < NV; v++) a[r][v] = _mm256_fmadd_ps(pj, x[v], a[r][v]);
		}
	}
	for (int r = 0; r < NR; r++)
		for (int v = 0; v < NV; v++) _mm256_storeu_ps(acc + (size_t)r * hd + 8 * v, a[r][v]);
}

// The online-softmax step of attn8 with the rows in lanes: the max, the
// rescale factors and e^(s−m) of all 8 rows at once. s (nk, 8) becomes
// the probabilities.
static void softmax8(int hd, int nk, float *s, float *m, float *l, float *acc) {
	__m256 m0 = _mm256_loadu_ps(m), mx = _mm256_set1_ps(-INFINITY), vl = _mm256_loadu_ps(l);
	for (int j = 0; j < nk; j++) mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + 8 * j));
	__m256 vm = _mm256_max_ps(m0, mx);
	__m256 grow = _mm256_and_ps(_mm256_cmp_ps(vm, m0, _CMP_GT_OQ), _mm256_cmp_ps(vl, _mm256_setzero_ps(), _CMP_GT_OQ));
	int mask = _mm256_movemask_ps(grow);
	if (mask) {
		__m256 f = _mm256_blendv_ps(_mm256_set1_ps(1.0f), exp8(_mm256_sub_ps(m0, vm)), grow);
		float fr[8];
		_mm256_storeu_ps(fr, f);
		vl = _mm256_mul_ps(vl, f);
		for (int r = 0; r < 8; r++) {
			if (!(mask >> r & 1)) continue;
			__m256 vf = _mm256_set1_ps(fr[r]);
			float *a = acc + (size_t)r * hd;
			for (int i = 0; i < hd; i += 8) _mm256_storeu_ps(a + i, _mm256_mul_ps(vf, _mm256_loadu_ps(a + i)));
		}
	}
	__m256 sum = _mm256_setzero_ps();
	for (int j = 0; j < nk; j++) {
		__m256 p = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + 8 * j), vm));
		_mm256_storeu_ps(s + 8 * j, p);
		sum = _mm256_add_ps(sum, p);
	}
	_mm256_storeu_ps(l, _mm256_add_ps(vl, sum));
	_mm256_storeu_ps(m, vm);
}

// attn8 with the 8 rows as the lanes of a vector: scores are a small GEMM
// (8 rows × 12 keys per tile, Q transposed once), the softmax needs no
// horizontal reductions, and P·V reads V once per three rows. Heads whose
// dimension is not a multiple of 8 go row by row.
static void attn8_avx2(int hd, int nk, const float *Q, const float *K, const float *V, float scale, float *m, float *l,
                       float *acc, float *work, sw_prefetch *pf) {
	if (hd % 8 != 0) {
		for (int r = 0; r < 8; r++) {
			scores_avx2(hd, nk, Q + (size_t)r * hd, K, scale, work);
			fold_avx2(hd, nk, work, V, m + r, l + r, acc + (size_t)r * hd);
			sw_prefetch_some(pf, PF_STEP);
		}
		return;
	}
	float *qt = work, *s = work + (size_t)8 * hd;
	transpose_q(hd, Q, qt);
	__m256 vs = _mm256_set1_ps(scale);
	int j = 0;
	for (; j + 12 <= nk; j += 12) {
		score_tile(hd, K + (size_t)j * hd, qt, vs, s + 8 * j, 12, 1);
		sw_prefetch_some(pf, PF_STEP);
	}
	if (nk - j >= 8) score_tile(hd, K + (size_t)j * hd, qt, vs, s + 8 * j, 8, 1), j += 8;
	if (nk - j >= 4) score_tile(hd, K + (size_t)j * hd, qt, vs, s + 8 * j, 4, 2), j += 4;
	if (nk - j >= 2) score_tile(hd, K + (size_t)j * hd, qt, vs, s + 8 * j, 2, 4), j += 2;
	if (nk - j >= 1) score_tile(hd, K + (size_t)j * hd, qt, vs, s + 8 * j, 1, 4);
	sw_prefetch_some(pf, PF_STEP);
	softmax8(hd, nk, s, m, l, acc);
	sw_prefetch_some(pf, PF_STEP);
	for (int r = 0; r < 8; r += 3) {
		float *a = acc + (size_t)r * hd;
		int i = 0;
		for (; i + 32 <= hd; i += 32) {
			if (r + 3 <= 8) pv_tile(hd, nk, s + r, V + i, a + i, 3, 4);
			else pv_tile(hd, nk, s + r, V + i, a + i, 2, 4);
			sw_prefetch_some(pf, PF_STEP);
		}
		for (; i < hd; i += 8)
			if (r + 3 <= 8) pv_tile(hd, nk, s + r, V + i, a + i, 3, 1);
			else pv_tile(hd, nk, s + r, V + i, a + i, 2, 1);
	}
}

static void to_f32_avx2(int t, const void *src, float *dst, int n) {
	const uint8_t *s = src;
	int i = 0;
	if (t == SW_F16)
		for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + 2 * i))));
	else if (t == SW_BF16)
		for (; i + 8 <= n; i += 8) {
			__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(s + 2 * i)));
			_mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
		}
	sw_to_f32(t, s + (size_t)i * (t == SW_F32 ? 4 : 2), dst + i, n - i);
}

static void gather_avx2(int t, const uint8_t *const *src, int n, int hd, float *dst) {
	if (t != SW_F16 || hd % 8 != 0) {
		for (int i = 0; i < n; i++) to_f32_avx2(t, src[i], dst + (size_t)i * hd, hd);
		return;
	}
	for (int i = 0; i < n; i++)
		for (int c = 0; c < hd; c += 8)
			_mm256_storeu_ps(dst + (size_t)i * hd + c, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src[i] + 2 * c))));
}

// Round 8 floats to bfloat16 (ties to even; NaN keeps sign and top payload
// and gains the quiet bit), as sw_f2b does.
static inline __m128i f2b8(__m256 f) {
	__m256i u = _mm256_castps_si256(f);
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
	__m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
	__m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
	__m256i qn = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
	r = _mm256_blendv_epi8(r, qn, nan);
	__m256i pk = _mm256_packus_epi32(r, r); // per lane: 4 words, repeated
	return _mm256_castsi256_si128(_mm256_permute4x64_epi64(pk, 0x08));
}

static void from_f32_avx2(int t, const float *src, void *dst, int n) {
	uint8_t *d = dst;
	int i = 0;
	if (t == SW_F16)
		for (; i + 8 <= n; i += 8)
			_mm_storeu_si128((__m128i *)(d + 2 * i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
	else if (t == SW_BF16)
		for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(d + 2 * i), f2b8(_mm256_loadu_ps(src + i)));
	sw_from_f32(t, src + i, d + (size_t)i * (t == SW_F32 ? 4 : 2), n - i);
}

void sw_avx2_fill_attn(sw_isa_table *t) {
	t->scores = scores_avx2;
	t->fold = fold_avx2;
	t->attn8 = attn8_avx2;
	t->to_f32 = to_f32_avx2;
	t->gather_f32 = gather_avx2;
	t->from_f32 = from_f32_avx2;
}

SW_AVX2_END
#endif

// AVX2 panel GEMM for the k-quants: the layout is described at the top of
// avx2_gemm_q.c. Per super-block and x row the integer sum
// Σ_j sc_j·Σu·q accumulates in int32 lanes (one lane per w row), the mins
// term Σ_j mn_j·bsum_j likewise, and only then meet d, dmin and dx in float.
#if defined(__x86_64__)
#include "avx2.h"

// Per-row scales of one super-block, widened to int16.
typedef struct {
	int16_t sc[16], mn[16];
	float d, dmin;
} kscale;

static void sc_q2k(const uint8_t *b, kscale *s) {
	const blk_q2_k *x = (const blk_q2_k *)b;
	__m128i v = _mm_loadu_si128((const __m128i *)x->scales), m4 = _mm_set1_epi8(0xF);
	_mm256_storeu_si256((__m256i *)s->sc, _mm256_cvtepu8_epi16(_mm_and_si128(v, m4)));
	_mm256_storeu_si256((__m256i *)s->mn, _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), m4)));
	s->d = h2f(&x->d);
	s->dmin = h2f(&x->dmin);
}

// Q3_K and Q6_K: w = d·sc·(u − off) = d·sc·u − d·(off·sc).
static void sc_signed(__m128i sc8, int shift, float d, kscale *s) {
	__m256i sc = _mm256_cvtepi8_epi16(sc8);
	_mm256_storeu_si256((__m256i *)s->sc, sc);
	_mm256_storeu_si256((__m256i *)s->mn, _mm256_slli_epi16(sc, shift));
	s->d = s->dmin = d;
}
static void sc_q3k(const uint8_t *b, kscale *s) {
	const blk_q3_k *x = (const blk_q3_k *)b;
	sc_signed(k3_scales(x->scales), 2, h2f(&x->d), s);
}
static void sc_q6k(const uint8_t *b, kscale *s) {
	const blk_q6_k *x = (const blk_q6_k *)b;
	sc_signed(_mm_loadu_si128((const __m128i *)x->scales), 5, h2f(&x->d), s);
}

static void sc_q45k(const uint8_t *b, kscale *s) {
	const blk_q4_k *x = (const blk_q4_k *)b; // Q5_K starts the same way
	__m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(x->scales));
	_mm_storeu_si128((__m128i *)s->sc, _mm256_castsi256_si128(sm));
	_mm_storeu_si128((__m128i *)s->mn, _mm256_extracti128_si256(sm, 1));
	s->d = h2f(&x->d);
	s->dmin = h2f(&x->dmin);
}

static inline uint32_t pair16(int16_t a, int16_t b) { return (uint16_t)a | ((uint32_t)(uint16_t)b << 16); }

// Scale, min, d and dmin vectors of one super-block panel from 8 rows.
static void pack_kscales(uint8_t *pb, const kscale *s, int sub) {
	uint32_t v[8];
	for (int j = 0; j < QKK / sub; j++) {
		for (int r = 0; r < 8; r++) v[r] = pair16(s[r].sc[j], s[r].sc[j]);
		memcpy(pb + 2048 + 32 * j, v, 32);
	}
	for (int p = 0; p < 8; p++) {
		for (int r = 0; r < 8; r++)
			v[r] = sub == 16 ? pair16(s[r].mn[2 * p], s[r].mn[2 * p + 1]) : pair16(s[r].mn[p], s[r].mn[p]);
		memcpy(pb + 2560 + 32 * p, v, 32);
	}
	float d[8], dm[8];
	for (int r = 0; r < 8; r++) {
		d[r] = s[r].d;
		dm[r] = s[r].dmin;
	}
	memcpy(pb + 2816, d, 32);
	memcpy(pb + 2848, dm, 32);
}

#define PACK_K(name, blk_t, UK, SC, SUB)                                                  \
	static void name(const sw_mm *mm, int r0, int nr, uint8_t *P) {                       \
		int nb = mm->k / QKK;                                                                \
		for (int b = 0; b < nb; b++) {                                                       \
			uint8_t *pb = P + (size_t)b * SW_PANEL_K;                                        \
			__m256i u[8][8];                                                                 \
			kscale s[8];                                                                     \
			memset(s, 0, sizeof s);                                                          \
			for (int r = 0; r < 8; r++) {                                                    \
				if (r >= nr) {                                                               \
					for (int c = 0; c < 8; c++) u[r][c] = _mm256_setzero_si256();            \
					continue;                                                                \
				}                                                                            \
				const uint8_t *src = mm->w + (size_t)(r0 + r) * mm->wstride + (size_t)b * sizeof(blk_t); \
				UK((const blk_t *)src, u[r]);                                                \
				SC(src, &s[r]);                                                              \
			}                                                                                \
			for (int c = 0; c < 8; c++) {                                                    \
				__m256i v[8];                                                                \
				for (int r = 0; r < 8; r++) v[r] = u[r][c];                                  \
				tr8x8(v);                                                                    \
				for (int g = 0; g < 8; g++) _mm256_storeu_si256((__m256i *)(pb + 32 * (8 * c + g)), v[g]); \
			}                                                                                \
			pack_kscales(pb, s, SUB);                                                        \
		}                                                                                    \
	}
PACK_K(pack_q2k, blk_q2_k, uk_q2k, sc_q2k, 16)
PACK_K(pack_q3k, blk_q3_k, uk_q3k, sc_q3k, 16)
PACK_K(pack_q4k, blk_q4_k, uk_q4k, sc_q45k, 32)
PACK_K(pack_q5k, blk_q5_k, uk_q5k, sc_q45k, 32)
PACK_K(pack_q6k, blk_q6_k, uk_q6k, sc_q6k, 16)

// C rows of x against one k-quant panel. sub: elements per sub-block;
// gpi: 4-element groups whose int16 products may be summed before the madd
// with the scale (bounded by the weight's bit width and by sub/4).
FORCE void tile_k(const sw_mm *mm, const uint8_t *P, int t0, int C, int sub, int gpi, int r0, int nr) {
	const int k = mm->k, nb = k / QKK;
	const uint8_t *xr[4];
	__m256 acc[4];
	#pragma GCC unroll 8
	for (int j = 0; j < C; j++) {
		xr[j] = mm->x + (size_t)(t0 + j) * mm->xstride;
		acc[j] = _mm256_setzero_ps();
	}
	for (int b = 0; b < nb; b++) {
		const uint8_t *pb = P + (size_t)b * SW_PANEL_K;
		__m256i isum[4], msum[4];
		#pragma GCC unroll 8
		for (int j = 0; j < C; j++) isum[j] = msum[j] = _mm256_setzero_si256();
		for (int g0 = 0; g0 < 64; g0 += gpi) {
			__m256i s16[4];
			#pragma GCC unroll 8
			for (int j = 0; j < C; j++) s16[j] = _mm256_setzero_si256();
			for (int g = g0; g < g0 + gpi; g++) {
				__m256i w = loadu256(pb + 32 * g);
				#pragma GCC unroll 8
				for (int j = 0; j < C; j++)
				{
					s16[j] = _mm256_add_epi16(s16[j], _mm256_maddubs_epi16(w, bcast4(xr[j] + QKK * b + 4 * g)));
					KEEP(s16[j]);
				}
			}
			__m256i scv = loadu256(pb + 2048 + 32 * (4 * g0 / sub));
			#pragma GCC unroll 8
			for (int j = 0; j < C; j++) isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(s16[j], scv));
		}
		for (int p = 0; p < 8; p++) {
			__m256i mnv = loadu256(pb + 2560 + 32 * p);
			#pragma GCC unroll 8
			for (int j = 0; j < C; j++) {
				const uint8_t *bs = (const uint8_t *)(x256_bs(xr[j], k) + 16 * b + 2 * p);
				msum[j] = _mm256_add_epi32(msum[j], _mm256_madd_epi16(mnv, bcast4(bs)));
			}
		}
		__m256 dv = _mm256_loadu_ps((const float *)(pb + 2816));
		__m256 mv = _mm256_loadu_ps((const float *)(pb + 2848));
		#pragma GCC unroll 8
		for (int j = 0; j < C; j++) {
			__m256 dx = _mm256_set1_ps(x256_d(xr[j], k)[b]);
			acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(dv, dx), _mm256_cvtepi32_ps(isum[j]), acc[j]);
			acc[j] = _mm256_fnmadd_ps(_mm256_mul_ps(mv, dx), _mm256_cvtepi32_ps(msum[j]), acc[j]);
		}
	}
	#pragma GCC unroll 8
	for (int j = 0; j < C; j++) store_cols(mm->out + (size_t)(t0 + j) * mm->ldo + r0, acc[j], nr);
}

#define GEMM_K(name, pack, sub, gpi)                                                  \
	static void name(const sw_mm *mm, int r0, int nr, void *scratch) {               \
		pack(mm, r0, nr, scratch);                                                      \
		int t = 0;                                                                      \
		for (; t + 4 <= mm->T; t += 4) tile_k(mm, scratch, t, 4, sub, gpi, r0, nr);    \
		for (; t < mm->T; t++) tile_k(mm, scratch, t, 1, sub, gpi, r0, nr);            \
	}
GEMM_K(gemm_q2k, pack_q2k, 16, 4)
GEMM_K(gemm_q3k, pack_q3k, 16, 4)
GEMM_K(gemm_q4k, pack_q4k, 32, 8)
GEMM_K(gemm_q5k, pack_q5k, 32, 4)
GEMM_K(gemm_q6k, pack_q6k, 16, 2)

void sw_avx2_fill_fgemm(sw_isa_table *t);

void sw_avx2_fill_kgemm(sw_isa_table *t) {
	t->gemm[SW_Q2_K] = gemm_q2k;
	t->gemm[SW_Q3_K] = gemm_q3k;
	t->gemm[SW_Q4_K] = gemm_q4k;
	t->gemm[SW_Q5_K] = gemm_q5k;
	t->gemm[SW_Q6_K] = gemm_q6k;
	t->gemm_rows[SW_Q2_K] = t->gemm_rows[SW_Q3_K] = t->gemm_rows[SW_Q4_K] = 8;
	t->gemm_rows[SW_Q5_K] = t->gemm_rows[SW_Q6_K] = 8;
	// The k-quant dots are cheaper per row, so their panels pay off later.
	t->gemm_min_t[SW_Q2_K] = t->gemm_min_t[SW_Q3_K] = t->gemm_min_t[SW_Q4_K] = 7;
	t->gemm_min_t[SW_Q5_K] = 7;
	t->gemm_min_t[SW_Q6_K] = 8;
	sw_avx2_fill_fgemm(t);
}

SW_AVX2_END
#endif

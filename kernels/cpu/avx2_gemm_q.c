// AVX2 panel GEMM for quantized weights (prefill: T ≥ gemm_min_t).
//
// A panel is 8 rows of w unpacked once into unsigned bytes and interleaved
// so one 32-byte vector holds 4 consecutive weights of each of the 8 rows
// (the transpose of 8 rows' natural-order vectors). A 4-byte broadcast of
// the activation then meets all 8 rows in one maddubs, the 8 lanes of every
// accumulator are 8 output columns, and no horizontal sums are needed. The
// repack costs O(n·k) and is repaid over all T rows of x.
//
// Legacy panel, per 32-element block (SW_PANEL_L bytes):
//   [0, 256)   u: group g (4 elements) of rows 0..7 at 32·g
//   [256, 288) d (8 floats)    [288, 320) m (8 floats): w = d·u + m
// k-quant panel, per 256-element super-block (SW_PANEL_K bytes):
//   [0, 2048)     u: chunk c (32 elements), group g at 32·(8c+g)
//   [2048, 2560)  sc: sub-block j as int16 pairs (sc, sc) per row
//   [2560, 2816)  mn: pair p as int16 (mn_a, mn_b) per row, to meet the
//                 activation bsums (bs_2p, bs_2p+1) in one madd
//   [2816, 2848)  d (8 floats)   [2848, 2880) dmin (8 floats)
#if defined(__x86_64__)
#include "avx2.h"
#include "fp.h"

// ---- legacy types -------------------------------------------------------

// The eight rows' F16 scales (and mins) are gathered into one vector and
// widened with a single cvtph: writing them to a float array and reloading
// it as a vector stalled on store forwarding, which cost as much as the
// whole transpose and dominated the repack at small T. Rows past nr get
// zero weights and scales. moff: byte offset of the F16 min (0: m = mk·d).
#define PACK_LEGACY(name, U, MOFF, MK)                                                \
	static void name(const sw_mm *mm, int r0, int nr, uint8_t *P) {                 \
		int nb = mm->k / QK, bb = sw_block_bytes(mm->wtype);                           \
		for (int b = 0; b < nb; b++) {                                                 \
			uint8_t *pb = P + (size_t)b * SW_PANEL_L;                                  \
			__m256i v[8];                                                              \
			uint16_t hd[8], hm[8];                                                     \
			_Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) {                     \
				if (r >= nr) {                                                         \
					v[r] = _mm256_setzero_si256();                                     \
					hd[r] = hm[r] = 0;                                                 \
					continue;                                                          \
				}                                                                      \
				const uint8_t *src = mm->w + (size_t)(r0 + r) * mm->wstride + (size_t)b * bb; \
				v[r] = U(src);                                                         \
				hd[r] = sw_ld16(src);                                                  \
				hm[r] = MOFF ? sw_ld16(src + MOFF) : 0;                                \
			}                                                                          \
			tr8x8(v);                                                                  \
			for (int g = 0; g < 8; g++) _mm256_storeu_si256((__m256i *)(pb + 32 * g), v[g]); \
			__m256 d = _mm256_cvtph_ps(_mm_setr_epi16(hd[0], hd[1], hd[2], hd[3], hd[4], hd[5], hd[6], hd[7])); \
			__m256 m = MOFF ? _mm256_cvtph_ps(_mm_setr_epi16(hm[0], hm[1], hm[2], hm[3], hm[4], hm[5], hm[6], hm[7])) \
			                : _mm256_mul_ps(d, _mm256_set1_ps(MK));                     \
			_mm256_storeu_ps((float *)(pb + 256), d);                                  \
			_mm256_storeu_ps((float *)(pb + 288), m);                                  \
		}                                                                              \
	}
PACK_LEGACY(pack_q4_0, u32_q4_0, 0, -8)
PACK_LEGACY(pack_q4_1, u32_q4_1, 2, 0)
PACK_LEGACY(pack_q5_0, u32_q5_0, 0, -16)
PACK_LEGACY(pack_q5_1, u32_q5_1, 2, 0)
PACK_LEGACY(pack_q8_0, u32_q8_0, 0, 0)

// C rows of x (from xr, stride xs) against one legacy panel. gpi: groups
// whose int16 products may be summed before widening (8 for 4-bit, 4 for
// 5-bit weights); sgn: signed weights (Q8_0) via the sign trick.
FORCE void tile_legacy(const sw_mm *mm, const uint8_t *P, int t0, int C, int gpi, int sgn, int r0, int nr) {
	const int k = mm->k, nb = k / QK;
	const __m256i ones = _mm256_set1_epi16(1);
	const uint8_t *xr[4];
	__m256 acc[4];
	#pragma GCC unroll 8
	for (int j = 0; j < C; j++) {
		xr[j] = mm->x + (size_t)(t0 + j) * mm->xstride;
		acc[j] = _mm256_setzero_ps();
	}
	for (int b = 0; b < nb; b++) {
		const uint8_t *pb = P + (size_t)b * SW_PANEL_L;
		__m256i s32[4];
		#pragma GCC unroll 8
		for (int j = 0; j < C; j++) s32[j] = _mm256_setzero_si256();
		for (int h = 0; h < 8; h += gpi) {
			__m256i s16[4];
			#pragma GCC unroll 8
			for (int j = 0; j < C; j++) s16[j] = _mm256_setzero_si256();
			for (int g = h; g < h + gpi; g++) {
				__m256i w = loadu256(pb + 32 * g), aw = sgn ? _mm256_abs_epi8(w) : w;
				#pragma GCC unroll 8
				for (int j = 0; j < C; j++) {
					__m256i xv = bcast4(xr[j] + QK * b + 4 * g);
					if (sgn) {
						__m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv, w));
						s32[j] = _mm256_add_epi32(s32[j], _mm256_madd_epi16(p, ones));
						KEEP(s32[j]);
					} else {
						s16[j] = _mm256_add_epi16(s16[j], _mm256_maddubs_epi16(w, xv));
						KEEP(s16[j]);
					}
				}
			}
			if (!sgn)
				#pragma GCC unroll 8
				for (int j = 0; j < C; j++) s32[j] = _mm256_add_epi32(s32[j], _mm256_madd_epi16(s16[j], ones));
		}
		__m256 dv = _mm256_loadu_ps((const float *)(pb + 256));
		__m256 mv = _mm256_loadu_ps((const float *)(pb + 288));
		#pragma GCC unroll 8
		for (int j = 0; j < C; j++) {
			__m256 dx = _mm256_set1_ps(x32_d(xr[j], k)[b]);
			acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(dv, dx), _mm256_cvtepi32_ps(s32[j]), acc[j]);
			if (!sgn) acc[j] = _mm256_fmadd_ps(mv, _mm256_set1_ps(x32_s(xr[j], k)[b]), acc[j]);
		}
	}
	#pragma GCC unroll 8
	for (int j = 0; j < C; j++) store_cols(mm->out + (size_t)(t0 + j) * mm->ldo + r0, acc[j], nr);
}

#define GEMM_LEGACY(name, pack, gpi, sgn)                                        \
	static void name(const sw_mm *mm, int r0, int nr, void *scratch) {          \
		pack(mm, r0, nr, scratch);                                                 \
		int t = 0;                                                                 \
		for (; t + 4 <= mm->T; t += 4) tile_legacy(mm, scratch, t, 4, gpi, sgn, r0, nr); \
		for (; t < mm->T; t++) tile_legacy(mm, scratch, t, 1, gpi, sgn, r0, nr);   \
	}
GEMM_LEGACY(gemm_q4_0, pack_q4_0, 8, 0)
GEMM_LEGACY(gemm_q4_1, pack_q4_1, 8, 0)
GEMM_LEGACY(gemm_q5_0, pack_q5_0, 4, 0)
GEMM_LEGACY(gemm_q5_1, pack_q5_1, 4, 0)
GEMM_LEGACY(gemm_q8_0, pack_q8_0, 8, 1)

void sw_avx2_fill_kgemm(sw_isa_table *t);
void sw_avx2_fill_pgemm(sw_isa_table *t);

void sw_avx2_fill_gemm(sw_isa_table *t) {
	t->gemm[SW_Q4_0] = gemm_q4_0;
	t->gemm[SW_Q4_1] = gemm_q4_1;
	t->gemm[SW_Q5_0] = gemm_q5_0;
	t->gemm[SW_Q5_1] = gemm_q5_1;
	t->gemm[SW_Q8_0] = gemm_q8_0;
	for (int i = 0; i < SW_NTYPES; i++)
		if (t->gemm[i]) t->gemm_rows[i] = 8;
	// Crossovers measured against the dot path (2048×2048, one Zen3 core):
	// the panel's repack is repaid from about 5 rows of x.
	t->gemm_min_t[SW_Q4_0] = t->gemm_min_t[SW_Q4_1] = t->gemm_min_t[SW_Q8_0] = 5;
	t->gemm_min_t[SW_Q5_0] = t->gemm_min_t[SW_Q5_1] = 5;
	sw_avx2_fill_kgemm(t);
	sw_avx2_fill_pgemm(t);
}

SW_AVX2_END
#endif

// AVX-512 VNNI tiles over packed Q6_K weights (pack.c's q6_kx8, the layout
// the AVX2 tiles read): C rows of x (1..8, X256) against two 8-row panels
// at once, rows 0–7 in the low half of a zmm and rows 8–15 in the high
// half, so that one vpdpbusd adds 4 elements × 16 rows of one row of x
// (a panel's 4-element group is 32 bytes, 4 a row: both panels' groups of
// the same elements meet the same 4 bytes of x). A 16-element sub-block's
// sums Σu·q (at most 16·63·127, exact in int32) are multiplied by the
// sub-block's scale and added into the super-block's int32 sum; the zero
// point 32·Σ_j sc_j·bs_j comes off at its end as in the AVX2 tile; then
// acc += d·dx·sum. These are the AVX2 tile's integers and float steps, so
// both levels give the same bits (TestAVX512MatchesAVX2). The AVX2 tile
// spends 10 vector ALU ops per sub-block, row of x and 8 rows; this one 6
// per 16 rows.
//
// An odd panel at the end of a range runs alone in the low half (the high
// half repeats it and is not stored). Past 32 rows of x the AVX2 kernel
// takes over (see PAIR_MAXT).
#if defined(__x86_64__)
#include "avx512.h"

// The two panels' 32-byte groups at byte o: P's in the low half, Q's in
// the high one.
FORCE512 __m512i pair256(const uint8_t *P, const uint8_t *Q, size_t o) {
	__m256i lo = _mm256_loadu_si256((const __m256i *)(P + o));
	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), _mm256_loadu_si256((const __m256i *)(Q + o)), 1);
}

// Sub-block j's scales as int32 lanes, the two panels' rows 0..15.
FORCE512 __m512i q6_scales32(const uint8_t *pb, const uint8_t *qb, int j) {
	// 16 bytes a panel: the pair (sc, sc) of each row; the even bytes are the rows'.
	__m128i a = _mm_loadu_si128((const __m128i *)(pb + 2048 + 16 * j));
	__m128i b = _mm_loadu_si128((const __m128i *)(qb + 2048 + 16 * j));
	const __m128i even = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
	__m128i s = _mm_unpacklo_epi64(_mm_shuffle_epi8(a, even), _mm_shuffle_epi8(b, even));
	return _mm512_cvtepi8_epi32(s);
}

// The AVX2 tile's zero-point pairs for sub-blocks 2pr and 2pr+1: int16
// lanes (32·sc_2pr, 32·sc_2pr+1) per row, both panels.
FORCE512 __m512i q6_zpairs(const uint8_t *pb, const uint8_t *qb, int pr) {
	__m256i a = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(pb + 2048 + 32 * pr)));
	__m256i a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(pb + 2048 + 32 * pr + 16)));
	__m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(qb + 2048 + 32 * pr)));
	__m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(qb + 2048 + 32 * pr + 16)));
	__m256i lo = _mm256_slli_epi16(_mm256_blend_epi16(a, a1, 0xAA), 5);
	__m256i hi = _mm256_slli_epi16(_mm256_blend_epi16(b, b1, 0xAA), 5);
	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

#define DECL(j)                                                       \
	const uint8_t *x##j = mm->x + (size_t)(t0 + j) * mm->xstride; \
	const float *d##j = x256_d(x##j, k);                          \
	const int16_t *bs##j = x256_bs(x##j, k);                      \
	__m512 a##j = _mm512_setzero_ps();
#define IDECL(j) __m512i i##j = _mm512_setzero_si512();
#define INNER(j)                                                                             \
	{                                                                                    \
		const uint8_t *xp = x##j + QKK * b + 16 * sj;                                \
		__m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u0, bcast4_512(xp)); \
		s = _mm512_dpbusd_epi32(s, u1, bcast4_512(xp + 4));                          \
		s = _mm512_dpbusd_epi32(s, u2, bcast4_512(xp + 8));                          \
		s = _mm512_dpbusd_epi32(s, u3, bcast4_512(xp + 12));                         \
		i##j = _mm512_add_epi32(i##j, _mm512_mullo_epi32(s, sc));                    \
	}
#define CORR(j) i##j = _mm512_sub_epi32(i##j, _mm512_madd_epi16(zp, bcast4_512((const uint8_t *)(bs##j + 16 * b + 2 * pr))));
#define EPI(j) a##j = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(d##j[b])), _mm512_cvtepi32_ps(i##j), a##j);
#define STORE(j) _mm512_mask_storeu_ps(mm->out + (size_t)(t0 + j) * mm->ldo + r0, keep, a##j);

// Rows [t0, t0+C) of x against panels P (rows r0..) and Q (rows r0+8..;
// Q == P when P is alone); keep masks the outputs that exist.
#define TILE(C)                                                                                                    \
	static void q6tile##C(const sw_mm *mm, const uint8_t *P, const uint8_t *Q, const uint8_t *next, int t0,    \
	                      int r0, __mmask16 keep) {                                                            \
		const int k = mm->k, nb = k / QKK;                                                                 \
		REP##C(DECL) for (int b = 0; b < nb; b++) {                                                        \
			const uint8_t *pb = P + (size_t)b * SW_PK_Q6_K, *qb = Q + (size_t)b * SW_PK_Q6_K;          \
			REP##C(IDECL)                                                                              \
			_Pragma("GCC unroll 1") for (int sj = 0; sj < 16; sj++) {                                  \
				/* the next pair's super-block, 145 of its 2320 bytes a step, on first passes */   \
				if (next) {                                                                        \
					const char *nx = (const char *)(next + (size_t)b * SW_PK_Q6_K) + 145 * sj; \
					_mm_prefetch(nx, _MM_HINT_T0);                                             \
					_mm_prefetch(nx + 64, _MM_HINT_T0);                                        \
					_mm_prefetch(nx + 128, _MM_HINT_T0);                                       \
					_mm_prefetch(nx + mm->wstride, _MM_HINT_T0);                               \
					_mm_prefetch(nx + mm->wstride + 64, _MM_HINT_T0);                          \
					_mm_prefetch(nx + mm->wstride + 128, _MM_HINT_T0);                         \
				}                                                                                  \
				__m512i sc = q6_scales32(pb, qb, sj);                                              \
				__m512i u0 = pair256(pb, qb, 128 * sj), u1 = pair256(pb, qb, 128 * sj + 32);       \
				__m512i u2 = pair256(pb, qb, 128 * sj + 64), u3 = pair256(pb, qb, 128 * sj + 96);  \
				REP##C(INNER)                                                                      \
			}                                                                                          \
			_Pragma("GCC unroll 8") for (int pr = 0; pr < 8; pr++) {                                   \
				__m512i zp = q6_zpairs(pb, qb, pr);                                                \
				REP##C(CORR)                                                                       \
			}                                                                                          \
			__m256i dh = _mm256_inserti128_si256(                                                      \
			    _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(pb + 2304))),                 \
			    _mm_loadu_si128((const __m128i *)(qb + 2304)), 1);                                     \
			__m512 dw = _mm512_cvtph_ps(dh);                                                           \
			REP##C(EPI)                                                                                \
		}                                                                                                  \
		REP##C(STORE)                                                                                      \
	}
TILE(1)
TILE(2)
TILE(3)
TILE(4)
TILE(5)
TILE(6)
TILE(7)
TILE(8)

typedef void (*q6tile_fn)(const sw_mm *, const uint8_t *, const uint8_t *, const uint8_t *, int, int, __mmask16);
static const q6tile_fn tiles[9] = {NULL, q6tile1, q6tile2, q6tile3, q6tile4, q6tile5, q6tile6, q6tile7, q6tile8};

// The AVX2 table's packed Q6_K kernel, which takes more than PAIR_MAXT
// rows of x: from there on a pair of panels (37 KiB at k = 2048) no longer
// stays in L1 across the tiles' passes, and this kernel fell behind the
// one-panel AVX2 tiles (215 against 353 GFLOP/s at T = 64, 5632×2048).
static sw_pgemm_fn avx2_q6k;
#define PAIR_MAXT 32

// Panels [p0, p1) in pairs (the last alone when their number is odd),
// rows of x [t0, t1) in tiles of at most 8 split as evenly as possible;
// a pair's first tile prefetches the next pair.
static void pgemm_q6_k(const sw_mm *mm, int p0, int p1, int t0, int t1, uint8_t *scratch) {
	int T = t1 - t0, nt = (T + 7) / 8;
	if (T > PAIR_MAXT) {
		avx2_q6k(mm, p0, p1, t0, t1, scratch);
		return;
	}
	for (int p = p0; p < p1; p += 2) {
		const uint8_t *P = mm->w + (size_t)p * mm->wstride;
		int two = p + 1 < p1, r0 = p * SW_PKR_Q6_K;
		int nr = mm->n - r0 < (two ? 16 : 8) ? mm->n - r0 : (two ? 16 : 8);
		const uint8_t *next = p + 2 < p1 ? P + 2 * mm->wstride : NULL;
		__mmask16 keep = (__mmask16)((1u << nr) - 1);
		for (int i = 0, t = t0; i < nt; i++) {
			int c = T / nt + (i < T % nt);
			tiles[c](mm, P, two ? P + mm->wstride : P, i == 0 ? next : NULL, t, r0, keep);
			t += c;
		}
	}
}

// t is the AVX2 table, about to become the AVX-512 one.
void sw_avx512_fill_pgemm_q6k(sw_isa_table *t) {
	avx2_q6k = t->pgemm[SW_Q6_K];
	t->pgemm[SW_Q6_K] = pgemm_q6_k;
}

SW_AVX512_END
#endif

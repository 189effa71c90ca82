// AVX2 tiles over packed Q4_0 weights (pack.c): C rows of x (1..6) against
// one 16-row panel, for every T. The panel's 4-bit weights u stay unsigned
// and meet x's signed bytes in maddubs.
//
// A 32-byte load holds 4 elements of panel rows 0–7 in its low nibbles and
// the same 4 elements of rows 8–15 in its high nibbles, so one broadcast of
// x's 4 bytes serves both halves: per block, row of x and 8 panel rows,
// 4 broadcasts, 8 maddubs and 8 int16 adds (a pair of products of 15 and
// 127 is at most 3810, eight of them 30480: no saturation). Each output
// row then has two int16 sums, over the block's elements 4i, 4i+1 and
// 4i+2, 4i+3. The epilogue subtracts the zero point from them (8·Σq over
// the same elements, X32's a[b][2..3]: the difference Σ(u−8)·q is at most
// 16256, so the wrapping subtraction is exact), and one madd with x's
// integer scale m (a[b][0..1], d = m·g) adds the two and scales them,
// exactly in int32 (at most 16384·32512). A convert and one FMA by the
// weights' scale add the block; the row's grid g multiplies the sum once at
// the end. That is a madd, a subtraction, a convert and one FMA per block,
// row of x and 8 panel rows, against a madd, a convert and two FMAs with a
// float scale for x: the multiply pipes, which maddubs keeps busy, get one
// op fewer (1–5% faster tiles on Zen 3).
//
// The tiles stop near three quarters of the maddubs pipes' peak (Zen 3:
// about 6.3 cycles per block, row of x and 8 panel rows where the 9 ops on
// those pipes need 4.5). Most of the gap is the int16 adds: each waits on
// a maddubs, and enough of such adds are issued on the maddubs pipes to
// make the pattern 22% slower than the same adds of a ready operand
// (BenchmarkPorts). Eight maddubs results need seven adds, and none of
// the AVX2 integer adds probed is kept off those pipes; consuming each
// product a loop trip later won back at most 5% in the probes and needs
// registers these tiles lack.
//
// With 8-row panels (one broadcast per maddubs, tiles of 8+8 rows) 16 rows
// of x took 13% longer: 2.47 against 2.18 ns per block, row of x and 8
// panel rows on one Zen 3 core. The unpacking (an AND and a shift per 64
// weights) is shared by the C rows. Tiles of 1–2 rows keep their float
// accumulators in registers, wider ones in memory (an FMA from it and a
// store per block, which the load/store ports absorb), so the 16 registers
// hold the int16 sums. Every output adds its blocks in the same order with
// the same operations whatever the tile, so a row's results do not depend
// on the rows beside it.
#if defined(__x86_64__)
#include "avx2.h"

#define XDECL(j)                                                                       \
	const uint8_t *x##j = mm->x + (size_t)(t0 + j) * mm->xstride;                     \
	const uint8_t *z##j = (const uint8_t *)x32_a(x##j, k);                            \
	const float g##j = *x32_g(x##j, k);
#define DECL(j)                                                                        \
	__m256 a##j = _mm256_setzero_ps(), e##j = _mm256_setzero_ps();                    \
	XDECL(j)
#define INNER(j)                                                                       \
	{                                                                                  \
		__m256i xb = bcast4(x##j + QK * b + 4 * h);                                    \
		__m256i p = _mm256_maddubs_epi16(lo, xb);                                      \
		s##j = h == 0 ? p : _mm256_add_epi16(s##j, p);                                 \
		KEEP(s##j);                                                                    \
		p = _mm256_maddubs_epi16(hi, xb);                                              \
		u##j = h == 0 ? p : _mm256_add_epi16(u##j, p);                                 \
		KEEP(u##j);                                                                    \
	}
// m·Σ(u−8)·q as float for the int16 sums v of one half of the panel; the
// two halves share x's m and zero point, loaded once.
#define BLOCKF(v) _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_sub_epi16(v, zx), mx))
#define XSCALES(j) const __m256i mx = bcast4(z##j + 8 * b), zx = bcast4(z##j + 8 * b + 4);
#define EPI(j)                                                                         \
	{                                                                                  \
		XSCALES(j)                                                                     \
		a##j = _mm256_fmadd_ps(dw0, BLOCKF(s##j), a##j);                              \
		e##j = _mm256_fmadd_ps(dw1, BLOCKF(u##j), e##j);                              \
	}
#define SDECL(j) __m256i s##j, u##j;
#define STORE(j) store_halves(mm->out + (size_t)(t0 + j) * mm->ldo + r0, _mm256_mul_ps(a##j, _mm256_set1_ps(g##j)), _mm256_mul_ps(e##j, _mm256_set1_ps(g##j)), nr);

// The panel rows' outputs [0, nr) of one row of x, from its two halves.
FORCE void store_halves(float *dst, __m256 lo, __m256 hi, int nr) {
	store_cols(dst, lo, nr < 8 ? nr : 8);
	if (nr > 8) store_cols(dst + 8, hi, nr - 8);
}

// The block four blocks ahead in the stream (a unit's panels lie end to
// end), requested while this one is computed; five lines cover its 288
// bytes, which start at 0 or 32 mod 64. The first pass over a panel reads
// it from memory: a single decode streams every weight so, and the
// hardware prefetchers alone leave it about 10% short of this (so does a
// prefetch a whole panel ahead, 18–50 KiB, which the L1 cannot hold). A
// prefetch past the unit's end is harmless. Later passes over the panel
// find it in cache and skip this.
#define PF_BLOCKS 4
#define PREFETCH_AHEAD(q)                                                              \
	for (int l = 0; l < SW_PK_Q4_0; l += 64) _mm_prefetch((const char *)(q) + PF_BLOCKS * SW_PK_Q4_0 + l, _MM_HINT_T0);

// Where a tile's 8 groups of (lo, hi) come from, per block: SPLIT unpacks
// them from the packed bytes; SPLIT_KEEP also stores them to U, the
// panel's unpacked copy, at 512·b + 64·h (lo, then hi); FROM_U loads them
// back. With 7 rows of x or more a panel takes several passes: the first
// unpacks and keeps, the later ones load, which spares them 3 of the 4
// vector ops per 64 weights (2–3% more decode tok/s at 16 sequences).
#define SPLIT                                                                          \
	__m256i v = loadu256(pb + 32 * h);                                                 \
	__m256i lo = _mm256_and_si256(v, m4);                                              \
	__m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#define SPLIT_KEEP                                                                     \
	SPLIT                                                                              \
	_mm256_store_si256((__m256i *)(U + (size_t)b * SW_PKU_Q4_0 + 64 * h), lo);        \
	_mm256_store_si256((__m256i *)(U + (size_t)b * SW_PKU_Q4_0 + 64 * h + 32), hi);
#define FROM_U                                                                         \
	__m256i lo = _mm256_load_si256((const __m256i *)(U + (size_t)b * SW_PKU_Q4_0 + 64 * h)); \
	__m256i hi = _mm256_load_si256((const __m256i *)(U + (size_t)b * SW_PKU_Q4_0 + 64 * h + 32));

// A tile NAME of C rows with per-row macros D (declarations), E (a block's
// epilogue), S (the store); ACC and FENCE let the wide tiles below keep
// their accumulators in memory, PF prefetches ahead, SRC is SPLIT,
// SPLIT_KEEP or FROM_U.
#define TILE_OF(NAME, C, D, E, S, ACC, FENCE, PF, SRC)                                      \
	static void NAME(const sw_mm *mm, const uint8_t *P, uint8_t *U, int t0, int r0, int nr) { \
		const int k = mm->k, nb = k / QK;                                                     \
		const __m256i m4 = _mm256_set1_epi8(0xF);                                            \
		(void)m4, (void)U;                                                                    \
		ACC                                                                                   \
		REP##C(D)                                                                             \
		for (int b = 0; b < nb; b++) {                                                        \
			const uint8_t *pb = P + (size_t)b * SW_PK_Q4_0;                                   \
			PF                                                                                \
			REP##C(SDECL)                                                                     \
			_Pragma("GCC unroll 8") for (int h = 0; h < 8; h++) {                             \
				SRC                                                                           \
				REP##C(INNER)                                                                 \
			}                                                                                 \
			__m256 dw0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + 256)));       \
			__m256 dw1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + 272)));       \
			FENCE                                                                             \
			REP##C(E)                                                                         \
		}                                                                                     \
		REP##C(S)                                                                             \
	}
#define TILE(C) TILE_OF(tile##C, C, DECL, EPI, STORE, , , PREFETCH_AHEAD(pb), SPLIT)
TILE(1)
TILE(2)

// Three to six rows: the float accumulators live in memory, acc[16j..]
// for row j (8 per half), so the registers hold the int16 sums (six rows:
// 12 of them beside lo, hi, x and a product; the masks come from memory).
// 16 rows of x go as 6+5+5.
#define MEPI(j)                                                                        \
	{                                                                                  \
		XSCALES(j)                                                                     \
		float *aj = acc + 16 * j;                                                      \
		_mm256_store_ps(aj, _mm256_fmadd_ps(dw0, BLOCKF(s##j), _mm256_load_ps(aj)));   \
		_mm256_store_ps(aj + 8, _mm256_fmadd_ps(dw1, BLOCKF(u##j), _mm256_load_ps(aj + 8))); \
	}
#define MSTORE(j)                                                                      \
	store_halves(mm->out + (size_t)(t0 + j) * mm->ldo + r0, _mm256_mul_ps(_mm256_load_ps(acc + 16 * j), _mm256_set1_ps(g##j)), \
	             _mm256_mul_ps(_mm256_load_ps(acc + 16 * j + 8), _mm256_set1_ps(g##j)), nr);

// The empty asm keeps acc in memory: promoted to registers, it would spill.
// tileC_one is a panel's only pass, tileC_keep the first of several,
// tileC_u the later ones; the first pass reads the panel from memory and
// prefetches ahead.
#define MACC(C) float acc[16 * C] __attribute__((aligned(32))) = {0};
#define MFENCE __asm__ volatile("" ::: "memory");
#define MTILE_ONE_U(C)                                                                        \
	TILE_OF(tile##C##_one, C, XDECL, MEPI, MSTORE, MACC(C), MFENCE, PREFETCH_AHEAD(pb), SPLIT) \
	TILE_OF(tile##C##_u, C, XDECL, MEPI, MSTORE, MACC(C), MFENCE, , FROM_U)
#define MTILE(C)                                                                                    \
	MTILE_ONE_U(C)                                                                                  \
	TILE_OF(tile##C##_keep, C, XDECL, MEPI, MSTORE, MACC(C), MFENCE, PREFETCH_AHEAD(pb), SPLIT_KEEP)
MTILE_ONE_U(3)
MTILE(4)
MTILE(5)
MTILE(6)

// Up to 6 rows: one pass (tiles of 1–2 rows only serve T ≤ 2). From 7 on:
// several passes of 3–6 rows, sharing the unpacked copy; the first pass
// is the widest, so it takes at least 4 rows (7 = 4+3).
static const sw_ptile_fn one[7] = {NULL, tile1, tile2, tile3_one, tile4_one, tile5_one, tile6_one};
static const sw_ptile_fn keep[7] = {NULL, NULL, NULL, NULL, tile4_keep, tile5_keep, tile6_keep};
static const sw_ptile_fn from_u[7] = {NULL, NULL, NULL, tile3_u, tile4_u, tile5_u, tile6_u};

static void pgemm_q4_0(const sw_mm *mm, int p0, int p1, int t0, int t1, uint8_t *scratch) {
	if (t1 - t0 <= SW_PK_MAXC_Q4_0) sw_sweep_panels(mm, p0, p1, t0, t1, one, one, SW_PK_MAXC_Q4_0, SW_PKR_Q4_0, NULL);
	else sw_sweep_panels(mm, p0, p1, t0, t1, keep, from_u, SW_PK_MAXC_Q4_0, SW_PKR_Q4_0, scratch);
}

void sw_avx2_fill_pgemm_q6k(sw_isa_table *t);

void sw_avx2_fill_pgemm(sw_isa_table *t) {
	t->pack[SW_Q4_0] = sw_pack_q4_0x16;
	t->pgemm[SW_Q4_0] = pgemm_q4_0;
	t->pk_min_t[SW_Q4_0] = 1;
	sw_avx2_fill_pgemm_q6k(t);
}

SW_AVX2_END
#endif

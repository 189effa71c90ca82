// AVX2 tiles over packed Q4_0 weights (pack.c): C rows of x (1..8) against
// one 8-row panel, for every T. The panel's 4-bit weights u stay unsigned
// and meet x's signed bytes in maddubs; the zero point 8 of Q4_0 comes in
// through the X32 rows' second array, which the driver has scaled to
// c = −8·d·Σq, so a block adds dw·(dx·Σu·q + c) with two FMAs.
//
// Per block and row of x: 8 maddubs and 8 int16 adds (a pair of products
// of 15 and 127 is at most 3810, eight of them 30480: no saturation), one
// madd to int32, one convert, two FMAs. The panel's unpacking (an AND and
// a shift per 64 weights) is shared by the C rows, so a wider tile does
// less of it per row; up to 6 rows fit the 16 registers with their float
// accumulators, 8 with those in memory (tile7, tile8).
#if defined(__x86_64__)
#include "avx2.h"

#define XDECL(j)                                                                       \
	const uint8_t *x##j = mm->x + (size_t)(t0 + j) * mm->xstride;                     \
	const float *d##j = x32_d(x##j, k), *c##j = x32_s(x##j, k);
#define DECL(j)                                                                        \
	__m256 a##j = _mm256_setzero_ps();                                                 \
	XDECL(j)
#define INNER(j)                                                                       \
	{                                                                                  \
		__m256i p = _mm256_maddubs_epi16(lo, bcast4(x##j + QK * b + 4 * h));            \
		s##j = h == 0 ? p : _mm256_add_epi16(s##j, p);                                 \
		KEEP(s##j);                                                                    \
		p = _mm256_maddubs_epi16(hi, bcast4(x##j + QK * b + 4 * h + 16));               \
		s##j = _mm256_add_epi16(s##j, p);                                              \
		KEEP(s##j);                                                                    \
	}
#define EPI(j)                                                                         \
	{                                                                                  \
		__m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(s##j, ones));                   \
		f = _mm256_fmadd_ps(_mm256_set1_ps(d##j[b]), f, _mm256_set1_ps(c##j[b]));       \
		a##j = _mm256_fmadd_ps(dw, f, a##j);                                           \
	}
#define SDECL(j) __m256i s##j;
#define STORE(j) store_cols(mm->out + (size_t)(t0 + j) * mm->ldo + r0, a##j, nr);

// The same block of the next panel (three lines cover its 144 bytes),
// requested while this one is computed: the hardware prefetchers alone
// leave a single decode (one panel after another from DRAM) about 5%
// short of this. A prefetch past the last panel is harmless.
#define PREFETCH_NEXT(q)                                                               \
	_mm_prefetch((const char *)(q), _MM_HINT_T0);                                      \
	_mm_prefetch((const char *)(q) + 64, _MM_HINT_T0);                                 \
	_mm_prefetch((const char *)(q) + 128, _MM_HINT_T0);

// A tile of C rows with per-row macros D (declarations), E (a block's
// epilogue), S (the store); ACC and FENCE let the wide tiles below keep
// their accumulators in memory.
#define TILE_OF(C, D, E, S, ACC, FENCE)                                                     \
	static void tile##C(const sw_mm *mm, const uint8_t *P, int t0, int r0, int nr) {        \
		const int k = mm->k, nb = k / QK;                                                     \
		const __m256i m4 = _mm256_set1_epi8(0xF), ones = _mm256_set1_epi16(1);               \
		ACC                                                                                   \
		REP##C(D)                                                                             \
		for (int b = 0; b < nb; b++) {                                                        \
			const uint8_t *pb = P + (size_t)b * SW_PK_Q4_0;                                   \
			PREFETCH_NEXT(pb + mm->wstride)                                                   \
			REP##C(SDECL)                                                                     \
			_Pragma("GCC unroll 4") for (int h = 0; h < 4; h++) {                             \
				__m256i v = loadu256(pb + 32 * h);                                            \
				__m256i lo = _mm256_and_si256(v, m4);                                         \
				__m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);                   \
				REP##C(INNER)                                                                 \
			}                                                                                 \
			__m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + 128)));       \
			FENCE                                                                             \
			REP##C(E)                                                                         \
		}                                                                                     \
		REP##C(S)                                                                             \
	}
#define TILE(C) TILE_OF(C, DECL, EPI, STORE, , )
TILE(1)
TILE(2)
TILE(3)
TILE(4)
TILE(5)
TILE(6)

// Seven or eight rows: the float accumulators live in memory (an FMA from
// it and a store per block, which the load/store ports absorb), so the
// registers hold the eight int16 sums. A panel then serves 16 rows of x in
// two passes instead of three (6+5+5), with its unpacking shared by eight:
// about 7% faster at 16 rows. The arithmetic per output is the same as in
// the register tiles, so the results are bit for bit theirs.
#define MEPI(j)                                                                        \
	{                                                                                  \
		__m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(s##j, ones));                   \
		f = _mm256_fmadd_ps(_mm256_set1_ps(d##j[b]), f, _mm256_set1_ps(c##j[b]));       \
		_mm256_store_ps(acc + 8 * j, _mm256_fmadd_ps(dw, f, _mm256_load_ps(acc + 8 * j))); \
	}
#define MSTORE(j) store_cols(mm->out + (size_t)(t0 + j) * mm->ldo + r0, _mm256_load_ps(acc + 8 * j), nr);

// The empty asm keeps acc in memory: promoted to registers, it would spill.
#define MTILE(C)                                                                            \
	TILE_OF(C, XDECL, MEPI, MSTORE, float acc[8 * C] __attribute__((aligned(32))) = {0};,    \
	        __asm__ volatile("" ::: "memory");)
MTILE(7)
MTILE(8)

static const sw_ptile_fn tiles[9] = {NULL, tile1, tile2, tile3, tile4, tile5, tile6, tile7, tile8};

static void pgemm_q4_0(const sw_mm *mm, int p0, int p1, int t0, int t1) { sw_sweep_panels(mm, p0, p1, t0, t1, tiles, 8); }

void sw_avx2_fill_pgemm_q6k(sw_isa_table *t);

void sw_avx2_fill_pgemm(sw_isa_table *t) {
	t->pack[SW_Q4_0] = sw_pack_q4_0x8;
	t->pgemm[SW_Q4_0] = pgemm_q4_0;
	t->pk_min_t[SW_Q4_0] = 1;
	sw_avx2_fill_pgemm_q6k(t);
}

SW_AVX2_END
#endif

// AVX-512 VNNI tiles over packed Q4_0 weights (pack.c's q4_0x16, the
// layout the AVX2 tiles read): C rows of x (1..8) against one 16-row
// panel, for every T.
//
// A 32-byte group h of a block holds 4 elements of panel rows 0–7 in its
// low nibbles and of rows 8–15 in its high nibbles. Broadcast to both
// halves of a zmm and shifted by 0 in the low half and 4 in the high one,
// then masked, it becomes 16 lanes of 4 unsigned weights, lane r = panel
// row r. One vpdpbusd against x's 4 bytes broadcast adds Σ u·q of those 4
// elements to each row's int32 sum: 8 per block, row of x and 16 panel
// rows, where the AVX2 tiles need 16 maddubs and 16 int16 adds (and stop at
// the ports those adds steal, avx2_probe.c). The sum over a block is at
// most 32·15·127 = 60960, exact.
//
// The epilogue gives each block exactly the AVX2 tiles' value: the zero
// point 8·Σq comes off (X32G's a[b][2] + a[b][3]), the integer scale m
// (a[b][0]) multiplies in int32 (at most 16384·32512, exact), a convert and
// one FMA by the weights' F16 scale add it to the row's float sum, and the
// row's grid g multiplies once at the end. The same integers, converted
// and added in the same order, make the same floats: these tiles and the
// AVX2 ones agree bit for bit, so a decode's rows never depend on the ISA
// that batched them, nor on the rows beside them.
//
// Sums and accumulators stay in registers (2 zmm a row of x, 32 in all):
// 16 rows of x go as two passes of 8; the later passes find the panel in
// cache.
#if defined(__x86_64__)
#include "avx512.h"

#define XDECL(j)                                                      \
	const uint8_t *x##j = mm->x + (size_t)(t0 + j) * mm->xstride; \
	const int16_t *z##j = x32_a(x##j, k);                         \
	const float g##j = *x32_g(x##j, k);                           \
	__m512 a##j = _mm512_setzero_ps();
#define SDECL(j) __m512i s##j = _mm512_setzero_si512();
#define INNER(j) s##j = _mm512_dpbusd_epi32(s##j, u, bcast4_512(x##j + QK * b + 4 * h));
// m·(Σu·q − 8·Σq) exactly, then into the row's float sum.
#define EPI(j)                                                                                          \
	{                                                                                               \
		const int16_t *zb = z##j + 4 * b;                                                       \
		__m512i v = _mm512_sub_epi32(s##j, _mm512_set1_epi32((int32_t)zb[2] + (int32_t)zb[3])); \
		v = _mm512_mullo_epi32(v, _mm512_set1_epi32(zb[0]));                                    \
		a##j = _mm512_fmadd_ps(dw, _mm512_cvtepi32_ps(v), a##j);                                \
	}
#define STORE(j) _mm512_mask_storeu_ps(mm->out + (size_t)(t0 + j) * mm->ldo + r0, keep, _mm512_mul_ps(a##j, _mm512_set1_ps(g##j)));

// The block four blocks ahead in the stream, requested while this one is
// computed (as the AVX2 tiles do, for the same reason): a panel's first
// pass reads it from memory. Five lines cover its 288 bytes.
#define PF_BLOCKS 4
#define PREFETCH_AHEAD(q) \
	for (int l = 0; l < SW_PK_Q4_0; l += 64) _mm_prefetch((const char *)(q) + PF_BLOCKS * SW_PK_Q4_0 + l, _MM_HINT_T0);

// A tile NAME of C rows; PF prefetches ahead (first passes only).
#define TILE_OF(NAME, C, PF)                                                                                            \
	static void NAME(const sw_mm *mm, const uint8_t *P, uint8_t *U, int t0, int r0, int nr) {                       \
		(void)U;                                                                                                \
		const int k = mm->k, nb = k / QK;                                                                       \
		const __m512i m4 = _mm512_set1_epi8(0xF);                                                               \
		const __m512i sh = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);                 \
		const __mmask16 keep = (__mmask16)((1u << nr) - 1);                                                     \
		REP##C(XDECL)                                                                                           \
		for (int b = 0; b < nb; b++) {                                                                          \
			const uint8_t *pb = P + (size_t)b * SW_PK_Q4_0;                                                 \
			PF                                                                                              \
			REP##C(SDECL)                                                                                   \
			_Pragma("GCC unroll 8") for (int h = 0; h < 8; h++) {                                           \
				__m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(pb + 32 * h))); \
				__m512i u = _mm512_and_si512(_mm512_srlv_epi16(v, sh), m4);                             \
				REP##C(INNER)                                                                           \
			}                                                                                               \
			__m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(pb + 256)));                   \
			REP##C(EPI)                                                                                     \
		}                                                                                                       \
		REP##C(STORE)                                                                                           \
	}
#define TILES(C)                                \
	TILE_OF(tile##C, C, PREFETCH_AHEAD(pb)) \
	TILE_OF(tile##C##_u, C, )
TILES(1)
TILES(2)
TILES(3)
TILES(4)
TILES(5)
TILES(6)
TILES(7)
TILES(8)

#define MAXC 8
static const sw_ptile_fn first[MAXC + 1] = {NULL, tile1, tile2, tile3, tile4, tile5, tile6, tile7, tile8};
static const sw_ptile_fn later[MAXC + 1] = {NULL,     tile1_u, tile2_u, tile3_u, tile4_u,
                                            tile5_u, tile6_u, tile7_u, tile8_u};

static void pgemm_q4_0(const sw_mm *mm, int p0, int p1, int t0, int t1, uint8_t *scratch) {
	(void)scratch;
	sw_sweep_panels(mm, p0, p1, t0, t1, first, later, MAXC, SW_PKR_Q4_0, NULL);
}

void sw_avx512_fill_pgemm_q6k(sw_isa_table *t);

// The AVX-512 table: the AVX2 one with these tiles for packed Q4_0 and
// avx512_pgemm_q6k.c's for packed Q6_K. The packing is the same, so is the
// scratch the driver reserves (sized for the AVX2 tiles' unpacked copy,
// unused here).
void sw_avx512_fill(sw_isa_table *t) {
	sw_avx2_fill(t);
	t->isa = SW_ISA_AVX512;
	t->name = "avx512";
	t->pgemm[SW_Q4_0] = pgemm_q4_0;
	sw_avx512_fill_pgemm_q6k(t);
}

SW_AVX512_END
#endif

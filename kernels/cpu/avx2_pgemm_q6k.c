// AVX2 tiles over packed Q6_K weights (pack.c): C rows of x (1..8, X256)
// against one 8-row panel. The 6-bit weights u = q + 32 sit unsigned in
// bytes, so a group of 4 elements × 8 rows is one load shared by the C rows.
// Two groups' maddubs sum in int16 (63·127·2·2 = 32004 fits), and one madd
// with the sub-block's scale pairs widens them into the super-block's int32
// sum Σ_j sc_j·Σu·q. The zero point comes off at the end of the super-block
// as 32·Σ_j sc_j·bs_j (x's 16-element sums), again one madd per pair of
// sub-blocks; then acc += d·dx·sum. All sums are exact integers, as in the
// scalar kernel. The float accumulators live in memory (touched once per
// super-block), so the registers hold up to 8 rows' int32 sums. The next
// panel is prefetched as this one is read: at a byte a weight the tile
// streams enough that the hardware prefetchers alone cost it a quarter of
// its time on a 32000-row logits weight at 16 rows of x.
#if defined(__x86_64__)
#include "avx2.h"

// Scale pairs of sub-block j: int16 lanes (sc, sc) per row.
FORCE __m256i q6_scales(const uint8_t *pb, int j) {
	return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(pb + 2048 + 16 * j)));
}

#define DECL(j)                                                                        \
	const uint8_t *x##j = mm->x + (size_t)(t0 + j) * mm->xstride;                     \
	const float *d##j = x256_d(x##j, k);                                              \
	const int16_t *bs##j = x256_bs(x##j, k);
#define IDECL(j) __m256i i##j = _mm256_setzero_si256();
#define INNER(j)                                                                       \
	{                                                                                  \
		const uint8_t *xp = x##j + QKK * b + 16 * sj + 8 * q;                           \
		__m256i p = _mm256_maddubs_epi16(ga, bcast4(xp));                               \
		p = _mm256_add_epi16(p, _mm256_maddubs_epi16(gb, bcast4(xp + 4)));              \
		i##j = _mm256_add_epi32(i##j, _mm256_madd_epi16(p, sc));                        \
		KEEP(i##j);                                                                    \
	}
#define CORR(j)                                                                                          \
	i##j = _mm256_sub_epi32(i##j, _mm256_madd_epi16(scp, bcast4((const uint8_t *)(bs##j + 16 * b + 2 * pr)))); \
	KEEP(i##j);
#define EPI(j)                                                                                           \
	_mm256_store_ps(acc + 8 * j, _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(d##j[b])), _mm256_cvtepi32_ps(i##j), \
	                                             _mm256_load_ps(acc + 8 * j)));
#define STORE(j) store_cols(mm->out + (size_t)(t0 + j) * mm->ldo + r0, _mm256_load_ps(acc + 8 * j), nr);

#define TILE(C)                                                                                \
	static void q6tile##C(const sw_mm *mm, const uint8_t *P, uint8_t *U, int t0, int r0, int nr) { \
		const int k = mm->k, nb = k / QKK;                                                       \
		float acc[8 * C] __attribute__((aligned(32))) = {0};                                     \
		REP##C(DECL)                                                                             \
		for (int b = 0; b < nb; b++) {                                                           \
			const uint8_t *pb = P + (size_t)b * SW_PK_Q6_K;                                      \
			REP##C(IDECL)                                                                        \
			_Pragma("GCC unroll 1") for (int sj = 0; sj < 16; sj++) {                           \
				__m256i sc = q6_scales(pb, sj);                                                  \
				/* the next panel's super-block, 145 of its 2320 bytes a step */                \
				const char *nx = (const char *)(pb + mm->wstride) + 145 * sj;                    \
				_mm_prefetch(nx, _MM_HINT_T0);                                                   \
				_mm_prefetch(nx + 64, _MM_HINT_T0);                                              \
				_mm_prefetch(nx + 128, _MM_HINT_T0);                                             \
				_Pragma("GCC unroll 2") for (int q = 0; q < 2; q++) {                            \
					__m256i ga = loadu256(pb + 128 * sj + 64 * q);                               \
					__m256i gb = loadu256(pb + 128 * sj + 64 * q + 32);                          \
					REP##C(INNER)                                                                \
				}                                                                                \
			}                                                                                    \
			_Pragma("GCC unroll 8") for (int pr = 0; pr < 8; pr++) {                             \
				__m256i scp = _mm256_blend_epi16(q6_scales(pb, 2 * pr), q6_scales(pb, 2 * pr + 1), 0xAA); \
				scp = _mm256_slli_epi16(scp, 5);                                                 \
				REP##C(CORR)                                                                     \
			}                                                                                    \
			__m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + 2304)));         \
			REP##C(EPI)                                                                          \
		}                                                                                        \
		REP##C(STORE)                                                                            \
	}
TILE(1)
TILE(2)
TILE(3)
TILE(4)
TILE(5)
TILE(6)
TILE(7)
TILE(8)

static const sw_ptile_fn tiles[9] = {NULL, q6tile1, q6tile2, q6tile3, q6tile4, q6tile5, q6tile6, q6tile7, q6tile8};

static void pgemm_q6_k(const sw_mm *mm, int p0, int p1, int t0, int t1, uint8_t *scratch) {
	(void)scratch;
	sw_sweep_panels(mm, p0, p1, t0, t1, tiles, tiles, 8, SW_PKR_Q6_K, NULL);
}

void sw_avx2_fill_pgemm_q6k(sw_isa_table *t) {
	t->pack[SW_Q6_K] = sw_pack_q6_kx8;
	t->pgemm[SW_Q6_K] = pgemm_q6_k;
	// Single decodes stay on the dot product over the GGUF bytes: a byte per
	// weight is 1.4 times the GGUF's bytes, which a memory-bound decode would
	// pay in full; from a few rows of x on the tile is compute-bound and wins.
	t->pk_min_t[SW_Q6_K] = 4;
}

SW_AVX2_END
#endif

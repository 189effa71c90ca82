// AVX2 tiles over packed Q6_K weights (pack.c): C rows of x (1..4, X256)
// against one 8-row panel. The 6-bit weights u = q + 32 stay unsigned: a
// group of 4 elements × 8 rows is its low nibble from the Q4_0-style bytes
// OR its two high bits from the 2-bit planes. Two groups' maddubs sum in
// int16 (63·127·2·2 = 32004 fits), and one madd with the sub-block's scale
// pairs widens them into the super-block's int32 sum Σ_j sc_j·Σu·q. The
// zero point comes off at the end of the super-block as 32·Σ_j sc_j·bs_j
// (x's 16-element sums), again one madd per pair of sub-blocks; then
// acc += d·dx·sum. All sums are exact integers, as in the scalar kernel.
#if defined(__x86_64__)
#include "avx2.h"

// Group h (elements 16e + 4h + i of chunk c, all 8 rows) as bytes u.
FORCE __m256i q6_group(__m256i v, __m256i hb, int e, int h) {
	const __m256i m4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
	__m256i lo = e ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
	__m256i hi = h == 0 ? _mm256_slli_epi16(hb, 4) : h == 1 ? _mm256_slli_epi16(hb, 2) : h == 2 ? hb : _mm256_srli_epi16(hb, 2);
	return _mm256_or_si256(lo, _mm256_and_si256(hi, m30));
}

// Scale pairs of sub-block j: int16 lanes (sc, sc) per row.
FORCE __m256i q6_scales(const uint8_t *pb, int j) {
	return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(pb + 1536 + 16 * j)));
}

#define DECL(j)                                                                        \
	__m256 a##j = _mm256_setzero_ps();                                                 \
	const uint8_t *x##j = mm->x + (size_t)(t0 + j) * mm->xstride;                     \
	const float *d##j = x256_d(x##j, k);                                              \
	const int16_t *bs##j = x256_bs(x##j, k);
#define IDECL(j) __m256i i##j = _mm256_setzero_si256();
#define INNER(j)                                                                       \
	{                                                                                  \
		const uint8_t *xp = x##j + QKK * b + 32 * c + 16 * e + 8 * q;                   \
		__m256i p = _mm256_maddubs_epi16(ga, bcast4(xp));                               \
		p = _mm256_add_epi16(p, _mm256_maddubs_epi16(gb, bcast4(xp + 4)));              \
		i##j = _mm256_add_epi32(i##j, _mm256_madd_epi16(p, sc));                        \
		KEEP(i##j);                                                                    \
	}
#define CORR(j) i##j = _mm256_sub_epi32(i##j, _mm256_madd_epi16(scp, bcast4((const uint8_t *)(bs##j + 16 * b + 2 * pr))));
#define EPI(j) a##j = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(d##j[b])), _mm256_cvtepi32_ps(i##j), a##j);
#define STORE(j) store_cols(mm->out + (size_t)(t0 + j) * mm->ldo + r0, a##j, nr);

#define TILE(C)                                                                                \
	static void q6tile##C(const sw_mm *mm, const uint8_t *P, int t0, int r0, int nr) {         \
		const int k = mm->k, nb = k / QKK;                                                       \
		REP##C(DECL)                                                                             \
		for (int b = 0; b < nb; b++) {                                                           \
			const uint8_t *pb = P + (size_t)b * SW_PK_Q6_K;                                      \
			REP##C(IDECL)                                                                        \
			for (int c = 0; c < 8; c++) {                                                        \
				_Pragma("GCC unroll 2") for (int e = 0; e < 2; e++) {                            \
					__m256i sc = q6_scales(pb, 2 * c + e);                                       \
					__m256i hb = loadu256(pb + 1024 + 64 * c + 32 * e);                          \
					_Pragma("GCC unroll 2") for (int q = 0; q < 2; q++) {                        \
						__m256i ga = q6_group(loadu256(pb + 128 * c + 64 * q), hb, e, 2 * q);    \
						__m256i gb = q6_group(loadu256(pb + 128 * c + 64 * q + 32), hb, e, 2 * q + 1); \
						REP##C(INNER)                                                            \
					}                                                                            \
				}                                                                                \
			}                                                                                    \
			_Pragma("GCC unroll 8") for (int pr = 0; pr < 8; pr++) {                             \
				__m256i scp = _mm256_blend_epi16(q6_scales(pb, 2 * pr), q6_scales(pb, 2 * pr + 1), 0xAA); \
				scp = _mm256_slli_epi16(scp, 5);                                                 \
				REP##C(CORR)                                                                     \
			}                                                                                    \
			__m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(pb + 1792)));         \
			REP##C(EPI)                                                                          \
		}                                                                                        \
		REP##C(STORE)                                                                            \
	}
TILE(1)
TILE(2)
TILE(3)
TILE(4)

static const sw_ptile_fn tiles[5] = {NULL, q6tile1, q6tile2, q6tile3, q6tile4};

static void pgemm_q6_k(const sw_mm *mm, int p0, int p1, int t0, int t1) { sw_sweep_panels(mm, p0, p1, t0, t1, tiles, 4); }

void sw_avx2_fill_pgemm_q6k(sw_isa_table *t) {
	t->pack[SW_Q6_K] = sw_pack_q6_kx8;
	t->pgemm[SW_Q6_K] = pgemm_q6_k;
	// Single decodes stay on the dot product over the GGUF bytes: the 6-bit
	// unpacking makes this tile compute-bound at T=1 (about half the memory
	// bandwidth the dot reaches); from a few rows of x on it wins.
	t->pk_min_t[SW_Q6_K] = 4;
}

SW_AVX2_END
#endif

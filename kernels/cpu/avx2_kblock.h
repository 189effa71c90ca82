// k-quant super-blocks prepared for dot products (avx2_dotn.c): unsigned
// weights per 32-element chunk, int16 scale of each element pair, mins in
// the activation bsums order, so a row of x adds
// d·dx·Σ_c madd(maddubs(u_c, q_c), sv_c) − dmin·dx·Σ mn·bs.
// Included by AVX2 files only, after avx2.h.
#ifndef SW_AVX2_KBLOCK_H
#define SW_AVX2_KBLOCK_H

typedef struct {
	__m256i u[8];  // weights of chunk c (32 elements), unsigned
	__m256i sv[8]; // int16 scale of the sub-block of each element pair
	__m256i mn;    // int16 min of each 16-element group, in bsums order
	float d, dmin; // w = d·sc·u − dmin·mn
} kblock;

static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }

// Mins of eight 32-element sub-blocks, each repeated for its two groups.
FORCE __m256i mins_per16(__m128i mn8) {
	return _mm256_setr_m128i(_mm_unpacklo_epi16(mn8, mn8), _mm_unpackhi_epi16(mn8, mn8));
}

FORCE void prep_q45k(const uint8_t *b, kblock *kb, int five) {
	const blk_q4_k *x = (const blk_q4_k *)b; // Q5_K starts the same way
	__m256i sm = _mm256_cvtepu8_epi16(k4_scales_mins(x->scales));
	__m128i sc = _mm256_castsi256_si128(sm);
#pragma GCC unroll 8
	for (int c = 0; c < 8; c++) kb->sv[c] = bcast_i16(sc, c);
	kb->mn = mins_per16(_mm256_extracti128_si256(sm, 1));
	if (five) uk_q5k((const blk_q5_k *)b, kb->u);
	else uk_q4k(x, kb->u);
	kb->d = h2f(&x->d);
	kb->dmin = h2f(&x->dmin);
}
FORCE void prep_q4k(const uint8_t *b, kblock *kb) { prep_q45k(b, kb, 0); }
FORCE void prep_q5k(const uint8_t *b, kblock *kb) { prep_q45k(b, kb, 1); }

// Scales per 16 elements (sc8, int8) and their mins; for Q3_K and Q6_K
// the mins are the fixed offset times the scale (w = d·sc·(u − off)).
FORCE void prep_sc16(kblock *kb, __m128i sc8, __m256i mn) {
#pragma GCC unroll 8
	for (int c = 0; c < 8; c++) kb->sv[c] = pair_i8(sc8, c);
	kb->mn = mn;
}

FORCE void prep_q2k(const uint8_t *b, kblock *kb) {
	const blk_q2_k *x = (const blk_q2_k *)b;
	__m128i v = loadu128(x->scales), m4 = _mm_set1_epi8(0xF);
	prep_sc16(kb, _mm_and_si128(v, m4), _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(v, 4), m4)));
	uk_q2k(x, kb->u);
	kb->d = h2f(&x->d);
	kb->dmin = h2f(&x->dmin);
}

FORCE void prep_q3k(const uint8_t *b, kblock *kb) {
	const blk_q3_k *x = (const blk_q3_k *)b;
	__m128i sc = k3_scales(x->scales);
	prep_sc16(kb, sc, _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 2));
	uk_q3k(x, kb->u);
	kb->d = kb->dmin = h2f(&x->d);
}

FORCE void prep_q6k(const uint8_t *b, kblock *kb) {
	const blk_q6_k *x = (const blk_q6_k *)b;
	__m128i sc = loadu128(x->scales);
	prep_sc16(kb, sc, _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5));
	uk_q6k(x, kb->u);
	kb->d = kb->dmin = h2f(&x->d);
}

#endif

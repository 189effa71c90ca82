// AVX2 dot products with the rows of w in vector lanes (sw_dotr_fn) for
// the legacy types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): up to 8 rows of w in
// the GGUF layout against up to 4 rows of x. Per block each row's integer
// Σu·q is exact, the 8 rows' sums are folded into one vector, and from
// there every lane takes the float steps of the same lane of tile_legacy
// (the panel GEMM). So a row of x gets the same bits alone (a single
// decode) as in a batch of any size, which continuous batching needs to
// reproduce single-sequence results. Folding 8 sums at once costs less
// than a horizontal sum per row and block: single decodes run as fast as
// with the earlier one-row dot product. (The k-quants could follow the
// same scheme; written so, it cost Q4_K_M decodes 7–14%, so they keep
// avx2_dotn.c for now.)
#if defined(__x86_64__)
#include "avx2.h"
#include "fp.h"

// Lane r: the sum of v[r]'s 8 lanes (exact).
FORCE __m256i fold8(const __m256i v[8]) {
	__m256i a = _mm256_hadd_epi32(v[0], v[1]), b = _mm256_hadd_epi32(v[2], v[3]);
	__m256i c = _mm256_hadd_epi32(v[4], v[5]), d = _mm256_hadd_epi32(v[6], v[7]);
	__m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
	// ab: 4-sums of v0..v3, low 128-bit halves then high; cd likewise.
	return _mm256_add_epi32(_mm256_permute2x128_si256(ab, cd, 0x20), _mm256_permute2x128_si256(ab, cd, 0x31));
}

// The F16 at byte off of block b of rows wr[0..7], widened.
FORCE __m256 halves_of(const uint8_t *const wr[8], size_t at) {
	return _mm256_cvtph_ps(_mm_setr_epi16(sw_ld16(wr[0] + at), sw_ld16(wr[1] + at), sw_ld16(wr[2] + at), sw_ld16(wr[3] + at),
	                                      sw_ld16(wr[4] + at), sw_ld16(wr[5] + at), sw_ld16(wr[6] + at), sw_ld16(wr[7] + at)));
}

// Rows past nr repeat row 0; their lanes are never stored.
FORCE void row_ptrs(const uint8_t *w, size_t ws, int nr, const uint8_t *wr[8]) {
	for (int r = 0; r < 8; r++) wr[r] = w + (size_t)(r < nr ? r : 0) * ws;
}

// The 8 rows are read a block at a time each, 8 interleaved streams, so
// each new line of a row asks for the line PF_AHEAD_BYTES on in every row.
#define PF_AHEAD_BYTES 512
FORCE void prefetch_rows(const uint8_t *const wr[8], size_t at, size_t bb) {
	for (int r = 0; r < 8; r++)
		for (size_t o = 0; o < bb; o += 64) _mm_prefetch((const char *)wr[r] + at + PF_AHEAD_BYTES + o, _MM_HINT_T0);
}

FORCE void store_rows(float *out, size_t os, const __m256 *acc, int C, int nr) {
	for (int j = 0; j < C; j++) store_cols(out + (size_t)j * os, acc[j], nr);
}

// Legacy types (X32 activations). sgn: signed weights (Q8_0) lend their
// sign to q; moff: byte offset of a stored F16 min; mk: the min as a
// multiple of d (Q4_0 −8, Q5_0 −16). As tile_legacy: acc = fma(d·dx,
// Σu·q, acc), then for types with a min acc = fma(m, s, acc).
FORCE void dotr_legacy(int k, const uint8_t *w, size_t ws, int nr, const uint8_t *x, size_t xs, int C, float *out,
                       size_t os, size_t bb, __m256i (*unpack)(const uint8_t *), int sgn, int moff, int mk) {
	const uint8_t *wr[8];
	row_ptrs(w, ws, nr, wr);
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc[4];
	for (int j = 0; j < C; j++) acc[j] = _mm256_setzero_ps();
	for (int b = 0; b < k / QK; b++) {
		size_t at = (size_t)b * bb;
		if ((at & 63) < bb) prefetch_rows(wr, at & ~(size_t)63, 1); // once per line
		__m256i u[8];
#pragma GCC unroll 8
		for (int r = 0; r < 8; r++) u[r] = unpack(wr[r] + at);
		__m256 d = halves_of(wr, at);
		__m256 m = moff ? halves_of(wr, at + moff) : _mm256_mul_ps(d, _mm256_set1_ps((float)mk));
#pragma GCC unroll 4
		for (int j = 0; j < C; j++) {
			const uint8_t *xr = x + (size_t)j * xs;
			__m256i q = loadu256(xr + QK * b), p[8];
#pragma GCC unroll 8
			for (int r = 0; r < 8; r++) {
				__m256i a = sgn ? _mm256_abs_epi8(u[r]) : u[r], qq = sgn ? _mm256_sign_epi8(q, u[r]) : q;
				p[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(a, qq), ones);
			}
			__m256 dx = _mm256_set1_ps(x32_d(xr, k)[b]);
			acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(d, dx), _mm256_cvtepi32_ps(fold8(p)), acc[j]);
			if (moff || mk) acc[j] = _mm256_fmadd_ps(m, _mm256_set1_ps(x32_s(xr, k)[b]), acc[j]);
		}
	}
	store_rows(out, os, acc, C, nr);
}

// Entry points: the if-chains turn nx into a compile-time C.
#define DEF_RL(type, blk_t, unpack, sgn, moff, mk)                                                             \
	static void dotr_##type(int k, const uint8_t *w, size_t ws, int nr, const uint8_t *x, size_t xs, int nx, \
	                        float *out, size_t os) {                                                         \
		if (nx == 1) dotr_legacy(k, w, ws, nr, x, xs, 1, out, os, sizeof(blk_t), unpack, sgn, moff, mk);      \
		else if (nx == 2) dotr_legacy(k, w, ws, nr, x, xs, 2, out, os, sizeof(blk_t), unpack, sgn, moff, mk); \
		else if (nx == 3) dotr_legacy(k, w, ws, nr, x, xs, 3, out, os, sizeof(blk_t), unpack, sgn, moff, mk); \
		else dotr_legacy(k, w, ws, nr, x, xs, 4, out, os, sizeof(blk_t), unpack, sgn, moff, mk);              \
	}
DEF_RL(q4_0, blk_q4_0, u32_q4_0, 0, 0, -8)
DEF_RL(q4_1, blk_q4_1, u32_q4_1, 0, 2, 0)
DEF_RL(q5_0, blk_q5_0, u32_q5_0, 0, 0, -16)
DEF_RL(q5_1, blk_q5_1, u32_q5_1, 0, 2, 0)
DEF_RL(q8_0, blk_q8_0, u32_q8_0, 1, 0, 0)

void sw_avx2_fill_dotr(sw_isa_table *t) {
	t->dotr[SW_Q4_0] = dotr_q4_0;
	t->dotr[SW_Q4_1] = dotr_q4_1;
	t->dotr[SW_Q5_0] = dotr_q5_0;
	t->dotr[SW_Q5_1] = dotr_q5_1;
	t->dotr[SW_Q8_0] = dotr_q8_0;
}

SW_AVX2_END
#endif

// AVX2 helpers shared by the avx2_*.c files: reductions, bit expansion and
// the unpackers that turn weight blocks into unsigned byte vectors in
// natural element order (the same bytes the scalar sw_unpack32/256 give).
// Only x86-64 builds compile the files that include it.
#ifndef SW_AVX2_H
#define SW_AVX2_H

#include "sw.h"
#include "gemm.h"
#include "rep.h"

#include <immintrin.h>

// Every function from here to the end of the including file is compiled
// for AVX2+FMA+F16C; the file must end with SW_AVX2_END.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define SW_AVX2_END _Pragma("clang attribute pop")
#else
#pragma GCC target("avx2,fma,f16c")
#define SW_AVX2_END
#endif

static inline float hsum8(__m256 v) {
	__m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	a = _mm_add_ps(a, _mm_movehl_ps(a, a));
	a = _mm_add_ss(a, _mm_movehdup_ps(a));
	return _mm_cvtss_f32(a);
}

static inline float hsum4(__m128 a) {
	a = _mm_add_ps(a, _mm_movehl_ps(a, a));
	a = _mm_add_ss(a, _mm_movehdup_ps(a));
	return _mm_cvtss_f32(a);
}

static inline float h2f(const void *p) {
	uint16_t h;
	memcpy(&h, p, 2);
	return _cvtsh_ss(h);
}

// 32 bits → 32 bytes, byte i = 0xFF when bit i is set.
static inline __m256i bits_to_bytes(uint32_t x) {
	const __m256i sel = _mm256_setr_epi64x(0, 0x0101010101010101LL, 0x0202020202020202LL,
	                                       0x0303030303030303LL);
	const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
	__m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), sel);
	return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

// 16 packed bytes → 32 nibbles: low nibbles first, then high nibbles. The
// bytes are loaded into both lanes and the upper lane shifted, which is two
// ALU ops cheaper than shifting a copy and inserting it (a third faster
// Q4_0 dot products).
static inline __m256i nibbles32(const uint8_t *p) {
	__m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
	v = _mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4));
	return _mm256_and_si256(v, _mm256_set1_epi8(0xF));
}

static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

// Legacy block → 32 unsigned weights u (Q8_0: the signed bytes as they are).
static inline __m256i u32_q4_0(const uint8_t *b) { return nibbles32(((const blk_q4_0 *)b)->qs); }
static inline __m256i u32_q4_1(const uint8_t *b) { return nibbles32(((const blk_q4_1 *)b)->qs); }
static inline __m256i u32_q5(const uint8_t *qs, const uint8_t *qhp) {
	uint32_t qh;
	memcpy(&qh, qhp, 4);
	__m256i hb = _mm256_and_si256(bits_to_bytes(qh), _mm256_set1_epi8(0x10));
	return _mm256_or_si256(nibbles32(qs), hb);
}
static inline __m256i u32_q5_0(const uint8_t *b) {
	return u32_q5(((const blk_q5_0 *)b)->qs, ((const blk_q5_0 *)b)->qh);
}
static inline __m256i u32_q5_1(const uint8_t *b) {
	return u32_q5(((const blk_q5_1 *)b)->qs, ((const blk_q5_1 *)b)->qh);
}
static inline __m256i u32_q8_0(const uint8_t *b) { return loadu256(((const blk_q8_0 *)b)->qs); }

// k-quant super-block → 8 vectors of 32 unsigned weights (elements 32c..).
static inline void uk_q2k(const blk_q2_k *x, __m256i u[8]) {
	const __m256i m3 = _mm256_set1_epi8(3);
	for (int n = 0; n < 2; n++) {
		__m256i q = loadu256(x->qs + 32 * n);
		u[4 * n + 0] = _mm256_and_si256(q, m3);
		u[4 * n + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 2), m3);
		u[4 * n + 2] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m3);
		u[4 * n + 3] = _mm256_and_si256(_mm256_srli_epi16(q, 6), m3);
	}
}

static inline void uk_q3k(const blk_q3_k *x, __m256i u[8]) {
	const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
	__m256i hm = loadu256(x->hmask);
	for (int n = 0; n < 2; n++) {
		__m256i q = loadu256(x->qs + 32 * n);
		for (int s = 0; s < 4; s++) {
			__m256i bit = _mm256_set1_epi8((char)(1 << (4 * n + s)));
			__m256i hi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), four);
			__m256i lo = _mm256_and_si256(_mm256_srli_epi16(q, 2 * s), m3);
			u[4 * n + s] = _mm256_or_si256(lo, hi);
		}
	}
}

static inline void uk_q4k(const blk_q4_k *x, __m256i u[8]) {
	const __m256i m4 = _mm256_set1_epi8(0xF);
	for (int j = 0; j < 4; j++) {
		__m256i q = loadu256(x->qs + 32 * j);
		u[2 * j] = _mm256_and_si256(q, m4);
		u[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
	}
}

static inline void uk_q5k(const blk_q5_k *x, __m256i u[8]) {
	const __m256i m4 = _mm256_set1_epi8(0xF), h5 = _mm256_set1_epi8(0x10);
	__m256i qh = loadu256(x->qh);
	for (int j = 0; j < 4; j++) {
		__m256i q = loadu256(x->qs + 32 * j);
		__m256i b0 = _mm256_set1_epi8((char)(1 << (2 * j))), b1 = _mm256_set1_epi8((char)(2 << (2 * j)));
		__m256i h0 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b0), b0), h5);
		__m256i h1 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, b1), b1), h5);
		u[2 * j] = _mm256_or_si256(_mm256_and_si256(q, m4), h0);
		u[2 * j + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), h1);
	}
}

static inline void uk_q6k(const blk_q6_k *x, __m256i u[8]) {
	const __m256i m4 = _mm256_set1_epi8(0xF);
	for (int n = 0; n < 2; n++) {
		__m256i a = loadu256(x->ql + 64 * n), b = loadu256(x->ql + 64 * n + 32);
		__m256i h = loadu256(x->qh + 32 * n);
		__m256i h0 = _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(0x03)), 4);
		__m256i h1 = _mm256_slli_epi16(_mm256_and_si256(h, _mm256_set1_epi8(0x0C)), 2);
		__m256i h2 = _mm256_and_si256(h, _mm256_set1_epi8(0x30));
		__m256i h3 = _mm256_srli_epi16(_mm256_and_si256(h, _mm256_set1_epi8((char)0xC0)), 2);
		u[4 * n + 0] = _mm256_or_si256(_mm256_and_si256(a, m4), h0);
		u[4 * n + 1] = _mm256_or_si256(_mm256_and_si256(b, m4), h1);
		u[4 * n + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), h2);
		u[4 * n + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b, 4), m4), h3);
	}
}

// Q4_K/Q5_K 6-bit scales and mins: bytes 0..7 scales, 8..15 mins.
static inline __m128i k4_scales_mins(const uint8_t *p) {
	uint32_t a[3];
	memcpy(a, p, 12);
	uint32_t sl = a[0] & 0x3f3f3f3f, ml = a[1] & 0x3f3f3f3f;
	uint32_t sh = (a[2] & 0x0f0f0f0f) | (((a[0] >> 6) & 0x03030303) << 4);
	uint32_t mh = ((a[2] >> 4) & 0x0f0f0f0f) | (((a[1] >> 6) & 0x03030303) << 4);
	return _mm_setr_epi32((int)sl, (int)sh, (int)ml, (int)mh);
}

// Q3_K's sixteen signed scales (the stored 6-bit values minus 32).
static inline __m128i k3_scales(const uint8_t *p) {
	uint32_t a[3];
	memcpy(a, p, 12);
	uint32_t s0 = (a[0] & 0x0f0f0f0f) | ((a[2] & 0x03030303) << 4);
	uint32_t s1 = (a[1] & 0x0f0f0f0f) | (((a[2] >> 2) & 0x03030303) << 4);
	uint32_t s2 = ((a[0] >> 4) & 0x0f0f0f0f) | (((a[2] >> 4) & 0x03030303) << 4);
	uint32_t s3 = ((a[1] >> 4) & 0x0f0f0f0f) | (((a[2] >> 6) & 0x03030303) << 4);
	return _mm_sub_epi8(_mm_setr_epi32((int)s0, (int)s1, (int)s2, (int)s3), _mm_set1_epi8(32));
}

// Broadcast 16-bit element c of v (8 x i16) to 16 lanes.
static inline __m256i bcast_i16(__m128i v, int c) {
	__m128i m = _mm_set1_epi16((short)(0x0100 + 0x0202 * c));
	__m128i s = _mm_shuffle_epi8(v, m);
	return _mm256_broadcastsi128_si256(s);
}

// Bytes 2c (×8) and 2c+1 (×8) of v sign-extended to 16 lanes: the scales
// of the two 16-element sub-blocks of chunk c.
static inline __m256i pair_i8(__m128i v, int c) {
	__m128i m = _mm_setr_epi8(2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c, 2 * c + 1, 2 * c + 1,
	                          2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1);
	return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(v, m));
}

#define FORCE static inline __attribute__((always_inline))

// Σ of the 8 int32 lanes (exact while the sum fits, as every caller's does).
FORCE int32_t hsum_i32(__m256i v) {
	__m128i a = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
	a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0x4E));
	a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0xB1));
	return _mm_cvtsi128_si32(a);
}

// Pin v in a register at this point. GCC otherwise regroups the long
// chains of integer adds in the panel kernels into trees whose partial
// products no longer fit in 16 registers and spill.
#define KEEP(v) __asm__("" : "+x"(v))

// r[g] := (row0 word g, row1 word g, ..., row7 word g).
FORCE void tr8x8(__m256i r[8]) {
	__m256i t[8], s[8];
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	for (int i = 0; i < 2; i++) {
		s[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		s[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		s[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		s[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
	for (int g = 0; g < 4; g++) {
		r[g] = _mm256_permute2x128_si256(s[g], s[4 + g], 0x20);
		r[g + 4] = _mm256_permute2x128_si256(s[g], s[4 + g], 0x31);
	}
}

FORCE __m256i bcast4(const uint8_t *p) {
	int32_t v;
	memcpy(&v, p, 4);
	return _mm256_set1_epi32(v);
}

// Store 8 output columns, or the first nr of them at a ragged panel edge.
FORCE void store_cols(float *dst, __m256 v, int nr) {
	if (nr == 8) {
		_mm256_storeu_ps(dst, v);
		return;
	}
	float t[8];
	_mm256_storeu_ps(t, v);
	memcpy(dst, t, (size_t)nr * 4);
}

// e^x for x ≤ 88: 2^n · p(r), r = x − n·ln2 in [−ln2/2, ln2/2], p the
// degree-6 Taylor polynomial (error below 2e-7 relative on that interval).
FORCE __m256 exp8(__m256 x) {
	x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
	__m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
	                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
	r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
	__m256 p = _mm256_set1_ps(1.0f / 720);
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

// 8 floats of a float-type row w from column i.
FORCE __m256 ldw8(int t, const uint8_t *w, int i) {
	if (t == SW_F32) return _mm256_loadu_ps((const float *)w + i);
	__m128i h = _mm_loadu_si128((const __m128i *)(w + 2 * i));
	if (t == SW_F16) return _mm256_cvtph_ps(h);
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

#endif

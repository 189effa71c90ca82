// quant.cuh: the weight formats, decoded 32 elements (one "piece") at a
// time. Written in the common subset of C and CUDA C++ so that the same
// source runs in the kernels (nvcc) and in a host check (gcc, through cgo)
// that holds it against kernels/quant's Go decoders.
//
// unpack_<type>(row, p, v, a, b) decodes piece p of a row (elements
// [32p, 32p+32)) into
//   v[8]  32 byte-sized levels, four per word, element 4i+j in byte j of
//         v[i] (unsigned, except Q8_0's signed bytes);
//   a[2], b[2]  per half (elements 0..15, 16..31): value = a·level + b.
// So a dot product with 8-bit activations x = dx·qx is
//   Σ x·w = dx·(a0·Σ₀ level·qx + a1·Σ₁ level·qx) + b0·dx·Σ₀ qx + b1·dx·Σ₁ qx
// with Σ level·qx from dp4a; the formats differ only in how they fill v, a, b.
// Alignment: a piece is read with the widest loads its block offset allows
// (rows of a format start at multiples of its block size in 256-byte-aligned
// allocations): 16-byte loads for Q4_K and Q5_K, 4-byte words for Q4_1,
// Q5_1, Q2_K; pairs of 2-byte loads for Q4_0, Q5_0, Q8_0, Q3_K, Q6_K.
#ifndef SPILLWAY_QUANT_CUH
#define SPILLWAY_QUANT_CUH

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#include <stdint.h>
#define QFN static __device__ __forceinline__
#define Q_DP4A(a, b, c) __dp4a((int)(a), (int)(b), (int)(c))
QFN uint32_t q_u16(const uint8_t *p) { return *(const uint16_t *)p; }
QFN uint32_t q_u32(const uint8_t *p) { return *(const uint32_t *)p; }
QFN float q_f16(const uint8_t *p) { return __half2float(__ushort_as_half(*(const uint16_t *)p)); }
// q_load8 reads 8 words from a 16-byte-aligned address in two 16-byte loads.
QFN void q_load8(const uint8_t *p, uint32_t *w) {
	uint4 a = ((const uint4 *)p)[0], b = ((const uint4 *)p)[1];
	w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
}
#else
#include <stdint.h>
#include <string.h>
#define QFN static inline
QFN uint32_t q_u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
QFN uint32_t q_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
QFN void q_load8(const uint8_t *p, uint32_t *w) { memcpy(w, p, 32); }
// Q_DP4A is dp4a on the host: four signed byte products added to c.
QFN int Q_DP4A(uint32_t a, uint32_t b, int c) {
	for (int j = 0; j < 4; j++)
		c += (int)(int8_t)(a >> (8 * j)) * (int)(int8_t)(b >> (8 * j));
	return c;
}
QFN float q_f16(const uint8_t *p) {
	uint32_t h = q_u16(p), s = (h >> 15) << 31, e = (h >> 10) & 31, m = h & 0x3ff, u;
	float f;
	if (e == 0) { // zero or subnormal: m·2^-24, exact in float
		f = (float)m * 5.9604644775390625e-8f;
		return s ? -f : f;
	}
	u = e == 31 ? (s | 0x7f800000u | (m << 13)) : (s | ((e + 112) << 23) | (m << 13));
	memcpy(&f, &u, 4);
	return f;
}
#endif

// q_u32h reads a 32-bit word from a 2-byte-aligned address.
QFN uint32_t q_u32h(const uint8_t *p) { return q_u16(p) | (q_u16(p + 2) << 16); }

// q_spread4 moves bits 0..3 of x to bit 4 of bytes 0..3: the fifth bit of
// four Q5_0/Q5_1 levels. (x·0x00204081 puts bit j at 8j with no carries.)
QFN uint32_t q_spread4(uint32_t x) { return ((x * 0x00204081u) & 0x01010101u) << 4; }

// Q4_0 (18 B): d | qs[16]; level = nibble, value = d·(level − 8).
QFN void unpack_q4_0(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 18 * p;
	float d = q_f16(blk);
	for (int i = 0; i < 4; i++) {
		uint32_t w = q_u32h(blk + 2 + 4 * i);
		v[i] = w & 0x0F0F0F0Fu;
		v[4 + i] = (w >> 4) & 0x0F0F0F0Fu;
	}
	a[0] = a[1] = d;
	b[0] = b[1] = -8.0f * d;
}

// Q4_1 (20 B): d | m | qs[16]; value = d·level + m.
QFN void unpack_q4_1(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 20 * p;
	float d = q_f16(blk), m = q_f16(blk + 2);
	for (int i = 0; i < 4; i++) {
		uint32_t w = q_u32(blk + 4 + 4 * i);
		v[i] = w & 0x0F0F0F0Fu;
		v[4 + i] = (w >> 4) & 0x0F0F0F0Fu;
	}
	a[0] = a[1] = d;
	b[0] = b[1] = m;
}

// Q5_0 (22 B): d | qh u32 | qs[16]; bit 4 of element j is bit j of qh;
// value = d·(level − 16).
QFN void unpack_q5_0(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 22 * p;
	float d = q_f16(blk);
	uint32_t qh = q_u32h(blk + 2);
	for (int i = 0; i < 4; i++) {
		uint32_t w = q_u32h(blk + 6 + 4 * i);
		v[i] = (w & 0x0F0F0F0Fu) | q_spread4((qh >> (4 * i)) & 15u);
		v[4 + i] = ((w >> 4) & 0x0F0F0F0Fu) | q_spread4((qh >> (16 + 4 * i)) & 15u);
	}
	a[0] = a[1] = d;
	b[0] = b[1] = -16.0f * d;
}

// Q5_1 (24 B): d | m | qh u32 | qs[16]; value = d·level + m.
QFN void unpack_q5_1(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 24 * p;
	float d = q_f16(blk), m = q_f16(blk + 2);
	uint32_t qh = q_u32(blk + 4);
	for (int i = 0; i < 4; i++) {
		uint32_t w = q_u32(blk + 8 + 4 * i);
		v[i] = (w & 0x0F0F0F0Fu) | q_spread4((qh >> (4 * i)) & 15u);
		v[4 + i] = ((w >> 4) & 0x0F0F0F0Fu) | q_spread4((qh >> (16 + 4 * i)) & 15u);
	}
	a[0] = a[1] = d;
	b[0] = b[1] = m;
}

// Q8_0 (34 B): d | qs[32] int8; value = d·level, levels signed.
QFN void unpack_q8_0(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 34 * p;
	float d = q_f16(blk);
	for (int i = 0; i < 8; i++)
		v[i] = q_u32h(blk + 2 + 4 * i);
	a[0] = a[1] = d;
	b[0] = b[1] = 0.0f;
}

// Q2_K (84 B): scales[16] | qs[64] | d | dmin. Piece j = 4h + s of a
// super-block holds bits 2s..2s+1 of qs[32h .. 32h+32); half k of it uses
// scale byte 8h + 2s + k (low nibble scale, high nibble min).
QFN void unpack_q2_k(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 84 * (p >> 3);
	int j = p & 7, h = j >> 2, s = j & 3;
	float d = q_f16(blk + 80), dmin = q_f16(blk + 82);
	for (int i = 0; i < 8; i++)
		v[i] = (q_u32(blk + 16 + 32 * h + 4 * i) >> (2 * s)) & 0x03030303u;
	for (int k = 0; k < 2; k++) {
		uint32_t sc = blk[8 * h + 2 * s + k];
		a[k] = d * (float)(sc & 15u);
		b[k] = -dmin * (float)(sc >> 4);
	}
}

// q_scale6 unpacks six-bit scale j (0..15) of Q3_K.
QFN int q_scale6(const uint8_t *sc, int j) {
	int lo = (sc[j & 7] >> (4 * (j >> 3))) & 15;
	int hi = (sc[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
	return lo | (hi << 4);
}

// Q3_K (110 B): hmask[32] | qs[64] | scales[12] | d. Piece j = 4h + s: low
// bits 2s..2s+1 of qs[32h + l], high bit 4h+s of hmask[l]; level = low +
// 4·high = value/scale + 4, so b = −4a.
QFN void unpack_q3_k(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 110 * (p >> 3);
	int j = p & 7, h = j >> 2, s = j & 3;
	float d = q_f16(blk + 108);
	for (int i = 0; i < 8; i++) {
		uint32_t lo = (q_u32h(blk + 32 + 32 * h + 4 * i) >> (2 * s)) & 0x03030303u;
		uint32_t hi = (q_u32h(blk + 4 * i) >> (4 * h + s)) & 0x01010101u;
		v[i] = lo | (hi << 2);
	}
	for (int k = 0; k < 2; k++) {
		a[k] = d * (float)(q_scale6(blk + 96, 8 * h + 2 * s + k) - 32);
		b[k] = -4.0f * a[k];
	}
}

// q_scale_min_k4 unpacks scale and min j (0..7) of Q4_K/Q5_K.
QFN void q_scale_min_k4(const uint8_t *s, int j, float *sc, float *m) {
	if (j < 4) {
		*sc = (float)(s[j] & 63);
		*m = (float)(s[j + 4] & 63);
	} else {
		*sc = (float)((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
		*m = (float)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
	}
}

// Q4_K (144 B): d | dmin | scales[12] | qs[128]. Piece j = 2c + n is nibble
// n of qs[32c .. 32c+32), with scale and min j; value = d·sc·level − dmin·m.
QFN void unpack_q4_k(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 144 * (p >> 3);
	int j = p & 7, c = j >> 1, n = j & 1;
	float sc, m;
	uint32_t w[8];
	q_load8(blk + 16 + 32 * c, w); // 144-byte blocks keep 16-byte alignment
	for (int i = 0; i < 8; i++)
		v[i] = (w[i] >> (4 * n)) & 0x0F0F0F0Fu;
	q_scale_min_k4(blk + 4, j, &sc, &m);
	a[0] = a[1] = q_f16(blk) * sc;
	b[0] = b[1] = -q_f16(blk + 2) * m;
}

// q_f16v converts the F16 bit pattern in the low 16 bits of h.
#if defined(__CUDACC__)
QFN float q_f16v(uint32_t h) { return __half2float(__ushort_as_half((unsigned short)(h & 0xFFFFu))); }
#else
QFN float q_f16v(uint32_t h) {
	uint8_t b[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
	return q_f16(b);
}
#endif

// q4k_scale_min gives scale and min j (0..7) of a Q4_K/Q5_K super-block
// from the header words y, z, w (scale bytes 0-3, 4-7, 8-11), as
// q_scale_min_k4 does from bytes, without indexing registers.
QFN void q4k_scale_min(uint32_t y, uint32_t z, uint32_t w, int j, float *sc, float *m) {
	int sh = 8 * (j & 3);
	uint32_t a = (y >> sh) & 0xFFu, b = (z >> sh) & 0xFFu, c = (w >> sh) & 0xFFu;
	if (j < 4) {
		*sc = (float)(a & 63u);
		*m = (float)(b & 63u);
	} else {
		*sc = (float)((c & 15u) | ((a >> 6) << 4));
		*m = (float)((c >> 4) | ((b >> 6) << 4));
	}
}

// q4k_chunk is the Q4_K GEMV's unit (matmul_q4k.cu): chunk u = 2c + h of
// a super-block, the 16 qs bytes q[4] at offset 16 + 16u, whose low
// nibbles are elements 16h..16h+15 of piece 2c and high nibbles the same
// elements of piece 2c+1. hdr[4] is the block's first 16 bytes (d, dmin,
// scales). xl and xh are those 16 activations of each piece as int8,
// with scales dl, dh and half sums sl, sh (d·Σq over half h of each
// piece). Returns the chunk's part of the row's dot product.
QFN float q4k_chunk(const uint32_t *hdr, const uint32_t *q, int u, const int32_t *xl,
		    const int32_t *xh, float dl, float sl, float dh, float sh) {
	int c = (u >> 1) & 3, il = 0, ih = 0;
	for (int i = 0; i < 4; i++) {
		il = Q_DP4A(q[i] & 0x0F0F0F0Fu, xl[i], il);
		ih = Q_DP4A((q[i] >> 4) & 0x0F0F0F0Fu, xh[i], ih);
	}
	float s0, m0, s1, m1;
	q4k_scale_min(hdr[1], hdr[2], hdr[3], 2 * c, &s0, &m0);
	q4k_scale_min(hdr[1], hdr[2], hdr[3], 2 * c + 1, &s1, &m1);
	float d = q_f16v(hdr[0]), dmin = q_f16v(hdr[0] >> 16);
	return dl * (d * s0) * (float)il + dh * (d * s1) * (float)ih - dmin * (m0 * sl + m1 * sh);
}

// Q5_K (176 B): d | dmin | scales[12] | qh[32] | qs[128]. As Q4_K, with bit
// 4 of element l of piece j in bit j of qh[l].
QFN void unpack_q5_k(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 176 * (p >> 3);
	int j = p & 7, c = j >> 1, n = j & 1;
	float sc, m;
	uint32_t w[8], h[8];
	q_load8(blk + 48 + 32 * c, w); // 176-byte blocks keep 16-byte alignment
	q_load8(blk + 16, h);
	for (int i = 0; i < 8; i++)
		v[i] = ((w[i] >> (4 * n)) & 0x0F0F0F0Fu) | (((h[i] >> j) & 0x01010101u) << 4);
	q_scale_min_k4(blk + 4, j, &sc, &m);
	a[0] = a[1] = q_f16(blk) * sc;
	b[0] = b[1] = -q_f16(blk + 2) * m;
}

// q6k_unit is the Q6_K GEMV's unit (matmul_q6k.cu): unit (h, e) of a
// super-block is elements 16e..16e+15 of each of its pieces 4h+s, s =
// 0..3. ql0 and ql1 are the 16 ql bytes at 64h + 16e and 64h + 32 + 16e
// (low nibbles for pieces s = 0, 1; high for s = 2, 3), qh the 16 qh
// bytes at 128 + 32h + 16e (bits 2s..2s+1 for piece s), sc[s] the int8
// scale of half e of piece s, d the block scale. x[s] holds the 16 int8
// activations of piece s's part, with scale dx[s] and half sum hs[s]
// (d·Σq over half e). Returns the unit's part of the row's dot product.
QFN float q6k_unit(const uint32_t *ql0, const uint32_t *ql1, const uint32_t *qh, const int *sc,
		   float d, const int32_t (*x)[4], const float *dx, const float *hs) {
	float acc = 0.0f;
	for (int s = 0; s < 4; s++) {
		const uint32_t *ql = (s & 1) ? ql1 : ql0;
		int sum = 0;
		for (int i = 0; i < 4; i++) {
			uint32_t lo = (ql[i] >> (4 * (s >> 1))) & 0x0F0F0F0Fu;
			uint32_t hi = (qh[i] >> (2 * s)) & 0x03030303u;
			sum = Q_DP4A(lo | (hi << 4), x[s][i], sum);
		}
		float a = d * (float)sc[s];
		acc += dx[s] * a * (float)sum - 32.0f * a * hs[s];
	}
	return acc;
}

// Q6_K (210 B): ql[128] | qh[64] | scales[16] int8 | d. Piece j = 4h + s:
// low nibble (s < 2) or high nibble (s ≥ 2) of ql[64h + 32(s%2) + l], bits
// 2s..2s+1 of qh[32h + l]; level = value/scale + 32, so b = −32a.
QFN void unpack_q6_k(const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	const uint8_t *blk = row + 210 * (p >> 3);
	int j = p & 7, h = j >> 2, s = j & 3;
	float d = q_f16(blk + 208);
	for (int i = 0; i < 8; i++) {
		uint32_t lo = (q_u32h(blk + 64 * h + 32 * (s & 1) + 4 * i) >> (4 * (s >> 1))) & 0x0F0F0F0Fu;
		uint32_t hi = (q_u32h(blk + 128 + 32 * h + 4 * i) >> (2 * s)) & 0x03030303u;
		v[i] = lo | (hi << 4);
	}
	for (int k = 0; k < 2; k++) {
		a[k] = d * (float)(int8_t)blk[192 + 8 * h + 2 * s + k];
		b[k] = -32.0f * a[k];
	}
}

// Type ids: ggml's, as kernels.DType.
enum {
	QT_F32 = 0, QT_F16 = 1, QT_Q4_0 = 2, QT_Q4_1 = 3, QT_Q5_0 = 6, QT_Q5_1 = 7, QT_Q8_0 = 8,
	QT_Q2_K = 10, QT_Q3_K = 11, QT_Q4_K = 12, QT_Q5_K = 13, QT_Q6_K = 14, QT_BF16 = 30
};

// q_unpack dispatches on a block type at run time; it returns 0 for a type
// that is not block-quantized.
QFN int q_unpack(int dt, const uint8_t *row, int p, uint32_t *v, float *a, float *b) {
	switch (dt) {
	case QT_Q4_0: unpack_q4_0(row, p, v, a, b); return 1;
	case QT_Q4_1: unpack_q4_1(row, p, v, a, b); return 1;
	case QT_Q5_0: unpack_q5_0(row, p, v, a, b); return 1;
	case QT_Q5_1: unpack_q5_1(row, p, v, a, b); return 1;
	case QT_Q8_0: unpack_q8_0(row, p, v, a, b); return 1;
	case QT_Q2_K: unpack_q2_k(row, p, v, a, b); return 1;
	case QT_Q3_K: unpack_q3_k(row, p, v, a, b); return 1;
	case QT_Q4_K: unpack_q4_k(row, p, v, a, b); return 1;
	case QT_Q5_K: unpack_q5_k(row, p, v, a, b); return 1;
	case QT_Q6_K: unpack_q6_k(row, p, v, a, b); return 1;
	}
	return 0;
}

// q_level is byte j (0..31) of an unpacked piece as a number.
QFN float q_level(const uint32_t *v, int j, int is_signed) {
	uint32_t byte = (v[j >> 2] >> (8 * (j & 3))) & 0xFFu;
	return is_signed ? (float)(int8_t)byte : (float)byte;
}

// q_deq32 decodes piece p of a row of block type dt into y[32].
QFN void q_deq32(int dt, const uint8_t *row, int p, float *y) {
	uint32_t v[8];
	float a[2], b[2];
	q_unpack(dt, row, p, v, a, b);
	for (int j = 0; j < 32; j++)
		y[j] = a[j >> 4] * q_level(v, j, dt == QT_Q8_0) + b[j >> 4];
}

// q_dot32 is the 8-bit dot product of piece p of a row with 32 activations
// quantized as qx (8 words of int8) with scale dx and half sums
// s0 = dx·Σ₀qx, s1 = dx·Σ₁qx.
QFN float q_dot32(const uint32_t *v, const float *a, const float *b, const int32_t *qx, float dx,
		  float s0, float s1) {
	int d0 = 0, d1 = 0;
	for (int i = 0; i < 4; i++) {
		d0 = Q_DP4A(v[i], qx[i], d0);
		d1 = Q_DP4A(v[4 + i], qx[4 + i], d1);
	}
	return dx * (a[0] * (float)d0 + a[1] * (float)d1) + b[0] * s0 + b[1] * s1;
}

#endif

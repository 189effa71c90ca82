// Scalar half and bfloat16 conversions, bit-exact with kernels/quant (and
// with x86 F16C): round to nearest even, subnormals kept, NaN stays NaN.
#ifndef SW_FP_H
#define SW_FP_H

#include <stdint.h>
#include <string.h>

static inline uint32_t sw_f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float sw_u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float sw_h2f(uint16_t h) {
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
	if (e == 0x1f) return sw_u2f(sign | 0x7f800000 | (m << 13));
	if (e != 0) return sw_u2f(sign | ((e + 112) << 23) | (m << 13));
	if (m == 0) return sw_u2f(sign);
	// Subnormal half: normalise the mantissa into a float exponent.
	e = 113;
	while (!(m & 0x400)) { m <<= 1; e--; }
	return sw_u2f(sign | (e << 23) | ((m & 0x3ff) << 13));
}

// Round q up when the dropped bits rem (of shift bits) are above half, or
// exactly half with q odd.
static inline uint32_t sw_rne(uint32_t q, uint32_t rem, uint32_t shift) {
	uint32_t half = 1u << (shift - 1);
	return q + (rem > half || (rem == half && (q & 1)));
}

static inline uint16_t sw_f2h(float f) {
	uint32_t u = sw_f2u(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
	uint32_t a = u & 0x7fffffff;
	if (a > 0x7f800000) return sign | 0x7e00 | ((a >> 13) & 0x3ff);
	if (a >= 0x477ff000) return sign | 0x7c00;
	if (a >= 0x38800000) return sign | (uint16_t)sw_rne((a >> 13) - (112u << 10), a & 0x1fff, 13);
	uint32_t e = a >> 23;
	if (e < 102) return sign;
	uint32_t m = (a & 0x7fffff) | 0x800000, sh = 126 - e;
	return sign | (uint16_t)sw_rne(m >> sh, m & ((1u << sh) - 1), sh);
}

static inline float sw_b2f(uint16_t h) { return sw_u2f((uint32_t)h << 16); }

static inline uint16_t sw_f2b(float f) {
	uint32_t u = sw_f2u(f);
	if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);
	return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static inline uint16_t sw_ld16(const void *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline float sw_ldh(const void *p) { return sw_h2f(sw_ld16(p)); }

#endif

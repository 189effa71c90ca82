// Emulator stand-in for CUDA's cuda_bf16.h.
#pragma once
#include "../emu.h"

struct __nv_bfloat16 {
	uint16_t x;
};
static inline float __bfloat162float(__nv_bfloat16 b) { return __uint_as_float((uint32_t)b.x << 16); }
static inline __nv_bfloat16 __float2bfloat16_rn(float v) {
	uint32_t u = emu_bits(v);
	if ((u & 0x7fffffffu) > 0x7f800000u) // NaN: keep it a quiet NaN
		return __nv_bfloat16{(uint16_t)((u >> 16) | 0x40)};
	u += 0x7fffu + ((u >> 16) & 1); // round to nearest even
	return __nv_bfloat16{(uint16_t)(u >> 16)};
}

// Emulator stand-in for CUDA's cuda_fp16.h: __half as GCC's _Float16,
// whose conversions round to nearest even as the device's _rn ones do.
#pragma once
#include "../emu.h"

struct __half {
	uint16_t x;
};
struct __half2 {
	__half a, b; // a at the lower address, as on the device
};
static inline float __half2float(__half h) {
	_Float16 f;
	memcpy(&f, &h.x, 2);
	return (float)f;
}
static inline __half __float2half_rn(float v) {
	_Float16 f = (_Float16)v;
	__half h;
	memcpy(&h.x, &f, 2);
	return h;
}
static inline __half __ushort_as_half(unsigned short u) { return __half{u}; }
static inline float2 __half22float2(__half2 h) { return {__half2float(h.a), __half2float(h.b)}; }

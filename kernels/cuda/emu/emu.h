// emu.h: what the kernels of kernels/cuda need from CUDA C++, for g++ on
// the host: the emulator (emu.cpp) runs each CUDA thread of a block as a
// fiber, so barriers and warp shuffles are points where a fiber yields
// until its block or warp has arrived. Only the subset the kernels use is
// here; it models their semantics (values, rounding, synchronisation), not
// the hardware's speed. Included first into the one translation unit that
// holds kernels.cu (table.cpp).
#ifndef SPILLWAY_EMU_H
#define SPILLWAY_EMU_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>

#define __CUDACC__ 1 // quant.cuh takes its device branch
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static // blocks run one at a time: one copy serves each in turn
#define __align__(n) __attribute__((aligned(n)))

struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };
struct uint2 { uint32_t x, y; };
struct uint4 { uint32_t x, y, z, w; };
struct int4 { int32_t x, y, z, w; };
struct float4 { float x, y, z, w; };
struct float2 { float x, y; };
static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
static inline float2 make_float2(float x, float y) { return {x, y}; }
static inline uint2 make_uint2(uint32_t x, uint32_t y) { return {x, y}; }
static inline uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return {x, y, z, w}; }

// The running fiber's coordinates (emu.cpp).
struct emu_thread {
	uint3 tid, bid;
	dim3 bdim, gdim;
};
extern thread_local emu_thread *emu_cur;
#define threadIdx (emu_cur->tid)
#define blockIdx (emu_cur->bid)
#define blockDim (emu_cur->bdim)
#define gridDim (emu_cur->gdim)

void emu_syncthreads();
// emu_warp_exchange publishes v for the calling lane and returns the
// values of all 32 lanes of its warp once every live lane has published.
void emu_warp_exchange(uint32_t v, uint32_t *all);
void *emu_dynamic_smem();

static inline void __syncthreads() { emu_syncthreads(); }
#define DYNAMIC_SMEM(type, name) type *name = (type *)emu_dynamic_smem()

template <typename T> static inline uint32_t emu_bits(T v) {
	uint32_t u;
	memcpy(&u, &v, 4);
	return u;
}
template <typename T> static inline T emu_from(uint32_t u) {
	T v;
	memcpy(&v, &u, 4);
	return v;
}
template <typename T> static inline T __shfl_sync(unsigned, T v, int src) {
	static_assert(sizeof(T) == 4, "4-byte shuffles only");
	uint32_t all[32];
	emu_warp_exchange(emu_bits(v), all);
	return emu_from<T>(all[src & 31]);
}
template <typename T> static inline T __shfl_xor_sync(unsigned, T v, int mask) {
	static_assert(sizeof(T) == 4, "4-byte shuffles only");
	uint32_t all[32];
	emu_warp_exchange(emu_bits(v), all);
	return emu_from<T>(all[(threadIdx.x & 31) ^ mask]);
}

template <typename T> static inline T __ldg(const T *p) { return *p; }
template <typename T> static inline T __ldcg(const T *p) { return *p; }
// Blocks run one at a time and a block's fibers switch only at barriers
// and shuffles, so an atomic is a plain read-modify-write and a fence has
// nothing to order.
static inline int atomicAdd(int *p, int v) {
	int old = *p;
	*p = old + v;
	return old;
}
static inline void __threadfence() {}

using std::max;
using std::min;

static inline int __float2int_rn(float v) { return (int)nearbyintf(v); } // ties to even
static inline float __uint_as_float(uint32_t u) { return emu_from<float>(u); }
static inline float rsqrtf(float v) { return 1.0f / sqrtf(v); }
static inline int __dp4a(int a, int b, int c) {
	for (int j = 0; j < 4; j++)
		c += (int)(int8_t)(a >> (8 * j)) * (int)(int8_t)(b >> (8 * j));
	return c;
}
static inline uint32_t __funnelshift_r(uint32_t lo, uint32_t hi, unsigned sh) {
	sh &= 31;
	uint64_t v = ((uint64_t)hi << 32) | lo;
	return (uint32_t)(v >> sh);
}

#endif

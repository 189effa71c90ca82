// common.cuh: element access by run-time type, reductions, and the naming
// convention of the kernels. Every kernel is extern "C" (its name is what the
// Go side looks up with cuModuleGetFunction) and takes only pointers, 32-bit
// ints and floats, each in one launch-parameter slot.
#ifndef SPILLWAY_COMMON_CUH
#define SPILLWAY_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "quant.cuh"

#define KERNEL extern "C" __global__

// ld reads element i of a float tensor of type dt (F32, F16 or BF16).
static __device__ __forceinline__ float ld(const void *p, int dt, long long i) {
	if (dt == QT_F32)
		return ((const float *)p)[i];
	if (dt == QT_F16)
		return __half2float(((const __half *)p)[i]);
	return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

// st stores v as element i of a float tensor of type dt, rounding to
// nearest even as the reference does.
static __device__ __forceinline__ void st(void *p, int dt, long long i, float v) {
	if (dt == QT_F32)
		((float *)p)[i] = v;
	else if (dt == QT_F16)
		((__half *)p)[i] = __float2half_rn(v);
	else
		((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

// esize is the byte size of one element of a float type.
static __device__ __forceinline__ int esize(int dt) { return dt == QT_F32 ? 4 : 2; }

static __device__ __forceinline__ float warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

static __device__ __forceinline__ float warp_max(float v) {
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

// block_sum adds v over the block (blockDim.x a multiple of 32, ≤ 1024);
// every thread gets the total. red holds 32 floats of shared memory.
static __device__ __forceinline__ float block_sum(float v, float *red) {
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads(); // red may still be read by a previous call
	if (lane == 0)
		red[w] = v;
	__syncthreads();
	v = lane < nw ? red[lane] : 0.0f;
	return warp_sum(v);
}

// Byte size of a row of k elements of type dt (k a multiple of the block).
static __device__ __forceinline__ long long row_bytes(int dt, int k) {
	switch (dt) {
	case QT_F32: return 4LL * k;
	case QT_F16: case QT_BF16: return 2LL * k;
	case QT_Q4_0: return k / 32 * 18LL;
	case QT_Q4_1: return k / 32 * 20LL;
	case QT_Q5_0: return k / 32 * 22LL;
	case QT_Q5_1: return k / 32 * 24LL;
	case QT_Q8_0: return k / 32 * 34LL;
	case QT_Q2_K: return k / 256 * 84LL;
	case QT_Q3_K: return k / 256 * 110LL;
	case QT_Q4_K: return k / 256 * 144LL;
	case QT_Q5_K: return k / 256 * 176LL;
	case QT_Q6_K: return k / 256 * 210LL;
	}
	return 0;
}

#endif

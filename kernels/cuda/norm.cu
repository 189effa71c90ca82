// norm.cu: RMSNorm, one block per row, in float; optionally fused with the
// residual add before it and the 8-bit quantization of its output that the
// next MatMul reads.
#include "common.cuh"

// RMS_REG elements per thread stay in registers between the two passes: a
// row of up to RMS_REG·blockDim.x (8192 at 1024 threads) is read once, and
// each thread's loads are issued together rather than one per trip of a
// loop (a lone row of a decode step is latency-bound, not bandwidth-bound).
#define RMS_REG 8

// rms_in reads element j of row o: x, or x + r stored back into x (rounded
// to x's type, and read back as such) when r is set.
static __device__ __forceinline__ float rms_in(void *x, int xdt, const void *r, int rdt,
					       long long i) {
	float v = ld(x, xdt, i);
	if (r == nullptr)
		return v;
	v = rt(xdt, v + ld(r, rdt, i));
	st(x, xdt, i, v);
	return v;
}

// rms_out stores element i = o + j of the output and, when qx is set,
// quantizes it (as rounded to odt) into 8-bit block i/32. The caller's
// index pattern puts 32 consecutive elements in the lanes of a warp.
static __device__ __forceinline__ void rms_out(void *out, int odt, long long i, float y,
					       int8_t *qx, float4 *ds) {
	st(out, odt, i, y);
	if (qx != nullptr)
		q8_group(qx, ds, i >> 5, rt(odt, y));
}

// out (T, d) = x' / sqrt(mean(x'²) + eps) · w (1, d), where x' = x, or,
// when r is set, x' = x + r (T, d), which is also stored back into x. Bit
// for bit the same as Add(x, x, r) then RMSNorm(out, x, w). out may alias
// x when r is null: each thread rewrites only elements it read. qx, ds:
// null, or the 8-bit form of out (see q8_group), which needs d % 32 == 0
// and blockDim.x % 32 == 0 so that every group lies in one warp.
KERNEL void sw_rmsnorm(void *out, int odt, void *x, int xdt, const void *r, int rdt, const void *w,
		       int wdt, int d, float eps, int8_t *qx, float4 *ds) {
	pdl_prefetch_l2(w, (long long)d * esize(wdt)); // read after the reduction
	pdl_enter();
	__shared__ float red[32];
	long long o = (long long)blockIdx.x * d;
	int bd = blockDim.x;
	float v[RMS_REG];
	float ss = 0.0f;
#pragma unroll
	for (int i = 0; i < RMS_REG; i++) {
		int j = threadIdx.x + i * bd;
		v[i] = j < d ? rms_in(x, xdt, r, rdt, o + j) : 0.0f;
		ss += v[i] * v[i];
	}
	for (int j = threadIdx.x + RMS_REG * bd; j < d; j += bd) {
		float t = rms_in(x, xdt, r, rdt, o + j);
		ss += t * t;
	}
	ss = block_sum(ss, red);
	float inv = rsqrtf(ss / (float)d + eps);
#pragma unroll
	for (int i = 0; i < RMS_REG; i++) {
		int j = threadIdx.x + i * bd;
		if (j < d)
			rms_out(out, odt, o + j, v[i] * inv * ld(w, wdt, j), qx, ds);
	}
	for (int j = threadIdx.x + RMS_REG * bd; j < d; j += bd)
		rms_out(out, odt, o + j, ld(x, xdt, o + j) * inv * ld(w, wdt, j), qx, ds);
}

// norm.cu: RMSNorm, one block per row, in float.
#include "common.cuh"

// RMS_REG elements per thread stay in registers between the two passes: a
// row of up to RMS_REG·blockDim.x (8192 at 1024 threads) is read once, and
// each thread's loads are issued together rather than one per trip of a
// loop (a lone row of a decode step is latency-bound, not bandwidth-bound).
#define RMS_REG 8

// out (T, d) = x (T, d) / sqrt(mean(x²) + eps) · w (1, d). out may alias x:
// each thread rewrites only elements it read.
KERNEL void sw_rmsnorm(void *out, int odt, const void *x, int xdt, const void *w, int wdt, int d,
		       float eps) {
	__shared__ float red[32];
	long long o = (long long)blockIdx.x * d;
	int bd = blockDim.x;
	float v[RMS_REG];
	float ss = 0.0f;
#pragma unroll
	for (int i = 0; i < RMS_REG; i++) {
		int j = threadIdx.x + i * bd;
		v[i] = j < d ? ld(x, xdt, o + j) : 0.0f;
		ss += v[i] * v[i];
	}
	for (int j = threadIdx.x + RMS_REG * bd; j < d; j += bd) {
		float t = ld(x, xdt, o + j);
		ss += t * t;
	}
	ss = block_sum(ss, red);
	float inv = rsqrtf(ss / (float)d + eps);
#pragma unroll
	for (int i = 0; i < RMS_REG; i++) {
		int j = threadIdx.x + i * bd;
		if (j < d)
			st(out, odt, o + j, v[i] * inv * ld(w, wdt, j));
	}
	for (int j = threadIdx.x + RMS_REG * bd; j < d; j += bd)
		st(out, odt, o + j, ld(x, xdt, o + j) * inv * ld(w, wdt, j));
}

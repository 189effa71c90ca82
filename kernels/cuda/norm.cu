// norm.cu: RMSNorm, one block per row, in float.
#include "common.cuh"

// out (T, d) = x (T, d) / sqrt(mean(x²) + eps) · w (1, d). out may alias x:
// each thread rewrites only elements it read.
KERNEL void sw_rmsnorm(void *out, int odt, const void *x, int xdt, const void *w, int wdt, int d,
		       float eps) {
	__shared__ float red[32];
	long long o = (long long)blockIdx.x * d;
	float ss = 0.0f;
	for (int j = threadIdx.x; j < d; j += blockDim.x) {
		float v = ld(x, xdt, o + j);
		ss += v * v;
	}
	ss = block_sum(ss, red);
	float inv = rsqrtf(ss / (float)d + eps);
	for (int j = threadIdx.x; j < d; j += blockDim.x)
		st(out, odt, o + j, ld(x, xdt, o + j) * inv * ld(w, wdt, j));
}

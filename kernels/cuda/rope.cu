// rope.cu: rotary position embedding, in place.
#include "common.cuh"

// x (T, cols) holds cols/hd heads per row; pair i (< nd/2) of every head of
// row t turns by theta = pos[t]·invf[i]. invf (nd/2,) = FreqScale ·
// Base^(−2i/nd) / FreqFactors[i], computed on the host in float64, so the
// angle takes one float rounding. neox pairs (i, i+nd/2), else (2i, 2i+1).
KERNEL void sw_rope(void *x, int xdt, const int *pos, const float *invf, int T, int cols, int hd,
		    int nd, int neox) {
	int half = nd / 2, heads = cols / hd;
	long long n = (long long)T * heads * half;
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
	     i += (long long)gridDim.x * blockDim.x) {
		int pr = (int)(i % half);
		long long th = i / half; // t·heads + head
		int t = (int)(th / heads);
		long long base = th * hd; // = t·cols + head·hd
		long long i0 = base + (neox ? pr : 2 * pr), i1 = neox ? i0 + half : i0 + 1;
		float s, c;
		sincosf((float)pos[t] * invf[pr], &s, &c);
		float x0 = ld(x, xdt, i0), x1 = ld(x, xdt, i1);
		st(x, xdt, i0, x0 * c - x1 * s);
		st(x, xdt, i1, x0 * s + x1 * c);
	}
}

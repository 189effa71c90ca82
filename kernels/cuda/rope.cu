// rope.cu: rotary position embedding, in place.
#include "common.cuh"

// rope_pair rotates pair pr of row-head th of x (heads of hd) by
// pos[t]·invf[pr], stores both elements and returns them as stored
// (rounded to xdt) with their indices.
static __device__ __forceinline__ void rope_pair(void *x, int xdt, const int *pos,
						 const float *invf, long long th, int heads, int pr,
						 int hd, int half, int neox, long long *i0,
						 long long *i1, float *y0, float *y1) {
	int t = (int)(th / heads);
	long long base = th * hd;
	*i0 = base + (neox ? pr : 2 * pr);
	*i1 = neox ? *i0 + half : *i0 + 1;
	float s, c;
	sincosf((float)pos[t] * invf[pr], &s, &c);
	float x0 = ld(x, xdt, *i0), x1 = ld(x, xdt, *i1);
	*y0 = x0 * c - x1 * s;
	*y1 = x0 * s + x1 * c;
	st(x, xdt, *i0, *y0);
	st(x, xdt, *i1, *y1);
	*y0 = rt(xdt, *y0);
	*y1 = rt(xdt, *y1);
}

// x (T, cols) holds cols/hd heads per row; pair i (< nd/2) of every head of
// row t turns by theta = pos[t]·invf[i]. invf (nd/2,) = FreqScale ·
// Base^(−2i/nd) / FreqFactors[i], computed on the host in float64, so the
// angle takes one float rounding. neox pairs (i, i+nd/2), else (2i, 2i+1).
KERNEL void sw_rope(void *x, int xdt, const int *pos, const float *invf, int T, int cols, int hd,
		    int nd, int neox) {
	pdl_enter();
	int half = nd / 2, heads = cols / hd;
	long long n = (long long)T * heads * half;
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
	     i += (long long)gridDim.x * blockDim.x) {
		long long i0, i1;
		float y0, y1;
		rope_pair(x, xdt, pos, invf, i / half, heads, (int)(i % half), hd, half, neox, &i0, &i1,
			  &y0, &y1);
	}
}

// RoPE of q (T, qcols) and k (T, kcols) in place, then k and v into cache
// rows slots[t] of kc, vc: bit for bit sw_rope on q, on k, then
// sw_store_kv, in one launch. Index ranges: q's pairs, then k's pairs
// (rotated and stored), then every element (t, c) of v, with k's element
// too where c is a dimension past nd of its head, which no pair touches.
KERNEL void sw_rope_kv(void *q, void *k, const void *v, int xdt, const int *pos, const float *invf,
		       int T, int qcols, int kcols, int hd, int nd, int neox, void *kc, void *vc,
		       int cdt, const int *slots) {
	pdl_enter();
	int half = nd / 2, qh = qcols / hd, kh = kcols / hd;
	long long nq = (long long)T * qh * half, nk = (long long)T * kh * half;
	long long n = nq + nk + (long long)T * kcols;
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
	     i += (long long)gridDim.x * blockDim.x) {
		long long i0, i1;
		float y0, y1;
		if (i < nq) {
			rope_pair(q, xdt, pos, invf, i / half, qh, (int)(i % half), hd, half, neox, &i0,
				  &i1, &y0, &y1);
		} else if (i < nq + nk) {
			long long j = i - nq, th = j / half;
			rope_pair(k, xdt, pos, invf, th, kh, (int)(j % half), hd, half, neox, &i0, &i1,
				  &y0, &y1);
			long long t = th / kh, row = (long long)slots[t] * kcols - t * kcols;
			st(kc, cdt, row + i0, y0);
			st(kc, cdt, row + i1, y1);
		} else {
			long long j = i - nq - nk, t = j / kcols, c = j - t * kcols;
			long long dst = (long long)slots[t] * kcols + c;
			st(vc, cdt, dst, ld(v, xdt, j));
			if (c % hd >= nd)
				st(kc, cdt, dst, ld(k, xdt, j));
		}
	}
}

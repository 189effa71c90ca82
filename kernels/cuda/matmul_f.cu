// matmul_f.cu: decode-sized products with float weights (F32, F16, BF16).
//   W (n, k) @ x (T, k)ᵀ -> out (T, n), T ≤ NT ≤ 8
// Up to three matrices of one type per launch (gseg); W warps per weight
// row (see gemv_row); each lane reads 16-byte chunks of
// the row (8 elements) when rows and pointers allow, else single elements. x is read
// through the cache in its own type; products and sums are FP32.
#include "common.cuh"

// load8 reads elements [i, i+8) of a float tensor, i a multiple of 8 and
// the address 16-byte aligned.
static __device__ __forceinline__ void load8(const void *p, int dt, long long i, float *f) {
	if (dt == QT_F32) {
		const float4 *q = (const float4 *)((const float *)p + i);
		float4 a = __ldg(q), b = __ldg(q + 1);
		f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w;
		f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
		return;
	}
	load8_16(p, dt, i, f);
}

template <int WDT, int NT>
static __device__ __forceinline__ void gemv_f(gseg g, int odt, const void *x, int xdt, int k,
					      int T) {
	void *out = g.out;
	const void *w = g.w;
	int n = g.n, W = g.W;
	int lane = threadIdx.x & 31, row, wi;
	gemv_row(W, g.blk, &row, &wi);
	long long wo = (long long)row * k;
	float acc[NT];
#pragma unroll
	for (int t = 0; t < NT; t++)
		acc[t] = 0.0f;
	bool vec = k % 8 == 0 && (((uintptr_t)w | (uintptr_t)x) & 15) == 0;
	if (row >= n) {
	} else if (vec) {
#pragma unroll 4
		for (int c = 32 * wi + lane; c < k / 8; c += 32 * W) {
			float wf[8], xf[8];
			load8(w, WDT, wo + 8 * c, wf);
#pragma unroll
			for (int t = 0; t < NT; t++) {
				if (t < T) {
					load8(x, xdt, (long long)t * k + 8 * c, xf);
#pragma unroll
					for (int j = 0; j < 8; j++)
						acc[t] = fmaf(wf[j], xf[j], acc[t]);
				}
			}
		}
	} else {
		for (int j = 32 * wi + lane; j < k; j += 32 * W) {
			float wv = ld(w, WDT, wo + j);
#pragma unroll
			for (int t = 0; t < NT; t++)
				if (t < T)
					acc[t] = fmaf(wv, ld(x, xdt, (long long)t * k + j), acc[t]);
		}
	}
	gemv_store<NT>(out, odt, acc, row, n, T, W);
}

#define GEMV_F(name, DT, NT)                                                                       \
	KERNEL void sw_gemv_##name##_##NT(GEMV_GROUP_PARAMS, int odt, const void *x, int xdt,     \
					  int k, int T) {                                          \
		gemv_f<DT, NT>(gemv_seg(GEMV_GROUP_ARGS), odt, x, xdt, k, T);                       \
	}
#define GEMV_F_ALL(name, DT) GEMV_F(name, DT, 1) GEMV_F(name, DT, 2) GEMV_F(name, DT, 4) GEMV_F(name, DT, 8)

GEMV_F_ALL(f32, QT_F32)
GEMV_F_ALL(f16, QT_F16)
GEMV_F_ALL(bf16, QT_BF16)

// matmul_f.cu: decode-sized products with float weights (F32, F16, BF16).
//   W (n, k) @ x (T, k)ᵀ -> out (T, n), T ≤ NT ≤ 8
// Up to three matrices of one type per launch (gseg); W warps per weight
// row, R rows per warp; each lane reads 16-byte chunks of the row (8
// elements) when rows and pointers allow, else single elements. x is read
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

// R rows a warp: the lane loads each chunk of x once for all of them, and
// has R independent weight loads in flight. A row's sums run in the same
// order whatever R is.
template <int WDT, int NT, int R>
static __device__ __forceinline__ void gemv_f(gseg g, int odt, const void *x, int xdt, int k,
					      int T) {
	const void *w = g.w;
	int n = g.n, W = g.W;
	int lane = threadIdx.x & 31;
	float acc[R][NT];
	int row0, wi;
	gemv_rows<R, NT>(g, &row0, &wi, acc);
	long long wo[R]; // row offsets, clamped to a real row (its results are dropped)
#pragma unroll
	for (int r = 0; r < R; r++)
		wo[r] = (long long)max(0, min(row0 + r, n - 1)) * k;
	bool vec = k % 8 == 0 && (((uintptr_t)w | (uintptr_t)x) & 15) == 0;
	if (row0 >= n) {
	} else if (vec) {
#pragma unroll 4
		for (int c = 32 * wi + lane; c < k / 8; c += 32 * W) {
			float wf[R][8], xf[8];
#pragma unroll
			for (int r = 0; r < R; r++)
				load8(w, WDT, wo[r] + 8 * c, wf[r]);
#pragma unroll
			for (int t = 0; t < NT; t++) {
				if (t < T) {
					load8(x, xdt, (long long)t * k + 8 * c, xf);
#pragma unroll
					for (int r = 0; r < R; r++)
#pragma unroll
						for (int j = 0; j < 8; j++)
							acc[r][t] = fmaf(wf[r][j], xf[j], acc[r][t]);
				}
			}
		}
	} else {
		for (int j = 32 * wi + lane; j < k; j += 32 * W) {
			float wv[R];
#pragma unroll
			for (int r = 0; r < R; r++)
				wv[r] = ld(w, WDT, wo[r] + j);
#pragma unroll
			for (int t = 0; t < NT; t++)
				if (t < T) {
					float xv = ld(x, xdt, (long long)t * k + j);
#pragma unroll
					for (int r = 0; r < R; r++)
						acc[r][t] = fmaf(wv[r], xv, acc[r][t]);
				}
		}
	}
	gemv_store_rows<R, NT>(g.out, odt, acc, row0, n, n, T, W);
}

// sw_gemv_<type>_<NT> takes a row a warp, sw_gemv_<type>_r2_<NT> two.
#define GEMV_F(name, DT, NT)                                                                       \
	KERNEL void sw_gemv_##name##_##NT(GEMV_GROUP_PARAMS, int odt, const void *x, int xdt,     \
					  int k, int T) {                                          \
		pdl_enter();                                                                        \
		gemv_f<DT, NT, 1>(gemv_seg(GEMV_GROUP_ARGS), odt, x, xdt, k, T);                    \
	}                                                                                          \
	KERNEL void sw_gemv_##name##_r2_##NT(GEMV_GROUP_PARAMS, int odt, const void *x, int xdt,  \
					     int k, int T) {                                       \
		pdl_enter();                                                                        \
		gemv_f<DT, NT, 2>(gemv_seg(GEMV_GROUP_ARGS), odt, x, xdt, k, T);                    \
	}
#define GEMV_F_ALL(name, DT) GEMV_F(name, DT, 1) GEMV_F(name, DT, 2) GEMV_F(name, DT, 4) GEMV_F(name, DT, 8)

GEMV_F_ALL(f32, QT_F32)
GEMV_F_ALL(f16, QT_F16)
GEMV_F_ALL(bf16, QT_BF16)

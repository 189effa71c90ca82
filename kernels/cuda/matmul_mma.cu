// matmul_mma.cu: prefill-sized products on tensor cores (WMMA).
//   W (n, k) @ x (T, k)ᵀ -> out (T, n)
// A block computes a 64×64 tile of out (64 tokens × 64 weight rows) with 4
// warps of 32×32. Each k-step of 64 decodes the weight tile (any type:
// block types through q_deq32, float types element-wise) and the x tile
// into shared memory in the MMA type MT (F16 or BF16), then multiplies
// with FP32 accumulators. The caller picks MT so that the only rounding is
// one the precision policy allows: x to the weights' half type for F16 and
// BF16 weights, dequantized weights to the activation type otherwise.
#include <mma.h>

#include "common.cuh"

using namespace nvcuda;

#define MM_BM 64 // tokens per tile
#define MM_BN 64 // weight rows per tile
#define MM_BK 64 // k per step
#define MM_LDS (MM_BK + 8) // shared row stride in elements: WMMA wants a multiple of 8
#define MM_LDC (MM_BN + 4) // float stride of the output tile

template <typename MT> static __device__ __forceinline__ MT to_mt(float v);
template <> __device__ __forceinline__ __half to_mt<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 to_mt<__nv_bfloat16>(float v) {
	return __float2bfloat16_rn(v);
}

// fill_tiles decodes rows [t0, t0+64) of x and [n0, n0+64) of w at columns
// [k0, k0+64) into sa (64, LDS) and sb (64, LDS); out-of-range elements are 0.
// Thread i covers row i/2, columns 32·(i%2) .. +32 of both tiles.
template <typename MT>
static __device__ __forceinline__ void fill_tiles(MT *sa, MT *sb, const void *x, int xdt,
						  const uint8_t *w, int wdt, int T, int n, int k,
						  int t0, int n0, int k0) {
	int r = threadIdx.x >> 1, c0 = 32 * (threadIdx.x & 1), kk = k0 + c0;
	MT *a = sa + r * MM_LDS + c0, *b = sb + r * MM_LDS + c0;
	bool xin = t0 + r < T;
	for (int j = 0; j < 32; j++)
		a[j] = to_mt<MT>(xin && kk + j < k ? ld(x, xdt, (long long)(t0 + r) * k + kk + j) : 0.0f);
	bool win = n0 + r < n;
	const uint8_t *wr = w + (long long)(n0 + r) * row_bytes(wdt, k);
	if (wdt == QT_F32 || wdt == QT_F16 || wdt == QT_BF16) {
		for (int j = 0; j < 32; j++)
			b[j] = to_mt<MT>(win && kk + j < k ? ld(wr, wdt, kk + j) : 0.0f);
		return;
	}
	float y[32];
	if (win && kk < k) // k is a multiple of 32 for block types
		q_deq32(wdt, wr, kk >> 5, y);
	else
		for (int j = 0; j < 32; j++)
			y[j] = 0.0f;
	for (int j = 0; j < 32; j++)
		b[j] = to_mt<MT>(y[j]);
}

template <typename MT>
static __device__ __forceinline__ void gemm_mma(void *out, int odt, const void *x, int xdt,
						const uint8_t *w, int wdt, int T, int n, int k) {
	// The x and w tiles, and after the k loop the float output tile.
	__shared__ __align__(128) unsigned char smem[2 * MM_BM * MM_LDS * sizeof(MT)];
	MT *sa = (MT *)smem, *sb = sa + MM_BM * MM_LDS;
	float *sc = (float *)smem;
	int t0 = blockIdx.y * MM_BM, n0 = blockIdx.x * MM_BN;
	int warp = threadIdx.x >> 5, wm = warp >> 1, wn = warp & 1;
	wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			wmma::fill_fragment(acc[i][j], 0.0f);
	for (int k0 = 0; k0 < k; k0 += MM_BK) {
		fill_tiles<MT>(sa, sb, x, xdt, w, wdt, T, n, k, t0, n0, k0);
		__syncthreads();
		for (int kk = 0; kk < MM_BK; kk += 16) {
			wmma::fragment<wmma::matrix_a, 16, 16, 16, MT, wmma::row_major> fa[2];
			wmma::fragment<wmma::matrix_b, 16, 16, 16, MT, wmma::col_major> fb[2];
			for (int i = 0; i < 2; i++)
				wmma::load_matrix_sync(fa[i], sa + (wm * 32 + 16 * i) * MM_LDS + kk, MM_LDS);
			// w's tile (n, k) row-major is Wᵀ (k, n) column-major.
			for (int j = 0; j < 2; j++)
				wmma::load_matrix_sync(fb[j], sb + (wn * 32 + 16 * j) * MM_LDS + kk, MM_LDS);
			for (int i = 0; i < 2; i++)
				for (int j = 0; j < 2; j++)
					wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
		}
		__syncthreads();
	}
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			wmma::store_matrix_sync(sc + (wm * 32 + 16 * i) * MM_LDC + wn * 32 + 16 * j,
						acc[i][j], MM_LDC, wmma::mem_row_major);
	__syncthreads();
	for (int e = threadIdx.x; e < MM_BM * MM_BN; e += blockDim.x) {
		int r = e / MM_BN, c = e % MM_BN;
		if (t0 + r < T && n0 + c < n)
			st(out, odt, (long long)(t0 + r) * n + n0 + c, sc[r * MM_LDC + c]);
	}
}

// grid (ceil(n/64), ceil(T/64)), block 128.
KERNEL void sw_gemm_f16(void *out, int odt, const void *x, int xdt, const uint8_t *w, int wdt,
			int T, int n, int k) {
	pdl_enter();
	gemm_mma<__half>(out, odt, x, xdt, w, wdt, T, n, k);
}

KERNEL void sw_gemm_bf16(void *out, int odt, const void *x, int xdt, const uint8_t *w, int wdt,
			 int T, int n, int k) {
	pdl_enter();
	gemm_mma<__nv_bfloat16>(out, odt, x, xdt, w, wdt, T, n, k);
}

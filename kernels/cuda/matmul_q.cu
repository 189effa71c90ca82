// matmul_q.cu: decode-sized products with block-quantized weights.
//   W (n, k) @ x (T, k)ᵀ -> out (T, n), T ≤ NT ≤ 8
// for up to three matrices W of one type and one x per launch (gseg).
// x arrives quantized by sw_quant_q8 (qx int8 (T, k), ds float4 (T, k/32)).
// W warps per weight row (gemv_rows): lane l of warp i decodes pieces
// 32i+l, 32i+l+32W, ... of the row once and takes the dp4a dot product with
// every token's 32 activations, so the weights are read once for all T
// tokens; FP32 accumulation, one warp reduction per token, then one over
// the row's W warps (gemv_store_rows).
#include "common.cuh"

template <int DT, int NT>
static __device__ __forceinline__ void gemv_q(gseg g, int odt, const int8_t *qx,
					      const float4 *ds, int k, int T) {
	const uint8_t *w = (const uint8_t *)g.w;
	int n = g.n, W = g.W;
	int lane = threadIdx.x & 31, row, wi;
	float acc[1][NT];
	gemv_rows<1, NT>(g, &row, &wi, acc);
	int np = k >> 5;
	const uint8_t *wr = w + (long long)row * row_bytes(DT, k);
	for (int p = 32 * wi + lane; row < n && p < np; p += 32 * W) {
		uint32_t v[8];
		float a[2], b[2];
		q_unpack(DT, wr, p, v, a, b);
#pragma unroll
		for (int t = 0; t < NT; t++) {
			if (t < T) {
				const int4 *xp = (const int4 *)(qx + (long long)t * k) + 2 * p;
				int4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
				int32_t xv[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
				float4 s = __ldg(ds + (long long)t * np + p);
				acc[0][t] += q_dot32(v, a, b, xv, s.x, s.y, s.z);
			}
		}
	}
	gemv_store_rows<1, NT>(g.out, odt, acc, row, n, n, T, W);
}

#define GEMV_Q(name, DT, NT)                                                                       \
	KERNEL void sw_gemv_##name##_##NT(GEMV_GROUP_PARAMS, int odt, const int8_t *qx,            \
					  const float4 *ds, int k, int T) {                        \
		pdl_enter();                                                                        \
		gemv_q<DT, NT>(gemv_seg(GEMV_GROUP_ARGS), odt, qx, ds, k, T);                       \
	}
#define GEMV_Q_ALL(name, DT) GEMV_Q(name, DT, 1) GEMV_Q(name, DT, 2) GEMV_Q(name, DT, 4) GEMV_Q(name, DT, 8)

GEMV_Q_ALL(q4_0, QT_Q4_0)
GEMV_Q_ALL(q4_1, QT_Q4_1)
GEMV_Q_ALL(q5_0, QT_Q5_0)
GEMV_Q_ALL(q5_1, QT_Q5_1)
GEMV_Q_ALL(q8_0, QT_Q8_0)
GEMV_Q_ALL(q2_k, QT_Q2_K)
GEMV_Q_ALL(q3_k, QT_Q3_K)
GEMV_Q_ALL(q4_k, QT_Q4_K)
GEMV_Q_ALL(q5_k, QT_Q5_K)
GEMV_Q_ALL(q6_k, QT_Q6_K)

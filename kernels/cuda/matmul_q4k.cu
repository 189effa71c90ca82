// matmul_q4k.cu: the decode GEMV for Q4_K weights, laid out for the
// format rather than through the generic piece decoder of matmul_q.cu.
//   W (n, k) @ x (T, k)ᵀ -> out (T, n), T ≤ NT ≤ 8, up to three W per launch
// x arrives quantized by sw_quant_q8 (or by the op that wrote it).
//
// A Q4_K super-block (144 B: d | dmin | scales[12] | qs[128]) is read as
// nine 16-byte words: the header (d, dmin and the twelve scale bytes) and
// eight "chunks" of qs. Chunk u = 2c + h holds, in its low nibbles,
// elements 16h..16h+15 of piece 2c and, in its high nibbles, the same
// elements of piece 2c+1. A lane takes one chunk of each of its warp's
// Q4K_R rows per trip: one 16-byte load per row, each weight byte read
// once (matmul_q.cu's lanes read a 32-byte qs run for one nibble each),
// plus the header, which the 8 lanes of a super-block share in one
// transaction. The activations of a chunk are loaded once for all Q4K_R
// rows. Lane l of warp wi of a row's W takes chunks 32wi + l, +32W, ...,
// the order of matmul_q.cu's pieces; sums are FP32 as there.
//
// sw_gemvs_q4k_<NT> runs the same rows' loop on copies of the rows that
// gemv_stream.cuh streams into shared memory, so its sums are the same.
#include "gemv_stream.cuh"

#define Q4K_R 2 // rows per warp

// q4k_rows adds, for each of Q4K_R rows (row[r] their first bytes, in
// global memory or, with SH, shared), this lane's chunks' products with
// the NT tokens of x to acc.
template <int NT, bool SH>
static __device__ __forceinline__ void q4k_rows(const uint8_t *const *row, int W, int wi,
						const int8_t *qx, const float4 *ds, int k, int T,
						float (*acc)[NT]) {
	int lane = threadIdx.x & 31;
	int np = k >> 5; // chunks per row, as many as pieces (q8 blocks)
	for (int u = 32 * wi + lane; u < np; u += 32 * W) {
		int sb = u >> 3, c = (u >> 1) & 3, h = u & 1;
		uint4 q[Q4K_R], hd[Q4K_R];
#pragma unroll
		for (int r = 0; r < Q4K_R; r++) {
			const uint8_t *blk = row[r] + 144LL * sb;
			hd[r] = ld16<SH>(blk);
			q[r] = ld16<SH>(blk + 16 + 16 * (u & 7));
		}
#pragma unroll
		for (int t = 0; t < NT; t++) {
			if (t >= T)
				break;
			const int4 *xp = (const int4 *)(qx + (long long)t * k + 256LL * sb + 64 * c + 16 * h);
			int4 xa = __ldg(xp), xb = __ldg(xp + 2); // pieces 2c and 2c+1
			const float4 *dp = ds + (long long)t * np + 8 * sb + 2 * c;
			float4 da = __ldg(dp), db = __ldg(dp + 1);
			float sa = h ? da.z : da.y, sbh = h ? db.z : db.y;
#pragma unroll
			for (int r = 0; r < Q4K_R; r++) {
				uint32_t v[4] = {q[r].x, q[r].y, q[r].z, q[r].w};
				uint32_t hw[4] = {hd[r].x, hd[r].y, hd[r].z, hd[r].w};
				int32_t xl[4] = {xa.x, xa.y, xa.z, xa.w}, xh[4] = {xb.x, xb.y, xb.z, xb.w};
				acc[r][t] += q4k_chunk(hw, v, u, xl, xh, da.x, sa, db.x, sbh);
			}
		}
	}
}

GEMV_OWN_KERNELS(q4k, q4k_rows, Q4K_R, QT_Q4_K)

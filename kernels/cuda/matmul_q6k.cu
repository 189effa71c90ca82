// matmul_q6k.cu: the decode GEMV for Q6_K weights.
//   W (n, k) @ x (T, k)ᵀ -> out (T, n), T ≤ NT ≤ 8, up to three W per launch
// x arrives quantized by sw_quant_q8 (or by the op that wrote it).
//
// A lane takes one unit (q6k_unit of quant.cuh: 16 positions of the four
// pieces of a half super-block, 64 weights from 48 bytes, none read twice)
// of each of its warp's Q6K_R rows per trip, and loads the unit's
// activations once for all of them. Super-blocks of 210 bytes sit at
// 2-byte-aligned offsets, so 16 bytes are read as the aligned words that
// cover them, funnel-shifted into place (matmul_q.cu's generic decoder reads Q6_K two
// bytes at a time). Lane l of warp wi of a row's W takes units 32wi + l,
// +32W, ...; sums are FP32.
//
// sw_gemvs_q6k_<NT> runs the same rows' loop on copies of the rows that
// gemv_stream.cuh streams into shared memory, where those 4-byte reads
// cost far less than in global memory.
#include "gemv_stream.cuh"

#define Q6K_R 2 // rows per warp

// ld_a2 reads N32 words from the 2-byte-aligned address p (in shared
// memory when SH): the aligned words that cover them, shifted into place
// (the extra word only when p is not 4-byte aligned, so nothing past
// p + 4·N32 is read).
template <int N32, bool SH>
static __device__ __forceinline__ void ld_a2(const uint8_t *p, uint32_t *o) {
	unsigned off = (unsigned)((uintptr_t)p & 3);
	const uint32_t *w = (const uint32_t *)(p - off); // from p, not an integer: it stays a shared address
	unsigned sh = 8u * off;
	uint32_t v[N32 + 1];
#pragma unroll
	for (int i = 0; i < N32; i++)
		v[i] = ld4<SH>(w + i);
	v[N32] = sh ? ld4<SH>(w + N32) : 0u;
#pragma unroll
	for (int i = 0; i < N32; i++)
		o[i] = __funnelshift_r(v[i], v[i + 1], sh);
}

// q6k_rows adds, for each of Q6K_R rows (row[r] their first bytes, in
// global memory or, with SH, shared), this lane's units' products with
// the NT tokens of x to acc.
template <int NT, bool SH>
static __device__ __forceinline__ void q6k_rows(const uint8_t *const *row, int W, int wi,
						const int8_t *qx, const float4 *ds, int k, int T,
						float (*acc)[NT]) {
	int lane = threadIdx.x & 31;
	int nu = k >> 6, np = k >> 5; // units and pieces (q8 blocks) per row
	for (int u = 32 * wi + lane; u < nu; u += 32 * W) {
		int sb = u >> 2, h = (u >> 1) & 1, e = u & 1;
		uint32_t ql0[Q6K_R][4], ql1[Q6K_R][4], qh[Q6K_R][4], scw[Q6K_R][2];
		float d[Q6K_R];
#pragma unroll
		for (int r = 0; r < Q6K_R; r++) {
			const uint8_t *blk = row[r] + 210LL * sb;
			ld_a2<4, SH>(blk + 64 * h + 16 * e, ql0[r]);
			ld_a2<4, SH>(blk + 64 * h + 32 + 16 * e, ql1[r]);
			ld_a2<4, SH>(blk + 128 + 32 * h + 16 * e, qh[r]);
			ld_a2<2, SH>(blk + 192 + 8 * h, scw[r]);
			d[r] = q_f16(blk + 208);
		}
#pragma unroll
		for (int t = 0; t < NT; t++) {
			if (t >= T)
				break;
			int32_t x[4][4];
			float dx[4], hs[4];
#pragma unroll
			for (int s = 0; s < 4; s++) {
				int j = 8 * sb + 4 * h + s;
				int4 xv = __ldg((const int4 *)(qx + (long long)t * k + 32LL * j + 16 * e));
				x[s][0] = xv.x, x[s][1] = xv.y, x[s][2] = xv.z, x[s][3] = xv.w;
				float4 dv = __ldg(ds + (long long)t * np + j);
				dx[s] = dv.x;
				hs[s] = e ? dv.z : dv.y;
			}
#pragma unroll
			for (int r = 0; r < Q6K_R; r++) {
				int sc[4];
#pragma unroll
				for (int s = 0; s < 4; s++) { // byte 2s + e of the eight at 192 + 8h
					int b = 2 * s + e;
					sc[s] = (int)(int8_t)(scw[r][b >> 2] >> (8 * (b & 3)));
				}
				acc[r][t] += q6k_unit(ql0[r], ql1[r], qh[r], sc, d[r], x, dx, hs);
			}
		}
	}
}

GEMV_OWN_KERNELS(q6k, q6k_rows, Q6K_R, QT_Q6_K)

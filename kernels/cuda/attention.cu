// attention.cu: paged attention over a mix of prefill chunks and decodes.
//   out (T, H·hd) = softmax(q kᵀ·scale + mask) v
// Semantics are AttnBatch's: query row r of sequence s sits at position
// rowpos[r] and sees keys [max(0, p − window + 1), p] (window 0: all),
// position p of s living in cache slot tables[s·W + p/bs]·bs + p%bs; query
// head h reads kv head h / (H / KV).
//
// Work split: a block takes one tile (up to qr consecutive query rows of one
// sequence, from tiles (ntiles, 4) = {seq, row0, nrows, 0}), one kv head g,
// a chunk of hc of its query heads (blockIdx.y = g·nhc + chunk) and one
// split of the key positions (blockIdx.z of nsplit): split z takes share z
// of the keys its tile sees, shares being equal runs of whole 32-key tiles
// (so a short context still spreads over every split, even when the grid
// was sized for a whole table, as in a recorded graph). Its qr·hc ≤ 16
// (row, head) units share every K/V tile
// it loads into shared memory; warp w owns units w, w+4, w+8, w+12 and runs
// an online softmax for each (base-2: q is prescaled by scale·log2 e).
// With one split the block writes out directly; with several, it writes
// unnormalised partials that sw_attn_combine merges. Whichever writes out
// also quantizes it for the output projection when qx is set (q8Out).
#include <math_constants.h>

#include "common.cuh"

#define AT_KT 32    // keys per shared-memory tile
#define AT_UPW 4    // units per warp
#define AT_DPL 8    // head-dim elements per lane: hd ≤ 256
#define AT_WARPS 4
#define AT_THREADS (32 * AT_WARPS) // the block (attnThreads of attnplan.go)
#define AT_QLD 8    // q elements a thread loads per pass (of 16·hd ≤ 4096)
#define AT_KVLD 4   // K (and V) chunks a thread loads per pass (of KT·hd/8: one pass at hd ≤ 128)

// Shared memory (dynamic): q (16, hd), k (KT, hd+1), v (KT, hd), floats.
// Four blocks an SM, as shared memory allows at hd = 128: registers are
// capped to fit them.
KERNEL void __launch_bounds__(AT_THREADS, 4)
    sw_attn(void *out, int odt, const void *q, int qdt, const void *kc, const void *vc, int cdt,
	    const int4 *tiles, const int *rowpos, const int *tables, int W, int bs, int H, int KV,
	    int hd, int hc, float scale, int window, float *part, float2 *pml, int8_t *qx,
	    float4 *ds) {
	pdl_enter();
	DYNAMIC_SMEM(float, sh);
	int4 tile = tiles[blockIdx.x];
	int seq = tile.x, row0 = tile.y, nrows = tile.z;
	int G = H / KV, nhc = (G + hc - 1) / hc;
	int g = blockIdx.y / nhc, h0 = g * G + (blockIdx.y % nhc) * hc;
	int hcur = min(hc, g * G + G - h0), units = nrows * hcur;
	int nsplit = gridDim.z, z = blockIdx.z;
	float *qs = sh, *ks = qs + 16 * hd, *vs = ks + AT_KT * (hd + 1);
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	const float sl2 = scale * 1.4426950408889634f;

	// q: each pass issues all of a thread's loads, then converts and
	// stores them (a load per trip of one loop would cost a round trip each).
	for (int i0 = 0; i0 < units * hd; i0 += AT_QLD * AT_THREADS) {
		uint32_t qb[AT_QLD];
#pragma unroll
		for (int it = 0; it < AT_QLD; it++) {
			int i = i0 + threadIdx.x + it * AT_THREADS;
			if (i >= units * hd)
				break;
			int u = i / hd, d = i - u * hd;
			long long r = row0 + u / hcur, h = h0 + u % hcur;
			qb[it] = ldbits(q, qdt, r * H * hd + h * hd + d);
		}
#pragma unroll
		for (int it = 0; it < AT_QLD; it++) {
			int i = i0 + threadIdx.x + it * AT_THREADS;
			if (i >= units * hd)
				break;
			qs[i] = bits2f(qb[it], qdt) * sl2;
		}
	}
	int pfirst = rowpos[row0], plast = rowpos[row0 + nrows - 1];
	int kbeg = window > 0 ? max(0, pfirst - window + 1) : 0, kend = plast + 1;
	int share = ((kend - kbeg + nsplit - 1) / nsplit + AT_KT - 1) / AT_KT * AT_KT;
	kbeg += z * share; // past kend for a split with nothing left
	kend = min(kend, kbeg + share);

	float m[AT_UPW], l[AT_UPW], acc[AT_UPW][AT_DPL];
#pragma unroll
	for (int i = 0; i < AT_UPW; i++) {
		m[i] = -CUDART_INF_F, l[i] = 0.0f;
#pragma unroll
		for (int j = 0; j < AT_DPL; j++)
			acc[i][j] = 0.0f;
	}
	long long kvw = (long long)KV * hd;
	const int *table = tables + (long long)seq * W;
	// A 16-bit cache with hd a multiple of 8 at a 16-byte-aligned address is
	// read 8 elements (16 bytes) a load: every row then starts aligned.
	bool vec = cdt != QT_F32 && (hd & 7) == 0 && (((uintptr_t)kc | (uintptr_t)vc) & 15) == 0;
	for (int k0 = kbeg; k0 < kend; k0 += AT_KT) {
		__syncthreads(); // q is written, or the previous tile is consumed
		if (vec) {
			// In three passes, each issuing all its loads before any
			// is used: this thread's block-table entries, then its K
			// and V chunks (16 bytes, 8 elements each), then the
			// conversions and stores. Keys past kend load key kend−1
			// and store zeros. (A loop trip per chunk issued a chunk's
			// loads only once the previous chunk was converted. On an
			// H100 this gained 1.5–2% of Llama-3-8B's decode at
			// contexts up to 128, within that run's noise.)
			int cpr = hd >> 3, n = AT_KT * cpr;
			for (int i0 = 0; i0 < n; i0 += AT_KVLD * AT_THREADS) {
				int blk[AT_KVLD];
				uint4 kb[AT_KVLD], vb[AT_KVLD];
#pragma unroll
				for (int it = 0; it < AT_KVLD; it++) {
					int i = i0 + threadIdx.x + it * AT_THREADS;
					if (i >= n)
						break;
					blk[it] = table[min(k0 + i / cpr, kend - 1) / bs];
				}
#pragma unroll
				for (int it = 0; it < AT_KVLD; it++) {
					int i = i0 + threadIdx.x + it * AT_THREADS;
					if (i >= n)
						break;
					int j = i / cpr, p = min(k0 + j, kend - 1);
					long long e = ((long long)blk[it] * bs + p % bs) * kvw + (long long)g * hd +
						      8 * (i - j * cpr);
					kb[it] = __ldg((const uint4 *)((const uint16_t *)kc + e));
					vb[it] = __ldg((const uint4 *)((const uint16_t *)vc + e));
				}
#pragma unroll
				for (int it = 0; it < AT_KVLD; it++) {
					int i = i0 + threadIdx.x + it * AT_THREADS;
					if (i >= n)
						break;
					int j = i / cpr, d = 8 * (i - j * cpr);
					float kf[8], vf[8];
					cvt8_16(kb[it], cdt, kf);
					cvt8_16(vb[it], cdt, vf);
					bool in = k0 + j < kend;
#pragma unroll
					for (int t = 0; t < 8; t++) {
						ks[j * (hd + 1) + d + t] = in ? kf[t] : 0.0f;
						vs[j * hd + d + t] = in ? vf[t] : 0.0f;
					}
				}
			}
		} else {
			for (int i = threadIdx.x; i < AT_KT * hd; i += blockDim.x) {
				int j = i / hd, d = i - j * hd, p = k0 + j;
				float kv = 0.0f, vv = 0.0f;
				if (p < kend) {
					long long slot = (long long)table[p / bs] * bs + p % bs;
					kv = ld(kc, cdt, slot * kvw + (long long)g * hd + d);
					vv = ld(vc, cdt, slot * kvw + (long long)g * hd + d);
				}
				ks[j * (hd + 1) + d] = kv;
				vs[j * hd + d] = vv;
			}
		}
		__syncthreads();
		int p = k0 + lane; // this lane's key
#pragma unroll
		for (int i = 0; i < AT_UPW; i++) {
			int u = warp + AT_WARPS * i;
			if (u >= units)
				break;
			int pq = rowpos[row0 + u / hcur];
			int lo = window > 0 ? pq - window + 1 : 0;
			float s = -CUDART_INF_F;
			if (p < kend && p <= pq && p >= lo) {
				// Four independent chains: a 128-long dependent one
				// would stall on each FMA's latency.
				const float *qu = qs + u * hd, *kr = ks + lane * (hd + 1);
				float s4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
				int d = 0;
				for (; d + 4 <= hd; d += 4) {
#pragma unroll
					for (int t = 0; t < 4; t++)
						s4[t] = fmaf(qu[d + t], kr[d + t], s4[t]);
				}
				for (; d < hd; d++)
					s4[0] = fmaf(qu[d], kr[d], s4[0]);
				s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
			}
			float mn = fmaxf(m[i], warp_max(s));
			if (mn == -CUDART_INF_F)
				continue; // nothing visible yet
			float pr = exp2f(s - mn), corr = exp2f(m[i] - mn);
			l[i] = l[i] * corr + warp_sum(pr);
			m[i] = mn;
#pragma unroll
			for (int j = 0; j < AT_DPL; j++)
				acc[i][j] *= corr;
			for (int jk = 0; jk < AT_KT; jk++) {
				float pj = __shfl_sync(0xffffffffu, pr, jk);
				const float *vr = vs + jk * hd;
#pragma unroll
				for (int j = 0; j < AT_DPL; j++) {
					int d = lane + 32 * j;
					if (d < hd)
						acc[i][j] = fmaf(pj, vr[d], acc[i][j]);
				}
			}
		}
	}
#pragma unroll
	for (int i = 0; i < AT_UPW; i++) {
		int u = warp + AT_WARPS * i;
		if (u >= units)
			break;
		long long r = row0 + u / hcur, h = h0 + u % hcur;
		if (nsplit == 1) {
			float inv = 1.0f / l[i];
#pragma unroll
			for (int j = 0; j < AT_DPL; j++) {
				int d = lane + 32 * j;
				if (d < hd) {
					long long e = r * H * hd + h * hd + d;
					st(out, odt, e, acc[i][j] * inv);
					if (qx != nullptr) // hd % 32 == 0: d < hd is warp-uniform
						q8_group(qx, ds, e >> 5, rt(odt, acc[i][j] * inv));
				}
			}
		} else {
			long long pi = (r * H + h) * nsplit + z;
#pragma unroll
			for (int j = 0; j < AT_DPL; j++) {
				int d = lane + 32 * j;
				if (d < hd)
					part[pi * hd + d] = acc[i][j];
			}
			if (lane == 0)
				pml[pi] = make_float2(m[i], l[i]);
		}
	}
}

// Merges the nsplit partials of every (row, head): grid T·H, block ≥ 32.
// part (T, H, nsplit, hd) unnormalised sums, pml (T, H, nsplit) = (max, sum)
// in base 2; a split that saw no key has max −inf and adds nothing.
// qx, ds: null, or the 8-bit form of out (q8_group) for the output
// projection, which needs hd % 32 == 0 and whole warps a block.
KERNEL void sw_attn_combine(void *out, int odt, const float *part, const float2 *pml, int hd,
			    int nsplit, int8_t *qx, float4 *ds) {
	pdl_enter();
	long long rh = blockIdx.x;
	const float2 *ml = pml + rh * nsplit;
	float mx = -CUDART_INF_F;
	for (int z = 0; z < nsplit; z++)
		mx = fmaxf(mx, ml[z].x);
	float L = 0.0f;
	for (int z = 0; z < nsplit; z++)
		L += ml[z].y * exp2f(ml[z].x - mx);
	for (int d = threadIdx.x; d < hd; d += blockDim.x) {
		float o = 0.0f;
		for (int z = 0; z < nsplit; z++)
			if (ml[z].y > 0.0f)
				o += part[(rh * nsplit + z) * hd + d] * exp2f(ml[z].x - mx);
		st(out, odt, rh * hd + d, o / L);
		if (qx != nullptr)
			q8_group(qx, ds, (rh * hd + d) >> 5, rt(odt, o / L));
	}
}

// attention.cu: paged attention over a mix of prefill chunks and decodes.
//   out (T, H·hd) = softmax(q kᵀ·scale + mask) v
// Semantics are AttnBatch's: query row r of sequence s sits at position
// rowpos[r] and sees keys [max(0, p − window + 1), p] (window 0: all),
// position p of s living in cache slot tables[s·W + p/bs]·bs + p%bs; query
// head h reads kv head h / (H / KV).
//
// Work split: a block takes one tile (up to qr consecutive query rows of one
// sequence, from tiles (ntiles, 4) = {seq, row0, nrows, pnew}, pnew being
// the sequence's first position computed in this step), one kv head g,
// a chunk of hc of its query heads (blockIdx.y = g·nhc + chunk) and one
// split of the key positions (blockIdx.z of nsplit): split z takes share z
// of the keys its tile sees, shares being equal runs of whole 32-key tiles
// (so a short context still spreads over every split, even when the grid
// was sized for a whole table, as in a recorded graph). Its qr·hc ≤ 16
// (row, head) units share every K/V tile it loads into shared memory; warp
// w owns units w, w+4, w+8, w+12 and runs an online softmax for each
// (base-2: q is prescaled by scale·log2 e).
//
// With one split the block writes out directly. With several, each writes
// unnormalised partials, and sw_attn_combine merges them (the default).
// SPILLWAY_CUDA_ATTN=merge instead has the last of a (tile, head chunk)'s
// splits to finish (counted in cnt, which it puts back to zero) merge
// them: one launch a layer, at the price of a fence and an atomic in every
// block; it waits for a GPU measurement against the combine (session 13
// measured an earlier form of it slower). Whichever writes out also
// quantizes it for the output projection when qx is set (q8Out).
//
// Before its PDL wait (pdl.go) a block reads only what no kernel of the
// step writes: the metadata, copied to the device before the step's first
// kernel, and the cache rows of positions before pnew, written by earlier
// steps. So its first K/V tile, but for this step's positions, is on its
// way while the kernel before it (RoPE and the KV store) still runs.
#include <math_constants.h>

#include "common.cuh"

#define AT_KT 32    // keys per shared-memory tile
#define AT_UPW 4    // units per warp
#define AT_DPL 8    // head-dim elements per lane: hd ≤ 256
#define AT_WARPS 4
#define AT_THREADS (32 * AT_WARPS) // the block (attnThreads of attnplan.go)
#define AT_QLD 8    // q elements a thread loads per pass (of 16·hd ≤ 4096)
#define AT_KVLD 4   // K (and V) chunks a thread loads per pass (of KT·hd/8: one pass at hd ≤ 128)
#define AT_PMAX 0x7fffffff // past every key position

// attn_job is a block's share of the work, from its indices and the
// metadata alone.
struct attn_job {
	int seq, row0, nrows, pnew; // the tile
	int g, h0, hcur, units;     // kv head, first query head, heads, (row, head) units
	int kbeg, kend;             // this split's keys
	bool vec;                   // 16-byte K/V loads (see attn_begin)
};

// attn_kvbuf holds one pass of a K/V tile's loads between their issue and
// their use: a thread's block-table entries and 16-byte K and V chunks.
struct attn_kvbuf {
	int blk[AT_KVLD];
	uint4 kb[AT_KVLD], vb[AT_KVLD];
};

// attn_pre is what a block gathers before its PDL wait.
struct attn_pre {
	attn_job j;
	attn_kvbuf kv;
};

// attn_kv_issue issues the loads of pass i0 of the K/V tile at key k0:
// the block-table entries when tab is set (else kv.blk holds them), then
// the K and V chunks whose key lies in [lo, hi). Keys past kend load key
// kend−1, which attn_kv_store replaces by zeros. Each pass issues all its
// loads before any is used: a loop trip per chunk issued a chunk's loads
// only once the previous chunk was converted.
static __device__ __forceinline__ void attn_kv_issue(attn_kvbuf &kv, const attn_job &j,
						     const int *table, const void *kc, const void *vc,
						     int bs, long long kvw, int hd, int k0, int i0,
						     bool tab, int lo, int hi) {
	int cpr = hd >> 3, n = AT_KT * cpr;
	if (tab) {
#pragma unroll
		for (int it = 0; it < AT_KVLD; it++) {
			int i = i0 + threadIdx.x + it * AT_THREADS;
			if (i >= n)
				break;
			kv.blk[it] = table[min(k0 + i / cpr, j.kend - 1) / bs];
		}
	}
#pragma unroll
	for (int it = 0; it < AT_KVLD; it++) {
		int i = i0 + threadIdx.x + it * AT_THREADS;
		if (i >= n)
			break;
		int c = i / cpr, p = min(k0 + c, j.kend - 1);
		if (p < lo || p >= hi)
			continue;
		long long e = ((long long)kv.blk[it] * bs + p % bs) * kvw + (long long)j.g * hd + 8 * (i - c * cpr);
		kv.kb[it] = __ldg((const uint4 *)((const uint16_t *)kc + e));
		kv.vb[it] = __ldg((const uint4 *)((const uint16_t *)vc + e));
	}
}

// attn_kv_store converts pass i0 of the tile at k0 into shared memory:
// ks (KT, hd+1), vs (KT, hd).
static __device__ __forceinline__ void attn_kv_store(const attn_kvbuf &kv, const attn_job &j,
						     float *ks, float *vs, int hd, int cdt, int k0,
						     int i0) {
	int cpr = hd >> 3, n = AT_KT * cpr;
#pragma unroll
	for (int it = 0; it < AT_KVLD; it++) {
		int i = i0 + threadIdx.x + it * AT_THREADS;
		if (i >= n)
			break;
		int c = i / cpr, d = 8 * (i - c * cpr);
		float kf[8], vf[8];
		cvt8_16(kv.kb[it], cdt, kf);
		cvt8_16(kv.vb[it], cdt, vf);
		bool in = k0 + c < j.kend;
#pragma unroll
		for (int t = 0; t < 8; t++) {
			ks[c * (hd + 1) + d + t] = in ? kf[t] : 0.0f;
			vs[c * hd + d + t] = in ? vf[t] : 0.0f;
		}
	}
}

// attn_begin places the block (see the file comment) and issues the loads
// of the first pass of its first K/V tile for keys before pnew. It reads
// only the metadata and those keys' cache rows, so it may run before the
// PDL wait. A 16-bit cache with hd a multiple of 8 at a 16-byte-aligned
// address is read 8 elements (16 bytes) a load: every row then starts
// aligned; any other cache is read an element at a time after the wait.
static __device__ __forceinline__ attn_pre attn_begin(const void *kc, const void *vc, int cdt,
						      const int4 *tiles, const int *rowpos,
						      const int *tables, int W, int bs, int H,
						      int KV, int hd, int hc, int window) {
	attn_pre a;
	attn_job &j = a.j;
	int4 tile = tiles[blockIdx.x];
	j.seq = tile.x, j.row0 = tile.y, j.nrows = tile.z, j.pnew = tile.w;
	int G = H / KV, nhc = (G + hc - 1) / hc;
	j.g = blockIdx.y / nhc, j.h0 = j.g * G + (blockIdx.y % nhc) * hc;
	j.hcur = min(hc, j.g * G + G - j.h0), j.units = j.nrows * j.hcur;
	int nsplit = gridDim.z, z = blockIdx.z;
	int pfirst = rowpos[j.row0], plast = rowpos[j.row0 + j.nrows - 1];
	j.kbeg = window > 0 ? max(0, pfirst - window + 1) : 0, j.kend = plast + 1;
	int share = ((j.kend - j.kbeg + nsplit - 1) / nsplit + AT_KT - 1) / AT_KT * AT_KT;
	j.kbeg += z * share; // past kend for a split with nothing left
	j.kend = min(j.kend, j.kbeg + share);
	j.vec = cdt != QT_F32 && (hd & 7) == 0 && (((uintptr_t)kc | (uintptr_t)vc) & 15) == 0;
	if (j.vec && j.kbeg < j.kend)
		attn_kv_issue(a.kv, j, tables + (long long)j.seq * W, kc, vc, bs, (long long)KV * hd, hd,
			      j.kbeg, 0, true, 0, j.pnew);
	return a;
}

// attn_load_q puts the block's units of q into qs (units, hd), scaled by
// sl2. Each pass issues all of a thread's loads, then converts and stores
// them (a load per trip of one loop would cost a round trip each).
static __device__ __forceinline__ void attn_load_q(float *qs, const void *q, int qdt,
						   const attn_job &j, int H, int hd, float sl2) {
	int n = j.units * hd;
	for (int i0 = 0; i0 < n; i0 += AT_QLD * AT_THREADS) {
		uint32_t qb[AT_QLD];
#pragma unroll
		for (int it = 0; it < AT_QLD; it++) {
			int i = i0 + threadIdx.x + it * AT_THREADS;
			if (i >= n)
				break;
			int u = i / hd, d = i - u * hd;
			long long r = j.row0 + u / j.hcur, h = j.h0 + u % j.hcur;
			qb[it] = ldbits(q, qdt, r * H * hd + h * hd + d);
		}
#pragma unroll
		for (int it = 0; it < AT_QLD; it++) {
			int i = i0 + threadIdx.x + it * AT_THREADS;
			if (i >= n)
				break;
			qs[i] = bits2f(qb[it], qdt) * sl2;
		}
	}
}

// attn_load_kv_slow fills the K/V tile at k0 an element at a time (an F32
// cache, or one whose rows are not 16-byte aligned).
static __device__ __forceinline__ void attn_load_kv_slow(float *ks, float *vs, const attn_job &j,
							 const int *table, const void *kc,
							 const void *vc, int cdt, int bs,
							 long long kvw, int hd, int k0) {
	for (int i = threadIdx.x; i < AT_KT * hd; i += blockDim.x) {
		int c = i / hd, d = i - c * hd, p = k0 + c;
		float kv = 0.0f, vv = 0.0f;
		if (p < j.kend) {
			long long slot = (long long)table[p / bs] * bs + p % bs;
			kv = ld(kc, cdt, slot * kvw + (long long)j.g * hd + d);
			vv = ld(vc, cdt, slot * kvw + (long long)j.g * hd + d);
		}
		ks[c * (hd + 1) + d] = kv;
		vs[c * hd + d] = vv;
	}
}

// attn_tile runs this warp's units' online softmax over the K/V tile at
// k0 (in ks, vs): m, l the running max and sum, acc the output's lanes.
static __device__ __forceinline__ void attn_tile(const attn_job &j, const float *qs,
						 const float *ks, const float *vs,
						 const int *rowpos, int hd, int window, int k0,
						 float *m, float *l, float (*acc)[AT_DPL]) {
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	int p = k0 + lane; // this lane's key
#pragma unroll
	for (int i = 0; i < AT_UPW; i++) {
		int u = warp + AT_WARPS * i;
		if (u >= j.units)
			break;
		int pq = rowpos[j.row0 + u / j.hcur];
		int lo = window > 0 ? pq - window + 1 : 0;
		float s = -CUDART_INF_F;
		if (p < j.kend && p <= pq && p >= lo) {
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
		for (int jd = 0; jd < AT_DPL; jd++)
			acc[i][jd] *= corr;
		for (int jk = 0; jk < AT_KT; jk++) {
			float pj = __shfl_sync(0xffffffffu, pr, jk);
			const float *vr = vs + jk * hd;
#pragma unroll
			for (int jd = 0; jd < AT_DPL; jd++) {
				int d = lane + 32 * jd;
				if (d < hd)
					acc[i][jd] = fmaf(pj, vr[d], acc[i][jd]);
			}
		}
	}
}

// attn_merge_row merges the nsplit partials of (row, head) rh into out,
// over head-dim elements d0, d0 + dstep, ...: part (T, H, nsplit, hd)
// unnormalised sums, pml (T, H, nsplit) = (max, sum) in base 2; a split
// that saw no key has max −inf and adds nothing. Reads go through L2
// (__ldcg): in attn_merge other blocks wrote them in this launch. With qx
// set (q8Out) hd % 32 == 0 and every warp takes 32 consecutive d a pass.
static __device__ __forceinline__ void attn_merge_row(void *out, int odt, const float *part,
						      const float2 *pml, long long rh, int nsplit,
						      int hd, int d0, int dstep, int8_t *qx,
						      float4 *ds) {
	const float2 *ml = pml + rh * nsplit;
	float mx = -CUDART_INF_F;
	for (int z = 0; z < nsplit; z++)
		mx = fmaxf(mx, __ldcg(ml + z).x);
	float L = 0.0f;
	for (int z = 0; z < nsplit; z++) {
		float2 v = __ldcg(ml + z);
		L += v.y * exp2f(v.x - mx);
	}
	for (int d = d0; d < hd; d += dstep) {
		float o = 0.0f;
		for (int z = 0; z < nsplit; z++) {
			float2 v = __ldcg(ml + z);
			if (v.y > 0.0f)
				o += __ldcg(part + (rh * nsplit + z) * hd + d) * exp2f(v.x - mx);
		}
		st(out, odt, rh * hd + d, o / L);
		if (qx != nullptr)
			q8_group(qx, ds, (rh * hd + d) >> 5, rt(odt, o / L));
	}
}

// attn_merge (SPILLWAY_CUDA_ATTN=merge): the last of the nsplit blocks of
// this (tile, head chunk) to finish merges their partials into out; the
// others return. Every thread of the block must call it, after writing
// its partials.
static __device__ __forceinline__ void attn_merge(const attn_job &j, void *out, int odt,
						  const float *part, const float2 *pml, int *cnt,
						  int H, int hd, int8_t *qx, float4 *ds) {
	__shared__ int last;
	int nsplit = gridDim.z, c = blockIdx.x * gridDim.y + blockIdx.y;
	// Each thread's partials reach the GPU's scope before the count can
	// say they are there (the last block reads them through L2).
	__threadfence();
	__syncthreads();
	if (threadIdx.x == 0) {
		last = atomicAdd(cnt + c, 1) == nsplit - 1;
		if (last)
			cnt[c] = 0; // for the next launch: no other block of this one reads it
	}
	__syncthreads();
	if (!last)
		return;
	__threadfence();
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	for (int u = warp; u < j.units; u += AT_WARPS) {
		long long r = j.row0 + u / j.hcur, h = j.h0 + u % j.hcur;
		attn_merge_row(out, odt, part, pml, r * H + h, nsplit, hd, lane, 32, qx, ds);
	}
}

// sw_attn_combine (the default) merges the partials sw_attn left, a block
// (≥ 32 threads, whole warps) a (row, head): grid T·H.
KERNEL void sw_attn_combine(void *out, int odt, const float *part, const float2 *pml, int hd,
			    int nsplit, int8_t *qx, float4 *ds) {
	pdl_enter();
	attn_merge_row(out, odt, part, pml, blockIdx.x, nsplit, hd, threadIdx.x, blockDim.x, qx, ds);
}

// Shared memory (dynamic): q (16, hd), k (KT, hd+1), v (KT, hd), floats.
// Four blocks an SM, as shared memory allows at hd = 128: registers are
// capped to fit them. part and pml serve nsplit > 1; cnt is null unless
// the last split merges (attn_merge), else sw_attn_combine follows.
KERNEL void __launch_bounds__(AT_THREADS, 4)
    sw_attn(void *out, int odt, const void *q, int qdt, const void *kc, const void *vc, int cdt,
	    const int4 *tiles, const int *rowpos, const int *tables, int W, int bs, int H, int KV,
	    int hd, int hc, float scale, int window, float *part, float2 *pml, int *cnt, int8_t *qx,
	    float4 *ds) {
	attn_pre pre = attn_begin(kc, vc, cdt, tiles, rowpos, tables, W, bs, H, KV, hd, hc, window);
	pdl_enter();
	const attn_job &j = pre.j;
	DYNAMIC_SMEM(float, sh);
	float *qs = sh, *ks = qs + 16 * hd, *vs = ks + AT_KT * (hd + 1);
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	attn_load_q(qs, q, qdt, j, H, hd, scale * 1.4426950408889634f);

	float m[AT_UPW], l[AT_UPW], acc[AT_UPW][AT_DPL];
#pragma unroll
	for (int i = 0; i < AT_UPW; i++) {
		m[i] = -CUDART_INF_F, l[i] = 0.0f;
#pragma unroll
		for (int jd = 0; jd < AT_DPL; jd++)
			acc[i][jd] = 0.0f;
	}
	long long kvw = (long long)KV * hd;
	const int *table = tables + (long long)j.seq * W;
	for (int k0 = j.kbeg; k0 < j.kend; k0 += AT_KT) {
		__syncthreads(); // q is written, or the previous tile is consumed
		if (j.vec) {
			for (int i0 = 0; i0 < AT_KT * (hd >> 3); i0 += AT_KVLD * AT_THREADS) {
				if (k0 == j.kbeg && i0 == 0) // attn_begin issued all but this step's keys
					attn_kv_issue(pre.kv, j, table, kc, vc, bs, kvw, hd, k0, i0, false, j.pnew, AT_PMAX);
				else
					attn_kv_issue(pre.kv, j, table, kc, vc, bs, kvw, hd, k0, i0, true, 0, AT_PMAX);
				attn_kv_store(pre.kv, j, ks, vs, hd, cdt, k0, i0);
			}
		} else {
			attn_load_kv_slow(ks, vs, j, table, kc, vc, cdt, bs, kvw, hd, k0);
		}
		__syncthreads();
		attn_tile(j, qs, ks, vs, rowpos, hd, window, k0, m, l, acc);
	}
	int nsplit = gridDim.z;
#pragma unroll
	for (int i = 0; i < AT_UPW; i++) {
		int u = warp + AT_WARPS * i;
		if (u >= j.units)
			break;
		long long r = j.row0 + u / j.hcur, h = j.h0 + u % j.hcur;
		if (nsplit == 1) {
			float inv = 1.0f / l[i];
#pragma unroll
			for (int jd = 0; jd < AT_DPL; jd++) {
				int d = lane + 32 * jd;
				if (d < hd) {
					long long e = r * H * hd + h * hd + d;
					st(out, odt, e, acc[i][jd] * inv);
					if (qx != nullptr) // hd % 32 == 0: d < hd is warp-uniform
						q8_group(qx, ds, e >> 5, rt(odt, acc[i][jd] * inv));
				}
			}
		} else {
			long long pi = (r * H + h) * nsplit + blockIdx.z;
#pragma unroll
			for (int jd = 0; jd < AT_DPL; jd++) {
				int d = lane + 32 * jd;
				if (d < hd)
					part[pi * hd + d] = acc[i][jd];
			}
			if (lane == 0)
				pml[pi] = make_float2(m[i], l[i]);
		}
	}
	if (nsplit > 1 && cnt != nullptr)
		attn_merge(j, out, odt, part, pml, cnt, H, hd, qx, ds);
}

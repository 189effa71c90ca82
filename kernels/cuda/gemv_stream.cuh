// gemv_stream.cuh: the streamed decode GEMV. A launch has as many blocks
// as fit on the GPU at once (about 4 an SM), and block b takes an equal
// share of the rows of all its matrices, [N·b/G, N·(b+1)/G) of their N
// rows end to end. It copies its rows into shared memory in stages of S
// whole rows (GS_STAGE_BYTES at most), GS_STAGES − 1 stages ahead, with
// asynchronous copies that hold no registers while in flight; so the
// bytes in flight do not depend on how many warps fit, and no block is
// left with a second wave's worth of rows when the others are done. The
// first stages are issued before the PDL wait: weights are never written.
//
// The warps then run each stage's rows exactly as the direct kernels do
// (FMT::rows: W warps a row, R rows a warp, lane l of warp wi taking the
// row's units 32wi + l, +32W, ...) and reduce them with gemv_store_rows,
// so a row's sum is the same bits whichever kernel ran.
//   W (n, k) @ x (T, k)ᵀ -> out (T, n), T ≤ NT ≤ 8, up to three W
// Rows must be whole multiples of 16 bytes and every matrix must start on
// a 16-byte boundary, cp.async's unit (gemvStreamed and segsAligned in
// gemvstream.go).
#ifndef SPILLWAY_GEMV_STREAM_CUH
#define SPILLWAY_GEMV_STREAM_CUH

#include "common.cuh"

#define GS_STAGES 3         // shared-memory slots: GS_STAGES − 1 stages in flight
#define GS_STAGE_BYTES 16384 // a stage's bytes at most (gemvStreamStage)

// ld16 reads 16 bytes at a 16-byte-aligned address, in shared memory
// when SH, else in global memory through the read-only cache.
template <bool SH>
static __device__ __forceinline__ uint4 ld16(const uint8_t *p) {
	return SH ? *(const uint4 *)p : __ldg((const uint4 *)p);
}

// ld4 reads a 4-byte word, as ld16.
template <bool SH>
static __device__ __forceinline__ uint32_t ld4(const uint32_t *p) {
	return SH ? *p : __ldg(p);
}

// cp_async16 copies 16 bytes from global to shared memory without
// waiting; cp_async_commit closes a group of copies, and
// cp_async_wait<N> waits until at most N groups are still in flight.
// Below sm_80 (and in the emulator) the copy is a plain one.
static __device__ __forceinline__ void cp_async16(void *dst, const void *src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
	unsigned s = (unsigned)__cvta_generic_to_shared(dst);
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(s), "l"(src) : "memory");
#else
	*(uint4 *)dst = *(const uint4 *)src;
#endif
}

static __device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
	asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}

template <int N>
static __device__ __forceinline__ void cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
	asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
#endif
}

// gstream is a block's part of a streamed GEMV.
struct gstream {
	void *out[3];
	const uint8_t *w[3];
	int n[3], W[3]; // rows and warps a row of each matrix
	int S;          // rows a stage
	long long rb;   // bytes a row
	int r0, r1;     // this block's rows, of all matrices end to end
	int ns;         // its stages
	uint8_t *sm;    // GS_STAGES slots of S·rb bytes
};

#define GEMV_STREAM_PARAMS                                                                         \
	void *out0, void *out1, void *out2, const void *w0, const void *w1, const void *w2, int n0,  \
	    int n1, int n2, int W0, int W1, int W2, int S
#define GEMV_STREAM_ARGS out0, out1, out2, w0, w1, w2, n0, n1, n2, W0, W1, W2, S

// pick3 is a[s] for s in 0..2, chosen without indexing, which would put
// the array in local memory.
template <class V>
static __device__ __forceinline__ V pick3(const V *a, int s) {
	return s == 0 ? a[0] : s == 1 ? a[1] : a[2];
}

// gs_stage finds stage i of the block (stages never cross from one matrix
// to the next): its matrix, its first row there and its rows, seg = -1
// past the last one; it returns the block's number of stages.
static __device__ __forceinline__ int gs_stage(const gstream &g, int i, int *seg, int *row,
					       int *nr) {
	int base = 0, seen = 0;
	*seg = -1, *row = 0, *nr = 0;
	for (int s = 0; s < 3; s++) {
		int ns = pick3(g.n, s), lo = max(g.r0, base), hi = min(g.r1, base + ns);
		if (lo < hi) {
			int cnt = (hi - lo + g.S - 1) / g.S;
			if (i >= seen && i < seen + cnt && *seg < 0) {
				*seg = s, *row = lo - base + (i - seen) * g.S;
				*nr = min(g.S, hi - lo - (i - seen) * g.S);
			}
			seen += cnt;
		}
		base += ns;
	}
	return seen;
}

// gs_issue starts the copy of stage i into its slot (nothing past the
// last stage) and closes a group of copies either way, so that the
// count of groups in flight stays that of the stages ahead.
static __device__ __forceinline__ void gs_issue(const gstream &g, int i) {
	int seg, row, nr;
	gs_stage(g, i, &seg, &row, &nr);
	if (seg >= 0) {
		const uint8_t *src = pick3(g.w, seg) + row * g.rb;
		uint8_t *dst = g.sm + (long long)(i % GS_STAGES) * g.S * g.rb;
		int n16 = (int)(nr * g.rb / 16);
		for (int c = threadIdx.x; c < n16; c += blockDim.x)
			cp_async16(dst + 16LL * c, src + 16LL * c);
	}
	cp_async_commit();
}

// gemv_stream_begin places the block and issues its first GS_STAGES − 1
// stages. It reads only weights, so it may run before the PDL wait.
static __device__ __forceinline__ gstream gemv_stream_begin(GEMV_STREAM_PARAMS, int dt, int k) {
	DYNAMIC_SMEM(uint4, gs_smem);
	gstream g = {{out0, out1, out2},
		     {(const uint8_t *)w0, (const uint8_t *)w1, (const uint8_t *)w2},
		     {n0, n1, n2},
		     {W0, W1, W2},
		     S,
		     row_bytes(dt, k),
		     0,
		     0,
		     0,
		     (uint8_t *)gs_smem};
	long long N = (long long)n0 + n1 + n2;
	g.r0 = (int)(N * blockIdx.x / gridDim.x), g.r1 = (int)(N * (blockIdx.x + 1) / gridDim.x);
	int seg, row, nr;
	g.ns = gs_stage(g, 0, &seg, &row, &nr);
	for (int i = 0; i < GS_STAGES - 1; i++)
		gs_issue(g, i);
	return g;
}

// gemv_stream_run computes the block's stages as they land, issuing the
// copy of stage i + GS_STAGES − 1 before waiting for stage i.
template <int NT, int R, class FMT>
static __device__ __forceinline__ void gemv_stream_run(const gstream &g, int odt, const int8_t *qx,
						       const float4 *ds, int k, int T) {
	DYNAMIC_SMEM(uint4, gs_smem); // g.sm, named here so that its reads compile to shared loads
	int warp = threadIdx.x >> 5;
	for (int i = 0; i < g.ns; i++) {
		gs_issue(g, i + GS_STAGES - 1);
		cp_async_wait<GS_STAGES - 1>();
		__syncthreads(); // every thread's copies of stage i have landed
		int seg, row, nr;
		gs_stage(g, i, &seg, &row, &nr);
		int W = pick3(g.W, seg), n = pick3(g.n, seg), per = GEMV_WARPS / W * R; // rows a round
		const uint8_t *slot = (const uint8_t *)gs_smem + (long long)(i % GS_STAGES) * g.S * g.rb;
		for (int rr = 0; rr < nr; rr += per) {
			int r0 = rr + warp / W * R;
			float acc[R][NT];
#pragma unroll
			for (int r = 0; r < R; r++)
#pragma unroll
				for (int t = 0; t < NT; t++)
					acc[r][t] = 0.0f;
			const uint8_t *rowp[R];
#pragma unroll
			for (int r = 0; r < R; r++) // rows past the stage read its last; their sums are dropped
				rowp[r] = slot + min(r0 + r, nr - 1) * g.rb;
			if (r0 < nr)
				FMT::template rows<NT, true>(rowp, W, warp % W, qx, ds, k, T, acc);
			gemv_store_rows<R, NT>(pick3(g.out, seg), odt, acc, row + r0, row + nr, n, T, W);
			// gemv_store_rows's part is read before the next round
			// writes it, and, after a stage's last round (every stage
			// has one), the slot before stage i + GS_STAGES is copied
			// into it.
			__syncthreads();
		}
	}
}

// GEMV_STREAM_KERNELS(name, FMT, R, DT) defines sw_gemvs_<name>_<NT> for
// NT = 1, 2, 4, 8: the streamed GEMV for weights of type DT.
#define GEMV_STREAM_KERNEL(name, FMT, R, DT, NT)                                                  \
	KERNEL void sw_gemvs_##name##_##NT(GEMV_STREAM_PARAMS, int odt, const int8_t *qx,          \
					   const float4 *ds, int k, int T) {                       \
		gstream g = gemv_stream_begin(GEMV_STREAM_ARGS, DT, k);                             \
		pdl_enter();                                                                       \
		gemv_stream_run<NT, R, FMT>(g, odt, qx, ds, k, T);                                 \
	}
#define GEMV_STREAM_KERNELS(name, FMT, R, DT)                                                     \
	GEMV_STREAM_KERNEL(name, FMT, R, DT, 1) GEMV_STREAM_KERNEL(name, FMT, R, DT, 2)           \
	GEMV_STREAM_KERNEL(name, FMT, R, DT, 4) GEMV_STREAM_KERNEL(name, FMT, R, DT, 8)

// GEMV_OWN_KERNELS(name, rowsfn, R, DT) defines the decode GEMVs of a
// weight type whose lane loop is rowsfn<NT, SH> (R rows a warp): the
// direct sw_gemv_<name>_<NT> (gemv_rowwise) and the streamed
// sw_gemvs_<name>_<NT>.
#define GEMV_OWN_KERNELS(name, rowsfn, R, DT)                                                     \
	struct name##_fmt {                                                                        \
		template <int NT, bool SH>                                                         \
		static __device__ __forceinline__ void rows(const uint8_t *const *row, int W,      \
							    int wi, const int8_t *qx,              \
							    const float4 *ds, int k, int T,        \
							    float (*acc)[NT]) {                    \
			rowsfn<NT, SH>(row, W, wi, qx, ds, k, T, acc);                             \
		}                                                                                  \
	};                                                                                         \
	template <int NT>                                                                          \
	static __device__ __forceinline__ void gemv_##name(gseg g, int odt, const int8_t *qx,      \
							   const float4 *ds, int k, int T) {       \
		gemv_rowwise<NT, R, DT, name##_fmt>(g, odt, qx, ds, k, T);                          \
	}                                                                                          \
	GEMV_Q8_KERNELS(name, gemv_##name, R, DT) GEMV_STREAM_KERNELS(name, name##_fmt, R, DT)

#endif

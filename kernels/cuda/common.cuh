// common.cuh: element access by run-time type, reductions, and the naming
// convention of the kernels. Every kernel is extern "C" (its name is what the
// Go side looks up with cuModuleGetFunction) and takes only pointers, 32-bit
// ints and floats, each in one launch-parameter slot.
#ifndef SPILLWAY_COMMON_CUH
#define SPILLWAY_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "quant.cuh"

#define KERNEL extern "C" __global__

// DYNAMIC_SMEM declares the launch's dynamic shared memory (the emulator,
// emu/emu.h, defines it its own way).
#ifndef DYNAMIC_SMEM
#define DYNAMIC_SMEM(type, name) extern __shared__ type name[]
#endif

// pdl_enter opens every kernel, before it touches global memory. When the
// host launches kernels with programmatic dependent launch (sm_90 and up,
// see pdl.go), a kernel may start while the one before it still runs:
// griddepcontrol.wait holds it until that grid has finished and its writes
// are visible, and launch_dependents then lets the next kernel start
// early in turn, so launch latency overlaps the tail of the kernel before.
// Launched normally, both are no-ops.
static __device__ __forceinline__ void pdl_enter() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("griddepcontrol.wait;" ::: "memory");
	asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// pdl_prefetch_l2 asks L2 for bytes [0, n) of p, the block's threads
// taking 128-byte lines in turn. A kernel launched with PDL calls it on
// its weights before pdl_enter, so their first bytes come from L2 once the
// kernel before it has finished. A prefetch only fills L2, which is
// coherent for device memory, so even data that kernel still writes would
// be read correctly; weights are never written. Below sm_90 (no PDL) it
// compiles to nothing; launched without PDL it just precedes the loads.
static __device__ __forceinline__ void pdl_prefetch_l2(const void *p, long long n) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	const char *c = (const char *)p;
	for (long long o = 128LL * threadIdx.x; o < n; o += 128LL * blockDim.x)
		asm volatile("prefetch.global.L2 [%0];" ::"l"(c + o));
#endif
}

// ld reads element i of a float tensor of type dt (F32, F16 or BF16).
static __device__ __forceinline__ float ld(const void *p, int dt, long long i) {
	if (dt == QT_F32)
		return ((const float *)p)[i];
	if (dt == QT_F16)
		return __half2float(((const __half *)p)[i]);
	return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
}

// st stores v as element i of a float tensor of type dt, rounding to
// nearest even as the reference does.
static __device__ __forceinline__ void st(void *p, int dt, long long i, float v) {
	if (dt == QT_F32)
		((float *)p)[i] = v;
	else if (dt == QT_F16)
		((__half *)p)[i] = __float2half_rn(v);
	else
		((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

// cvt8_16 converts the eight 16-bit floats (F16 or BF16) of u, element j
// in half j%2 of word j/2.
static __device__ __forceinline__ void cvt8_16(uint4 u, int dt, float *f) {
	uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
	for (int j = 0; j < 4; j++) {
		if (dt == QT_F16) {
			float2 h = __half22float2(*(const __half2 *)&w[j]);
			f[2 * j] = h.x, f[2 * j + 1] = h.y;
		} else {
			f[2 * j] = __uint_as_float(w[j] << 16);
			f[2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
		}
	}
}

// load8_16 reads elements [i, i+8) of a 16-bit float tensor (F16 or
// BF16) in one 16-byte load: i a multiple of 8, the address 16-byte aligned.
// A kernel that needs several such loads in flight at once issues the
// loads first and converts after (cvt8_16): a conversion waits for its
// load, and the loads after it wait behind the conversion.
static __device__ __forceinline__ void load8_16(const void *p, int dt, long long i, float *f) {
	cvt8_16(__ldg((const uint4 *)((const uint16_t *)p + i)), dt, f);
}

// ldbits reads the bits of element i of a float tensor of type dt (F32,
// F16 or BF16), unconverted (see cvt8_16 for why); bits2f converts them.
static __device__ __forceinline__ uint32_t ldbits(const void *p, int dt, long long i) {
	return dt == QT_F32 ? ((const uint32_t *)p)[i] : ((const uint16_t *)p)[i];
}

static __device__ __forceinline__ float bits2f(uint32_t b, int dt) {
	if (dt == QT_F32)
		return __uint_as_float(b);
	if (dt == QT_F16)
		return __half2float(__ushort_as_half((unsigned short)b));
	return __uint_as_float(b << 16);
}

// rt rounds v to activation type dt and back: the value a later op reads
// after this one stores v, so that a fused kernel computes on exactly what
// the unfused sequence would have read from memory.
static __device__ __forceinline__ float rt(int dt, float v) {
	if (dt == QT_F16)
		return __half2float(__float2half_rn(v));
	if (dt == QT_BF16)
		return __bfloat162float(__float2bfloat16_rn(v));
	return v;
}

// esize is the byte size of one element of a float type.
static __device__ __forceinline__ int esize(int dt) { return dt == QT_F32 ? 4 : 2; }

static __device__ __forceinline__ float warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

static __device__ __forceinline__ float warp_max(float v) {
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

// block_sum adds v over the block (blockDim.x a multiple of 32, ≤ 1024);
// every thread gets the total. red holds 32 floats of shared memory.
static __device__ __forceinline__ float block_sum(float v, float *red) {
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads(); // red may still be read by a previous call
	if (lane == 0)
		red[w] = v;
	__syncthreads();
	v = lane < nw ? red[lane] : 0.0f;
	return warp_sum(v);
}

// q8_group quantizes block g of 32 activations, held one per lane of a
// warp (lane l holds element 32g+l), for the 8-bit dot products:
// qx[32g+l] = round(v·127/amax) and ds[g] = (d, d·Σ₀q, d·Σ₁q, 0) with
// d = amax/127. Every lane of the warp must call it. sw_quant_q8 and the
// kernels that quantize their own output (RMSNorm, SiLU·mul) share it, so
// a fused quantization equals the separate one bit for bit.
static __device__ __forceinline__ void q8_group(int8_t *qx, float4 *ds, long long g, float v) {
	int lane = threadIdx.x & 31;
	float amax = warp_max(fabsf(v));
	float d = amax / 127.0f;
	int q = amax > 0.0f ? __float2int_rn(v * (127.0f / amax)) : 0;
	q = max(-127, min(127, q));
	qx[32 * g + lane] = (int8_t)q;
	// The half sums are of the quantized values, d·Σq, not of x: a
	// weight's offset term (Q4_0's -8, Q4_1's min) then sees the same x
	// as its dp4a term, so the rounding error stays d·Σ(w-offset)e rather
	// than growing with the unsigned codes.
	int s = q; // sums within each half-warp
	for (int o = 8; o > 0; o >>= 1)
		s += __shfl_xor_sync(0xffffffffu, s, o);
	int s1 = __shfl_sync(0xffffffffu, s, 16);
	if (lane == 0)
		ds[g] = make_float4(d, d * (float)s, d * (float)s1, 0.0f);
}

// GEMV_WARPS is the block size of the GEMV kernels in warps. W of them
// (1, 2 or 4) share a weight row, so that a matrix of few rows still puts
// enough loads in flight to stream at the GPU's bandwidth; the Go side
// picks W from the shape alone, never from the token count, so a row's
// sums are added in one order however many tokens share the pass.
#define GEMV_WARPS 4

// gseg is one matrix of a grouped GEMV: up to three matrices of one
// weight type and one x (the q, k, v projections; gate and up) run in one
// launch, blocks [0, nb0) on the first, [nb0, nb0+nb1) on the second, the
// rest on the third. Each keeps its own W, so its rows are added exactly
// as in a launch of its own.
struct gseg {
	void *out;
	const void *w;
	int n, W, blk; // rows, warps per row, this block's index in the matrix
};

#define GEMV_GROUP_PARAMS                                                                          \
	void *out0, void *out1, void *out2, const void *w0, const void *w1, const void *w2, int n0,  \
	    int n1, int n2, int W0, int W1, int W2, int nb0, int nb1
#define GEMV_GROUP_ARGS out0, out1, out2, w0, w1, w2, n0, n1, n2, W0, W1, W2, nb0, nb1

// GEMV_Q8_KERNELS(name, fn, R, DT) defines sw_gemv_<name>_<NT> for NT =
// 1, 2, 4, 8: fn<NT> over 8-bit activations (qx, ds) for weights of type
// DT, R rows a warp. Each block prefetches its rows of W before it waits
// for the kernel before it.
#define GEMV_Q8_KERNEL(name, fn, R, DT, NT)                                                        \
	KERNEL void sw_gemv_##name##_##NT(GEMV_GROUP_PARAMS, int odt, const int8_t *qx,            \
					  const float4 *ds, int k, int T) {                        \
		gseg g = gemv_seg(GEMV_GROUP_ARGS);                                                 \
		gemv_prefetch(g, R, row_bytes(DT, k));                                             \
		pdl_enter();                                                                       \
		fn<NT>(g, odt, qx, ds, k, T);                                                       \
	}
#define GEMV_Q8_KERNELS(name, fn, R, DT)                                                           \
	GEMV_Q8_KERNEL(name, fn, R, DT, 1) GEMV_Q8_KERNEL(name, fn, R, DT, 2)                       \
	GEMV_Q8_KERNEL(name, fn, R, DT, 4) GEMV_Q8_KERNEL(name, fn, R, DT, 8)

static __device__ __forceinline__ gseg gemv_seg(GEMV_GROUP_PARAMS) {
	int b = blockIdx.x;
	if (b < nb0)
		return gseg{out0, w0, n0, W0, b};
	if (b < nb0 + nb1)
		return gseg{out1, w1, n1, W1, b - nb0};
	return gseg{out2, w2, n2, W2, b - nb0 - nb1};
}

// gemv_prefetch prefetches into L2 the rows of g's W that this block
// takes (R rows a warp, rb bytes a row; see gemv_rows).
static __device__ __forceinline__ void gemv_prefetch(const gseg &g, int R, long long rb) {
	int rows = GEMV_WARPS / g.W * R, r0 = g.blk * rows;
	int r1 = min(r0 + rows, g.n);
	if (r1 > r0)
		pdl_prefetch_l2((const char *)g.w + r0 * rb, (r1 - r0) * rb);
}

// gemv_rows locates this warp for a kernel of R rows a warp: its first
// row and its index among the W warps of those rows; and zeroes acc.
template <int R, int NT>
static __device__ __forceinline__ void gemv_rows(const gseg &g, int *row0, int *wi,
						 float (*acc)[NT]) {
	int warp = threadIdx.x >> 5;
	*row0 = (g.blk * (GEMV_WARPS / g.W) + warp / g.W) * R;
	*wi = warp % g.W;
#pragma unroll
	for (int r = 0; r < R; r++)
#pragma unroll
		for (int t = 0; t < NT; t++)
			acc[r][t] = 0.0f;
}

// gemv_store_rows reduces each token's partial sums of R rows (row0,
// row0+1, ...) over the warp, then over the W warps of the rows (in warp
// order), and stores the outputs of those rows below lim, at out[t·n +
// row]. Every thread of the block must call it, as often as the others
// (it synchronises when W > 1); a caller that calls it again synchronises
// in between, since part is shared.
template <int R, int NT>
static __device__ __forceinline__ void gemv_store_rows(void *out, int odt, float (*acc)[NT],
						       int row0, int lim, int n, int T, int W) {
	__shared__ float part[GEMV_WARPS][R * NT];
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
	for (int r = 0; r < R; r++)
#pragma unroll
		for (int t = 0; t < NT; t++)
			acc[r][t] = warp_sum(acc[r][t]);
	if (W > 1) {
		if (lane == 0)
#pragma unroll
			for (int r = 0; r < R; r++)
#pragma unroll
				for (int t = 0; t < NT; t++)
					part[warp][r * NT + t] = acc[r][t];
		__syncthreads();
		if (warp % W == 0)
#pragma unroll
			for (int r = 0; r < R; r++)
#pragma unroll
				for (int t = 0; t < NT; t++) {
					float s = part[warp][r * NT + t];
					for (int i = 1; i < W; i++)
						s += part[warp + i][r * NT + t];
					acc[r][t] = s;
				}
	}
	if (lane == 0 && warp % W == 0)
#pragma unroll
		for (int r = 0; r < R; r++)
			if (row0 + r < lim)
#pragma unroll
				for (int t = 0; t < NT; t++)
					if (t < T)
						st(out, odt, (long long)t * n + row0 + r, acc[r][t]);
}

// Byte size of a row of k elements of type dt (k a multiple of the block).
static __device__ __forceinline__ long long row_bytes(int dt, int k) {
	switch (dt) {
	case QT_F32: return 4LL * k;
	case QT_F16: case QT_BF16: return 2LL * k;
	case QT_Q4_0: return k / 32 * 18LL;
	case QT_Q4_1: return k / 32 * 20LL;
	case QT_Q5_0: return k / 32 * 22LL;
	case QT_Q5_1: return k / 32 * 24LL;
	case QT_Q8_0: return k / 32 * 34LL;
	case QT_Q2_K: return k / 256 * 84LL;
	case QT_Q3_K: return k / 256 * 110LL;
	case QT_Q4_K: return k / 256 * 144LL;
	case QT_Q5_K: return k / 256 * 176LL;
	case QT_Q6_K: return k / 256 * 210LL;
	}
	return 0;
}

// gemv_rowwise is the direct GEMV of a weight type whose lane loop is
// FMT::rows (R rows a warp): this warp's rows (gemv_rows) read in global
// memory, rows past n reading row n-1, whose sums are dropped.
template <int NT, int R, int DT, class FMT>
static __device__ __forceinline__ void gemv_rowwise(gseg g, int odt, const int8_t *qx,
						    const float4 *ds, int k, int T) {
	long long rb = row_bytes(DT, k);
	float acc[R][NT];
	int row0, wi;
	gemv_rows<R, NT>(g, &row0, &wi, acc);
	const uint8_t *row[R];
#pragma unroll
	for (int r = 0; r < R; r++)
		row[r] = (const uint8_t *)g.w + min(row0 + r, g.n - 1) * rb;
	FMT::template rows<NT, false>(row, g.W, wi, qx, ds, k, T, acc);
	gemv_store_rows<R, NT>(g.out, odt, acc, row0, g.n, g.n, T, g.W);
}

#endif

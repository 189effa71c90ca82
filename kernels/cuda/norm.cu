// norm.cu: RMSNorm, one block per row, in float; optionally fused with the
// residual add before it and the 8-bit quantization of its output that the
// next MatMul reads.
#include "common.cuh"

// RMS_REG elements per thread stay in registers between the two passes: a
// row of up to RMS_REG·blockDim.x (8192 at 1024 threads) is read once.
#define RMS_REG 8

// rms_in reads element j of row o: x, or x + r stored back into x (rounded
// to x's type, and read back as such) when r is set.
static __device__ __forceinline__ float rms_in(void *x, int xdt, const void *r, int rdt,
					       long long i) {
	float v = ld(x, xdt, i);
	if (r == nullptr)
		return v;
	v = rt(xdt, v + ld(r, rdt, i));
	st(x, xdt, i, v);
	return v;
}

// rms_out stores element i = o + j of the output and, when qx is set,
// quantizes it (as rounded to odt) into 8-bit block i/32. The caller's
// index pattern puts 32 consecutive elements in the lanes of a warp.
static __device__ __forceinline__ void rms_out(void *out, int odt, long long i, float y,
					       int8_t *qx, float4 *ds) {
	st(out, odt, i, y);
	if (qx != nullptr)
		q8_group(qx, ds, i >> 5, rt(odt, y));
}

// rms_row8 is sw_rmsnorm for a decode-sized row: x (and r, when R) of the
// 16-bit type XT, w F32, d = 8·blockDim.x, rows 16-byte aligned. A lone row
// of a decode step is latency-bound, so thread t takes the eight elements
// [8t, 8t+8) in four 16-byte loads issued together (x, r, two of w); the
// loop below pays a round trip per element (rms_in's store precedes the
// next element's loads), and loads that each sit behind a bounds check or
// a run-time type switch are no better: on an H100 (d = 4096, ncu at the
// run's clocks) the loop took 7.2 µs a row, such loads 10 µs at 4
// elements a thread and 23 µs at 16, and this 5.2 µs. The 8-bit output is
// q8_group's, computed by the four lanes that hold a group: the same bits.
template <int XT, bool R>
static __device__ __forceinline__ void rms_row8(void *out, int odt, void *x, const void *r,
						const float *w, int d, float eps, int8_t *qx,
						float4 *ds) {
	__shared__ float red[32];
	long long o = (long long)blockIdx.x * d, j0 = o + 8 * threadIdx.x;
	uint4 xu = *((const uint4 *)x + j0 / 8), ru = make_uint4(0, 0, 0, 0);
	if (R)
		ru = *((const uint4 *)r + j0 / 8);
	float4 w0 = __ldg((const float4 *)w + 2 * threadIdx.x);
	float4 w1 = __ldg((const float4 *)w + 2 * threadIdx.x + 1);
	float v[8], rv[8], wv[8] = {w0.x, w0.y, w0.z, w0.w, w1.x, w1.y, w1.z, w1.w};
	cvt8_16(xu, XT, v);
	cvt8_16(ru, XT, rv);
	float ss = 0.0f;
#pragma unroll
	for (int k = 0; k < 8; k++) {
		if (R) {
			v[k] = rt(XT, v[k] + rv[k]);
			st(x, XT, j0 + k, v[k]);
		}
		ss += v[k] * v[k];
	}
	ss = block_sum(ss, red);
	float inv = rsqrtf(ss / (float)d + eps);
	float y[8], amax = 0.0f;
#pragma unroll
	for (int k = 0; k < 8; k++) {
		y[k] = v[k] * inv * wv[k];
		st(out, odt, j0 + k, y[k]);
		y[k] = rt(odt, y[k]);
		amax = fmaxf(amax, fabsf(y[k]));
	}
	if (qx == nullptr)
		return;
	// Group j0/32 is held by the four lanes 4m..4m+3 of the warp.
	amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
	amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
	float dq = amax / 127.0f;
	int s = 0;
	uint32_t pk[2] = {0u, 0u};
#pragma unroll
	for (int k = 0; k < 8; k++) {
		int q = amax > 0.0f ? __float2int_rn(y[k] * (127.0f / amax)) : 0;
		q = max(-127, min(127, q));
		s += q;
		pk[k >> 2] |= (uint32_t)(q & 0xff) << (8 * (k & 3));
	}
	*(uint2 *)(qx + j0) = make_uint2(pk[0], pk[1]);
	s += __shfl_xor_sync(0xffffffffu, s, 1); // lanes 4m, 4m+1: Σ of elements 0..15
	int s1 = __shfl_xor_sync(0xffffffffu, s, 2); // and 16..31
	if ((threadIdx.x & 3) == 0)
		ds[j0 >> 5] = make_float4(dq, dq * (float)s, dq * (float)s1, 0.0f);
}

// out (T, d) = x' / sqrt(mean(x'²) + eps) · w (1, d), where x' = x, or,
// when r is set, x' = x + r (T, d), which is also stored back into x. Bit
// for bit the same as Add(x, x, r) then RMSNorm(out, x, w). out may alias
// x when r is null: each thread rewrites only elements it read. qx, ds:
// null, or the 8-bit form of out (see q8_group), which needs d % 32 == 0
// and blockDim.x % 32 == 0 so that every group lies in one warp.
// Up to 1024 threads (normThreads): registers are capped to fit them.
KERNEL void __launch_bounds__(1024)
    sw_rmsnorm(void *out, int odt, void *x, int xdt, const void *r, int rdt, const void *w, int wdt,
	       int d, float eps, int8_t *qx, float4 *ds) {
	pdl_prefetch_l2(w, (long long)d * esize(wdt));
	pdl_enter();
	bool row8 = d == 8 * (int)blockDim.x && (xdt == QT_F16 || xdt == QT_BF16) && wdt == QT_F32 &&
		    (r == nullptr || rdt == xdt) && (((uintptr_t)x | (uintptr_t)r | (uintptr_t)w) & 15) == 0;
	if (row8) {
		if (xdt == QT_F16 && r == nullptr)
			rms_row8<QT_F16, false>(out, odt, x, r, (const float *)w, d, eps, qx, ds);
		else if (xdt == QT_F16)
			rms_row8<QT_F16, true>(out, odt, x, r, (const float *)w, d, eps, qx, ds);
		else if (r == nullptr)
			rms_row8<QT_BF16, false>(out, odt, x, r, (const float *)w, d, eps, qx, ds);
		else
			rms_row8<QT_BF16, true>(out, odt, x, r, (const float *)w, d, eps, qx, ds);
		return;
	}
	// Other rows: the loop.
	__shared__ float red[32];
	long long o = (long long)blockIdx.x * d;
	int bd = blockDim.x;
	float v[RMS_REG];
	float ss = 0.0f;
#pragma unroll
	for (int i = 0; i < RMS_REG; i++) {
		int j = threadIdx.x + i * bd;
		v[i] = j < d ? rms_in(x, xdt, r, rdt, o + j) : 0.0f;
		ss += v[i] * v[i];
	}
	for (int j = threadIdx.x + RMS_REG * bd; j < d; j += bd) {
		float t = rms_in(x, xdt, r, rdt, o + j);
		ss += t * t;
	}
	ss = block_sum(ss, red);
	float inv = rsqrtf(ss / (float)d + eps);
#pragma unroll
	for (int i = 0; i < RMS_REG; i++) {
		int j = threadIdx.x + i * bd;
		if (j < d)
			rms_out(out, odt, o + j, v[i] * inv * ld(w, wdt, j), qx, ds);
	}
	for (int j = threadIdx.x + RMS_REG * bd; j < d; j += bd)
		rms_out(out, odt, o + j, ld(x, xdt, o + j) * inv * ld(w, wdt, j), qx, ds);
}

// elementwise.cu: row gathers and element-wise ops. Every tensor is a
// contiguous row-major view; types are passed at run time (F32, F16, BF16 for
// activations, any weight type for Embed's table), since these ops are
// memory-bound and a uniform branch costs nothing next to the loads.
#include "common.cuh"

// out (T, d) = dequant(table (V, d))[ids[t]]. One block per row t; block
// types are decoded a piece (32 elements) per thread.
KERNEL void sw_embed(void *out, int odt, const uint8_t *table, int tdt, const int *ids, int d) {
	pdl_enter();
	int t = blockIdx.x;
	const uint8_t *row = table + (long long)ids[t] * row_bytes(tdt, d);
	long long o = (long long)t * d;
	if (tdt == QT_F32 || tdt == QT_F16 || tdt == QT_BF16) {
		for (int j = threadIdx.x; j < d; j += blockDim.x)
			st(out, odt, o + j, ld(row, tdt, j));
		return;
	}
	float y[32];
	for (int p = threadIdx.x; p < d / 32; p += blockDim.x) {
		q_deq32(tdt, row, p, y);
		for (int j = 0; j < 32; j++)
			st(out, odt, o + 32 * p + j, y[j]);
	}
}

// out (T, d) = a (T, d) + b (T, d), or b (1, d) broadcast when bcast.
// n = T·d. out may alias a: each element is read before it is written, by
// the same thread.
KERNEL void sw_add(void *out, int odt, const void *a, int adt, const void *b, int bdt, int bcast,
		   int d, long long n) {
	pdl_enter();
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
	     i += (long long)gridDim.x * blockDim.x)
		st(out, odt, i, ld(a, adt, i) + ld(b, bdt, bcast ? i % d : i));
}

// out (n,) = silu(gate) · up with silu(g) = g / (1 + e^−g); out may alias
// gate. qx, ds: null, or the 8-bit form of out (see q8_group), which needs
// n % 32 == 0 and a grid of whole warps, so that each warp's lanes hold
// one group in every trip of the loop.
KERNEL void sw_silumul(void *out, int odt, const void *gate, int gdt, const void *up, int udt,
		       long long n, int8_t *qx, float4 *ds) {
	pdl_enter();
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
	     i += (long long)gridDim.x * blockDim.x) {
		float g = ld(gate, gdt, i);
		float y = g / (1.0f + expf(-g)) * ld(up, udt, i);
		st(out, odt, i, y);
		if (qx != nullptr)
			q8_group(qx, ds, i >> 5, rt(odt, y));
	}
}

// StoreKV: cache rows slots[t] of kc, vc (slots, width) = k, v (T, width),
// rounded to the cache type. n = T·width.
KERNEL void sw_store_kv(void *kc, void *vc, int cdt, const void *k, const void *v, int xdt,
			const int *slots, int width, long long n) {
	pdl_enter();
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
	     i += (long long)gridDim.x * blockDim.x) {
		long long t = i / width, c = i - t * width;
		long long dst = (long long)slots[t] * width + c;
		st(kc, cdt, dst, ld(k, xdt, i));
		st(vc, cdt, dst, ld(v, xdt, i));
	}
}

// Activations for the 8-bit dot products: x (T, k) → qx (T, k) int8 and,
// per block of 32, ds = (d, d·Σ₀q, d·Σ₁q, 0) (see q8_group). One warp per
// block; n = T·k/32.
KERNEL void sw_quant_q8(int8_t *qx, float4 *ds, const void *x, int xdt, long long n) {
	pdl_enter();
	int lane = threadIdx.x & 31;
	long long w = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
	long long nw = ((long long)gridDim.x * blockDim.x) >> 5;
	for (; w < n; w += nw)
		q8_group(qx, ds, w, ld(x, xdt, 32 * w + lane));
}

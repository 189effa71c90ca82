// AVX2 panel GEMM for float weights (F32, F16, BF16) with F32 activations.
// A panel is 16 rows of w converted to F32 and transposed over a k-slice
// of SW_FKC columns: P[kk·16 + r] (16 KiB, stays in L1). The micro-kernel
// keeps a 6 × 16 block of out in 12 registers and per kk loads 2 vectors of
// w and 6 broadcasts of x for 12 FMAs. Slices after the first add into out.
#if defined(__x86_64__)
#include "avx2.h"

#define FROWS 16

// P (kc, 16) = w[r0.., k0..k0+kc)ᵀ as F32; rows ≥ nr are zero.
static void pack_f(const sw_mm *mm, int r0, int nr, int k0, int kc, float *P) {
	const int t = mm->wtype, es = t == SW_F32 ? 4 : 2;
	int kk = 0;
	for (; kk + 8 <= kc; kk += 8) {
		for (int h = 0; h < 2; h++) {
			__m256i v[8];
			for (int r = 0; r < 8; r++) {
				int row = 8 * h + r;
				v[r] = row < nr ? _mm256_castps_si256(ldw8(t, mm->w + (size_t)(r0 + row) * mm->wstride, k0 + kk))
				                : _mm256_setzero_si256();
			}
			tr8x8(v);
			for (int i = 0; i < 8; i++) _mm256_storeu_si256((__m256i *)(P + (kk + i) * FROWS + 8 * h), v[i]);
		}
	}
	for (; kk < kc; kk++)
		for (int r = 0; r < FROWS; r++) {
			float f = 0;
			if (r < nr) {
				const uint8_t *p = mm->w + (size_t)(r0 + r) * mm->wstride + (size_t)(k0 + kk) * es;
				if (t == SW_F32) memcpy(&f, p, 4);
				else if (t == SW_F16) f = h2f(p);
				else {
					uint32_t u = (uint32_t)(p[0] | (p[1] << 8)) << 16;
					memcpy(&f, &u, 4);
				}
			}
			P[kk * FROWS + r] = f;
		}
}

// 8 columns of a partial sum in out, zero past nr (a ragged panel edge).
FORCE __m256 load_cols(const float *src, int nr) {
	if (nr >= 8) return _mm256_loadu_ps(src);
	float t[8] = {0};
	memcpy(t, src, (size_t)(nr > 0 ? nr : 0) * 4);
	return _mm256_loadu_ps(t);
}

// out[t0..t0+C, r0..r0+nr) (+)= x[t0..t0+C, k0..k0+kc) · P.
FORCE void tile_f(const sw_mm *mm, const float *P, int t0, int C, int k0, int kc, int first, int r0, int nr) {
	__m256 a[6][2];
	const float *xr[6];
	#pragma GCC unroll 8
	for (int j = 0; j < C; j++) {
		xr[j] = (const float *)(mm->x + (size_t)(t0 + j) * mm->xstride) + k0;
		const float *o = mm->out + (size_t)(t0 + j) * mm->ldo + r0;
		a[j][0] = first ? _mm256_setzero_ps() : load_cols(o, nr);
		a[j][1] = first ? _mm256_setzero_ps() : load_cols(o + 8, nr - 8);
	}
	for (int kk = 0; kk < kc; kk++) {
		__m256 w0 = _mm256_loadu_ps(P + kk * FROWS), w1 = _mm256_loadu_ps(P + kk * FROWS + 8);
		#pragma GCC unroll 8
		for (int j = 0; j < C; j++) {
			__m256 xb = _mm256_broadcast_ss(xr[j] + kk);
			a[j][0] = _mm256_fmadd_ps(w0, xb, a[j][0]);
			a[j][1] = _mm256_fmadd_ps(w1, xb, a[j][1]);
		}
	}
	#pragma GCC unroll 8
	for (int j = 0; j < C; j++) {
		float *dst = mm->out + (size_t)(t0 + j) * mm->ldo + r0;
		store_cols(dst, a[j][0], nr < 8 ? nr : 8);
		if (nr > 8) store_cols(dst + 8, a[j][1], nr - 8);
	}
}

static void gemm_float(const sw_mm *mm, int r0, int nr, void *scratch) {
	float *P = scratch; // (SW_FKC, 16)
	for (int k0 = 0; k0 < mm->k; k0 += SW_FKC) {
		int kc = mm->k - k0 < SW_FKC ? mm->k - k0 : SW_FKC;
		pack_f(mm, r0, nr, k0, kc, P);
		int t = 0;
		for (; t + 6 <= mm->T; t += 6) tile_f(mm, P, t, 6, k0, kc, k0 == 0, r0, nr);
		for (; t < mm->T; t++) tile_f(mm, P, t, 1, k0, kc, k0 == 0, r0, nr);
	}
}

void sw_avx2_fill_fgemm(sw_isa_table *t) {
	t->gemm[SW_F32] = t->gemm[SW_F16] = t->gemm[SW_BF16] = gemm_float;
	t->gemm_rows[SW_F32] = t->gemm_rows[SW_F16] = t->gemm_rows[SW_BF16] = FROWS;
	// A float panel is converted and transposed per k-slice; the four-row
	// dots reach ~60 GFLOP/s per core already, so panels win only later.
	t->gemm_min_t[SW_F32] = t->gemm_min_t[SW_F16] = t->gemm_min_t[SW_BF16] = 48;
}

SW_AVX2_END
#endif

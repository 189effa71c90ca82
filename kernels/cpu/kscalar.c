// Portable scalar kernels: the SPILLWAY_CPU_ISA=scalar path and the slow
// reference the SIMD kernels are tested against. They compute the same
// integer sums as the SIMD kernels (same activation quantization), so the
// two paths differ only by float summation order.
#include <math.h>

#include "sw.h"
#include "fp.h"
#include "unpack.h"

int sw_xfmt(int wtype) {
	if (wtype == SW_Q4_0) return SW_X32G;
	if (sw_is_legacy(wtype)) return SW_X32;
	if (sw_is_kquant(wtype)) return SW_X256;
	return SW_X_F32;
}

size_t sw_xrow_bytes(int xfmt, int k) {
	size_t n;
	switch (xfmt) {
	case SW_X32: n = (size_t)k + 8 * (size_t)(k / QK); break;
	case SW_X32G: n = (size_t)k + 16 * (size_t)(k / QK) + 4; break;
	case SW_X256: n = (size_t)k + 4 * (size_t)(k / QKK) + 2 * (size_t)(k / 16); break;
	default: n = 4 * (size_t)k; break;
	}
	return (n + 63) & ~(size_t)63;
}

// Quantize n values by the inverse scale id, rounding to nearest even
// (what the SIMD conversion does); returns Σq.
static int quant_by(const float *x, int8_t *q, int n, float id) {
	int sum = 0;
	for (int i = 0; i < n; i++) {
		float v = nearbyintf(x[i] * id);
		int iv = (int)fminf(127.0f, fmaxf(-127.0f, v));
		q[i] = (int8_t)iv;
		sum += iv;
	}
	return sum;
}

static float amax_of(const float *x, int n) {
	float amax = 0;
	for (int i = 0; i < n; i++) amax = fmaxf(amax, fabsf(x[i]));
	return amax;
}

static float inv_of(float d) { return d != 0 ? 1.0f / d : 0.0f; }

// Quantize n values with scale d = amax/127, returning Σq.
static int quant_block(const float *x, int8_t *q, int n, float *dout) {
	float amax = amax_of(x, n);
	// Below 1e-30 the inverse scale would overflow; such a block is zero.
	float d = amax < 1e-30f ? 0.0f : amax / 127.0f;
	*dout = d;
	return quant_by(x, q, n, inv_of(d));
}

// The grid g = 2^e puts the largest scale dmax = amax/127 at m in
// [8192, 16384]; every other block rounds its amax/127 up to the next
// multiple of g (at least g), so its values still fit in ±127 and its
// scale is at most 1/m coarser than amax/127 (2^-13 for the largest).
// m·g and g are exact floats, and the scalings by 2^±e exact. A row
// without a finite scale keeps its scales and gets g = dmax, so its
// outputs are not finite either.
float sw_x32_grid(int nb, float *d) {
	float dmax = 0;
	for (int b = 0; b < nb; b++) {
		d[b] = d[b] < 1e-30f ? 0.0f : d[b] / 127.0f;
		dmax = fmaxf(dmax, d[b]);
	}
	if (dmax == 0) return 1.0f;
	if (!(dmax < INFINITY)) return dmax;
	int e;
	frexpf(dmax, &e); // dmax = f·2^e, f in [0.5, 1)
	float g = ldexpf(1.0f, e - 14), ig = ldexpf(1.0f, 14 - e);
	for (int b = 0; b < nb; b++) {
		if (d[b] == 0) continue;
		float t = d[b] * ig; // at most 16384
		int m = (int)t;
		m += (float)m < t;
		d[b] = (float)(m > 1 ? m : 1) * g;
	}
	return g;
}

static void xquant32(int k, const float *x, uint8_t *xq) {
	int nb = k / QK;
	float *d = (float *)(xq + k), *s = d + nb;
	for (int b = 0; b < nb; b++) {
		int sum = quant_block(x + QK * b, (int8_t *)xq + QK * b, QK, &d[b]);
		s[b] = d[b] * (float)sum;
	}
}

static void xquant32g(int k, const float *x, uint8_t *xq) {
	int nb = k / QK;
	float *d = (float *)(xq + k), *s = d + nb;
	int16_t *a = (int16_t *)x32_a(xq, k);
	const int8_t *q = (const int8_t *)xq;
	for (int b = 0; b < nb; b++) d[b] = amax_of(x + QK * b, QK);
	float g = sw_x32_grid(nb, d), ig = 1.0f / g;
	for (int b = 0; b < nb; b++) {
		int sum = quant_by(x + QK * b, (int8_t *)xq + QK * b, QK, inv_of(d[b])), z0 = 0, z1 = 0;
		s[b] = d[b] * (float)sum;
		for (int i = QK * b; i < QK * (b + 1); i += 4) {
			z0 += q[i] + q[i + 1];
			z1 += q[i + 2] + q[i + 3];
		}
		x32_set_aux(a + 4 * b, d[b], ig, z0, z1);
	}
	*(float *)x32_g(xq, k) = g;
}

static void xquant256(int k, const float *x, uint8_t *xq) {
	int nb = k / QKK;
	float *d = (float *)(xq + k);
	int16_t *bs = (int16_t *)(d + nb);
	for (int b = 0; b < nb; b++) {
		int8_t *q = (int8_t *)xq + QKK * b;
		quant_block(x + QKK * b, q, QKK, &d[b]);
		for (int j = 0; j < 16; j++) {
			int s = 0;
			for (int i = 0; i < 16; i++) s += q[16 * j + i];
			bs[16 * b + j] = (int16_t)s;
		}
	}
}

// Legacy types against X32: Σ_b d·dx·Σu·q + m·s (Q8_0: u is signed).
static float dot_legacy(int t, int k, const uint8_t *w, const uint8_t *x) {
	int nb = k / QK, bb = sw_block_bytes(t);
	const int8_t *q = (const int8_t *)x;
	const float *xd = x32_d(x, k), *xs = x32_s(x, k);
	float acc = 0;
	for (int b = 0; b < nb; b++) {
		uint8_t u[32];
		float d, m;
		sw_unpack32(t, w + (size_t)b * bb, u, &d, &m);
		int s = 0;
		for (int i = 0; i < QK; i++) s += (t == SW_Q8_0 ? (int8_t)u[i] : u[i]) * q[QK * b + i];
		acc += d * (xd[b] * (float)s) + m * xs[b];
	}
	return acc;
}

// k-quants against X256: Σ_b dx·(d·Σ_j sc_j·Σu·q − dmin·Σ_j mn_j·bsum_j).
static float dot_kquant(int t, int k, const uint8_t *w, const uint8_t *x) {
	int nb = k / QKK, bb = sw_block_bytes(t);
	const int8_t *q = (const int8_t *)x;
	const float *xd = x256_d(x, k);
	const int16_t *bs = x256_bs(x, k);
	float acc = 0;
	for (int b = 0; b < nb; b++) {
		uint8_t u[QKK];
		sw_kscales s;
		sw_unpack256(t, w + (size_t)b * bb, u, &s);
		const int8_t *qb = q + QKK * b;
		int isum = 0, msum = 0;
		for (int j = 0; j < QKK / s.sub; j++) {
			int p = 0;
			for (int i = j * s.sub; i < (j + 1) * s.sub; i++) p += u[i] * qb[i];
			int bsum = 0;
			for (int i = j * s.sub / 16; i < (j + 1) * s.sub / 16; i++) bsum += bs[16 * b + i];
			isum += s.sc[j] * p;
			msum += s.mn[j] * bsum;
		}
		acc += xd[b] * (s.d * (float)isum - s.dmin * (float)msum);
	}
	return acc;
}

#define DOT_WRAP(name, t)                                                       \
	static float name(int k, const uint8_t *w, const uint8_t *x) {          \
		return t >= SW_Q2_K ? dot_kquant(t, k, w, x) : dot_legacy(t, k, w, x); \
	}
DOT_WRAP(dot_q4_0, SW_Q4_0)
DOT_WRAP(dot_q4_1, SW_Q4_1)
DOT_WRAP(dot_q5_0, SW_Q5_0)
DOT_WRAP(dot_q5_1, SW_Q5_1)
DOT_WRAP(dot_q8_0, SW_Q8_0)
DOT_WRAP(dot_q2_k, SW_Q2_K)
DOT_WRAP(dot_q3_k, SW_Q3_K)
DOT_WRAP(dot_q4_k, SW_Q4_K)
DOT_WRAP(dot_q5_k, SW_Q5_K)
DOT_WRAP(dot_q6_k, SW_Q6_K)

// Float weights against F32 activations, four partial sums.
static float dot_f32(int k, const uint8_t *w, const uint8_t *x) {
	const float *a = (const float *)w, *b = (const float *)x;
	float s[4] = {0, 0, 0, 0};
	int i = 0;
	for (; i + 4 <= k; i += 4)
		for (int j = 0; j < 4; j++) s[j] += a[i + j] * b[i + j];
	for (; i < k; i++) s[0] += a[i] * b[i];
	return (s[0] + s[1]) + (s[2] + s[3]);
}

static float dot_half(int k, const uint8_t *w, const uint8_t *x, int bf) {
	const float *b = (const float *)x;
	float s[4] = {0, 0, 0, 0};
	int i = 0;
	for (; i + 4 <= k; i += 4)
		for (int j = 0; j < 4; j++) {
			uint16_t h = sw_ld16(w + 2 * (i + j));
			s[j] += (bf ? sw_b2f(h) : sw_h2f(h)) * b[i + j];
		}
	for (; i < k; i++) {
		uint16_t h = sw_ld16(w + 2 * i);
		s[0] += (bf ? sw_b2f(h) : sw_h2f(h)) * b[i];
	}
	return (s[0] + s[1]) + (s[2] + s[3]);
}
static float dot_f16(int k, const uint8_t *w, const uint8_t *x) { return dot_half(k, w, x, 0); }
static float dot_bf16(int k, const uint8_t *w, const uint8_t *x) { return dot_half(k, w, x, 1); }

static void silumul_scalar(int n, const float *g, const float *u, float *y) {
	for (int i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void scores_scalar(int hd, int nk, const float *q, const float *K, float scale, float *s) {
	for (int j = 0; j < nk; j++) s[j] = scale * dot_f32(hd, (const uint8_t *)(K + (size_t)j * hd), (const uint8_t *)q);
}

static void pv_scalar(int hd, int nk, const float *p, const float *V, float *acc) {
	for (int j = 0; j < nk; j++)
		for (int i = 0; i < hd; i++) acc[i] += p[j] * V[(size_t)j * hd + i];
}

static float fdot_scalar(int n, const float *a, const float *b) {
	return dot_f32(n, (const uint8_t *)a, (const uint8_t *)b);
}

static void fold_scalar(int hd, int nk, float *s, const float *V, float *m, float *l, float *acc) {
	float mx = s[0];
	for (int j = 1; j < nk; j++) mx = s[j] > mx ? s[j] : mx;
	if (mx > *m) {
		if (*l > 0) {
			float f = expf(*m - mx);
			*l *= f;
			for (int i = 0; i < hd; i++) acc[i] *= f;
		}
		*m = mx;
	}
	float sum = 0;
	for (int j = 0; j < nk; j++) {
		s[j] = expf(s[j] - *m);
		sum += s[j];
	}
	*l += sum;
	pv_scalar(hd, nk, s, V, acc);
}

// The reference: each of the 8 rows on its own.
static void attn8_scalar(int hd, int nk, const float *Q, const float *K, const float *V, float scale, float *m,
                         float *l, float *acc, float *work, sw_prefetch *pf) {
	for (int r = 0; r < 8; r++) {
		scores_scalar(hd, nk, Q + (size_t)r * hd, K, scale, work);
		fold_scalar(hd, nk, work, V, m + r, l + r, acc + (size_t)r * hd);
		sw_prefetch_some(pf, 12);
	}
}

static void rope_head_scalar(int ndims, int neox, const double *cs, float *y) {
	int half = ndims / 2;
	for (int i = 0; i < half; i++) {
		int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
		double x0 = y[i0], x1 = y[i1], c = cs[2 * i], sn = cs[2 * i + 1];
		y[i0] = (float)(x0 * c - x1 * sn);
		y[i1] = (float)(x0 * sn + x1 * c);
	}
}

static void gather_scalar(int t, const uint8_t *const *src, int n, int hd, float *dst) {
	for (int i = 0; i < n; i++) sw_to_f32(t, src[i], dst + (size_t)i * hd, hd);
}

const sw_isa_table sw_scalar_table = {
	.isa = SW_ISA_SCALAR,
	.name = "scalar",
	.dot = {
		[SW_F32] = dot_f32, [SW_F16] = dot_f16, [SW_BF16] = dot_bf16,
		[SW_Q4_0] = dot_q4_0, [SW_Q4_1] = dot_q4_1, [SW_Q5_0] = dot_q5_0,
		[SW_Q5_1] = dot_q5_1, [SW_Q8_0] = dot_q8_0, [SW_Q2_K] = dot_q2_k,
		[SW_Q3_K] = dot_q3_k, [SW_Q4_K] = dot_q4_k, [SW_Q5_K] = dot_q5_k,
		[SW_Q6_K] = dot_q6_k,
	},
	.xquant = {[SW_X32] = xquant32, [SW_X256] = xquant256, [SW_X32G] = xquant32g},
	.silumul = silumul_scalar,
	.fdot = fdot_scalar,
	.scores = scores_scalar,
	.fold = fold_scalar,
	.attn8 = attn8_scalar,
	.rope_head = rope_head_scalar,
	.to_f32 = sw_to_f32,
	.gather_f32 = gather_scalar,
	.from_f32 = sw_from_f32,
};

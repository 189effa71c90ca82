// MatMul driver: out (T, n) = x (T, k) @ w (n, k)ᵀ.
//
// Quantized weights: x is quantized once per call (X32 or X256; rows of x
// spread over the pool when there are many), then rows of w are handed out
// in chunks through the pool's counter. Small T (decode) uses dot products
// of each w row with up to four x rows at a time, w chunks sized to stay in
// cache across the T rows; from the ISA's per-type gemm_min_t on, the
// panel kernel repacks 8 or 16 rows of w once and sweeps all T rows of x
// with register tiles. Weights packed ahead (pack.c) go to
// matmul_packed.c instead.
#include "sw.h"
#include "gemm.h"
#include "ops.h"

typedef struct {
	sw_ctx *c;
	sw_mm mm;
	const float *xf; // (T, k) F32 activations
	int xfmt;
	int gemm;        // use the panel kernel
	int unit;        // rows of w per work unit
	int nunits;
} mm_job;

// Rows [r0, r1) of w against every row of x with dotr: 8 rows of w and
// up to 4 of x a call, in sub-chunks of 16 rows that stay in cache.
static void dotr_rows(const sw_mm *mm, sw_dotr_fn dotr, int r0, int r1) {
	for (int a = r0; a < r1; a += 16) {
		int b = a + 16 < r1 ? a + 16 : r1;
		for (int t = 0; t < mm->T; t += 4) {
			int nx = mm->T - t < 4 ? mm->T - t : 4;
			for (int r = a; r < b; r += 8)
				dotr(mm->k, mm->w + (size_t)r * mm->wstride, mm->wstride, b - r < 8 ? b - r : 8,
				     mm->x + (size_t)t * mm->xstride, mm->xstride, nx, mm->out + (size_t)t * mm->ldo + r, mm->ldo);
		}
	}
}

static void dot_rows(const sw_mm *mm, const sw_isa_table *k, int r0, int r1) {
	sw_dot_fn dot = k->dot[mm->wtype];
	sw_dotn_fn dotn = k->dotn[mm->wtype];
	if (k->dotr[mm->wtype]) {
		dotr_rows(mm, k->dotr[mm->wtype], r0, r1);
		return;
	}
	// Sub-chunks of 16 rows keep those rows of w in L1/L2 while the x rows
	// pass over them, up to four at a time.
	for (int a = r0; a < r1; a += 16) {
		int b = a + 16 < r1 ? a + 16 : r1;
		for (int t = 0; t < mm->T; t += 4) {
			int nx = mm->T - t < 4 ? mm->T - t : 4;
			const uint8_t *x = mm->x + (size_t)t * mm->xstride;
			float *o = mm->out + (size_t)t * mm->ldo;
			for (int r = a; r < b; r++) {
				const uint8_t *w = mm->w + (size_t)r * mm->wstride;
				if (nx == 1) o[r] = dot(mm->k, w, x);
				else if (dotn) dotn(mm->k, w, x, mm->xstride, nx, o + r, mm->ldo);
				else
					for (int i = 0; i < nx; i++) o[(size_t)i * mm->ldo + r] = dot(mm->k, w, x + (size_t)i * mm->xstride);
			}
		}
	}
}

static void quant_task(void *arg, int ith, int nth) {
	(void)ith, (void)nth;
	mm_job *j = arg;
	sw_mm *mm = &j->mm;
	sw_xquant_fn q = j->c->k->xquant[j->xfmt];
	for (int t; (t = sw_pool_next(j->c->pool)) < mm->T;)
		q(mm->k, j->xf + (size_t)t * mm->k, (uint8_t *)mm->x + (size_t)t * mm->xstride);
}

static void mm_task(void *arg, int ith, int nth) {
	(void)nth;
	mm_job *j = arg;
	sw_mm *mm = &j->mm;
	sw_gemm_fn gemm = j->c->k->gemm[mm->wtype];
	for (int u; (u = sw_pool_next(j->c->pool)) < j->nunits;) {
		int r0 = u * j->unit, r1 = r0 + j->unit < mm->n ? r0 + j->unit : mm->n;
		if (j->gemm) gemm(mm, r0, r1 - r0, j->c->tscratch[ith]);
		else dot_rows(mm, j->c->k, r0, r1);
	}
}

// Work unit: a panel for the GEMM path; for dots about eight units per
// thread so a slow thread does not hold the others up.
static void plan(mm_job *j, int nth) {
	int n = j->mm.n;
	if (j->gemm) {
		j->unit = j->c->k->gemm_rows[j->mm.wtype];
	} else {
		int u = (n + nth * 8 - 1) / (nth * 8);
		j->unit = u < 4 ? 4 : u;
		if (j->c->k->dotr[j->mm.wtype]) j->unit = (j->unit + 7) & ~7; // whole groups of 8 rows
	}
	j->nunits = (n + j->unit - 1) / j->unit;
}

int sw_op_matmul(sw_ctx *c, sw_tensor out, sw_tensor x, sw_tensor w, const uint8_t *packed) {
	if (packed) return sw_op_matmul_packed(c, 1, (sw_tensors){{out}}, x, (sw_tensors){{w}}, (sw_packs){{packed}});
	int T = x.rows, k = x.cols, n = w.rows;
	if (T == 0 || n == 0) return 0;
	int xfmt = sw_xfmt(w.type);
	size_t xs = sw_xrow_bytes(xfmt, k);
	// Shared scratch: quantized x | x as F32 | out as F32 (the last two
	// only when those tensors are not F32 already).
	size_t qbytes = xfmt == SW_X_F32 ? 0 : (size_t)T * xs;
	size_t xbytes = x.type == SW_F32 ? 0 : (size_t)T * k * 4;
	size_t obytes = out.type == SW_F32 ? 0 : (size_t)T * n * 4;
	qbytes = (qbytes + 63) & ~(size_t)63;
	xbytes = (xbytes + 63) & ~(size_t)63;
	mm_job j = {.c = c, .xfmt = xfmt};
	j.gemm = c->k->gemm[w.type] != NULL && T >= c->k->gemm_min_t[w.type];
	size_t per = j.gemm ? sw_panel_scratch(w.type, k) : 0;
	if (sw_ctx_reserve(c, qbytes + xbytes + obytes, per) != 0) return -1;
	uint8_t *s = c->scratch;
	const float *xf = (const float *)x.data;
	if (xbytes) xf = sw_mm_rows_to_f32(c, x, (float *)(s + qbytes));
	float *of = obytes ? (float *)(s + qbytes + xbytes) : (float *)out.data;
	j.xf = xf;
	j.mm = (sw_mm){
		.T = T, .n = n, .k = k, .wtype = w.type, .w = w.data, .wstride = sw_row_bytes(w.type, k),
		.x = xfmt == SW_X_F32 ? (const uint8_t *)xf : s, .xstride = xfmt == SW_X_F32 ? (size_t)k * 4 : xs,
		.out = of, .ldo = (size_t)n,
	};
	plan(&j, c->nth);
	if (xfmt != SW_X_F32) {
		sw_pool_reset_counter(c->pool);
		if (T < 4) quant_task(&j, 0, 1);
		else sw_pool_run(c->pool, quant_task, &j);
	}
	sw_pool_reset_counter(c->pool);
	sw_pool_run(c->pool, mm_task, &j);
	if (obytes) sw_mm_rows_from_f32(c, of, out);
	return 0;
}

const float *sw_mm_rows_to_f32(sw_ctx *c, sw_tensor x, float *dst) {
	for (int t = 0; t < x.rows; t++)
		c->k->to_f32(x.type, x.data + (size_t)t * sw_row_bytes(x.type, x.cols), dst + (size_t)t * x.cols, x.cols);
	return dst;
}

void sw_mm_rows_from_f32(sw_ctx *c, const float *src, sw_tensor out) {
	for (int t = 0; t < out.rows; t++)
		c->k->from_f32(out.type, src + (size_t)t * out.cols, out.data + (size_t)t * sw_row_bytes(out.type, out.cols),
		               out.cols);
}

size_t sw_op_xquant(sw_ctx *c, int wtype, int k, const float *x, uint8_t *xq) {
	int f = sw_xfmt(wtype);
	if (f == SW_X_F32 || !xq) return f == SW_X_F32 ? 0 : sw_xrow_bytes(f, k);
	c->k->xquant[f](k, x, xq);
	return sw_xrow_bytes(f, k);
}

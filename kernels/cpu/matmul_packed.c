// MatMul driver for packed weights (pack.c): outs[i] (T, n_i) = x (T, k) @
// ws[i] (n_i, k)ᵀ for up to SW_MAXW weights of one type that read the same
// x (attention's q, k, v; the FFN's gate and up). x is quantized once, and
// the panels of all the weights are one pool of work units, so the threads
// pass through the pool once and finish together instead of idling at the
// end of each weight.
//
// Rows of x go in chunks of PK_TCHUNK that stay in L2 while the panels
// stream past; units are taken chunk by chunk, so the threads share one
// chunk. A unit is a run of panels of one weight.
#include "sw.h"
#include "gemm.h"
#include "ops.h"

#define PK_TCHUNK 64

typedef struct {
	sw_mm mm;      // mm.w: the packed twin, mm.wstride: bytes per panel
	int npan, ppu; // panels; panels per unit
	int ufirst;    // first unit of this weight within a chunk
} pk_part;

typedef struct {
	sw_ctx *c;
	const float *xf; // (T, k) F32 activations
	int nw, upc, nunits;
	pk_part part[SW_MAXW];
} pk_job;

static void pk_quant(void *arg, int ith, int nth) {
	(void)ith, (void)nth;
	pk_job *j = arg;
	const sw_mm *mm = &j->part[0].mm;
	sw_xquant_fn q = j->c->k->xquant[sw_xfmt(mm->wtype)];
	for (int t; (t = sw_pool_next(j->c->pool)) < mm->T;) {
		uint8_t *row = (uint8_t *)mm->x + (size_t)t * mm->xstride;
		q(mm->k, j->xf + (size_t)t * mm->k, row);
	}
}

static void pk_task(void *arg, int ith, int nth) {
	(void)nth;
	pk_job *j = arg;
	sw_pgemm_fn f = j->c->k->pgemm[j->part[0].mm.wtype];
	for (int u; (u = sw_pool_next(j->c->pool)) < j->nunits;) {
		int ch = u / j->upc, v = u % j->upc, i = 0;
		while (i + 1 < j->nw && v >= j->part[i + 1].ufirst) i++;
		const pk_part *p = &j->part[i];
		int T = p->mm.T, t0 = ch * PK_TCHUNK, t1 = t0 + PK_TCHUNK < T ? t0 + PK_TCHUNK : T;
		int p0 = (v - p->ufirst) * p->ppu, p1 = p0 + p->ppu < p->npan ? p0 + p->ppu : p->npan;
		f(&p->mm, p0, p1, t0, t1, j->c->tscratch[ith]);
	}
}

// A unit is a few µs of work: at T=1 about 16 per thread stream the panels
// in long runs; with more rows of x a panel costs more, and smaller units
// keep a thread from idling at the end while another finishes a long one.
static void pk_plan(pk_job *j, int nth, int T) {
	int tc = T < PK_TCHUNK ? T : PK_TCHUNK, total = 0;
	int pr = sw_pk_rows(j->part[0].mm.wtype);
	for (int i = 0; i < j->nw; i++) total += (j->part[i].mm.n + pr - 1) / pr;
	int ppu = total / (nth * 16) * 4 / (tc + 3);
	if (ppu < 1) ppu = 1;
	j->upc = 0;
	for (int i = 0; i < j->nw; i++) {
		pk_part *p = &j->part[i];
		p->npan = (p->mm.n + pr - 1) / pr;
		p->ppu = ppu;
		p->ufirst = j->upc;
		j->upc += (p->npan + ppu - 1) / ppu;
	}
	j->nunits = j->upc * ((T + PK_TCHUNK - 1) / PK_TCHUNK);
}

int sw_op_matmul_packed(sw_ctx *c, int nw, sw_tensors out_, sw_tensor x, sw_tensors w_, sw_packs packed_) {
	const sw_tensor *outs = out_.t, *ws = w_.t;
	const uint8_t *const *packed = packed_.p;
	int T = x.rows, k = x.cols, wt = ws[0].type;
	if (T == 0 || nw <= 0 || nw > SW_MAXW) return 0;
	int xfmt = sw_xfmt(wt);
	size_t xs = sw_xrow_bytes(xfmt, k);
	// Shared scratch: quantized x | x as F32 | outs as F32 (the last two
	// only when those tensors are not F32 already).
	size_t qbytes = ((size_t)T * xs + 63) & ~(size_t)63;
	size_t xbytes = x.type == SW_F32 ? 0 : ((size_t)T * k * 4 + 63) & ~(size_t)63;
	size_t obytes[SW_MAXW], ototal = 0;
	for (int i = 0; i < nw; i++) {
		obytes[i] = outs[i].type == SW_F32 ? 0 : ((size_t)T * ws[i].rows * 4 + 63) & ~(size_t)63;
		ototal += obytes[i];
	}
	if (sw_ctx_reserve(c, qbytes + xbytes + ototal, sw_pk_scratch(wt, k, T < PK_TCHUNK ? T : PK_TCHUNK)) != 0) return -1;
	uint8_t *s = c->scratch;
	const float *xf = (const float *)x.data;
	if (xbytes) xf = sw_mm_rows_to_f32(c, x, (float *)(s + qbytes));
	pk_job j = {.c = c, .xf = xf, .nw = nw};
	uint8_t *ob = s + qbytes + xbytes;
	for (int i = 0; i < nw; i++) {
		float *of = obytes[i] ? (float *)ob : (float *)outs[i].data;
		ob += obytes[i];
		j.part[i].mm = (sw_mm){
			.T = T, .n = ws[i].rows, .k = k, .wtype = wt, .w = packed[i], .wstride = sw_pk_panel_bytes(wt, k),
			.x = s, .xstride = xs, .out = of, .ldo = (size_t)ws[i].rows,
		};
	}
	pk_plan(&j, c->nth, T);
	sw_pool_reset_counter(c->pool);
	if (T < 4) pk_quant(&j, 0, 1);
	else sw_pool_run(c->pool, pk_quant, &j);
	sw_pool_reset_counter(c->pool);
	sw_pool_run(c->pool, pk_task, &j);
	for (int i = 0; i < nw; i++)
		if (obytes[i]) sw_mm_rows_from_f32(c, j.part[i].mm.out, outs[i]);
	return 0;
}

int sw_pack_min_t(sw_ctx *c, int type) { return type >= 0 && type < SW_NTYPES ? c->k->pk_min_t[type] : 0; }

size_t sw_pack_bytes(sw_ctx *c, int type, int rows, int cols) {
	if (type < 0 || type >= SW_NTYPES || !c->k->pack[type] || !c->k->pgemm[type] || cols % QK != 0) return 0;
	size_t pr = (size_t)sw_pk_rows(type), npan = ((size_t)rows + pr - 1) / pr;
	return npan * sw_pk_panel_bytes(type, cols);
}

typedef struct {
	sw_ctx *c;
	sw_tensor w;
	uint8_t *dst;
	int npan;
} pack_job;

static void pack_task(void *arg, int ith, int nth) {
	(void)ith, (void)nth;
	pack_job *j = arg;
	sw_pack_fn f = j->c->k->pack[j->w.type];
	size_t ws = sw_row_bytes(j->w.type, j->w.cols);
	for (int p; (p = sw_pool_next(j->c->pool)) < j->npan;) f(j->w.cols, j->w.rows, j->w.data, ws, p, p + 1, j->dst);
}

void sw_op_pack(sw_ctx *c, sw_tensor w, uint8_t *dst) {
	pack_job j = {.c = c, .w = w, .dst = dst, .npan = (w.rows + sw_pk_rows(w.type) - 1) / sw_pk_rows(w.type)};
	sw_pool_reset_counter(c->pool);
	sw_pool_run(c->pool, pack_task, &j);
}

// Row-wise ops: Embed, RMSNorm, Add, SiLUMul, RoPE, StoreKV. Each works a
// row at a time in F32 (converting F16/BF16 rows through per-thread
// scratch) and spreads rows over the pool when there is enough work to
// repay a dispatch.
#include <math.h>

#include "sw.h"
#include "ops.h"

// Below this many elements an op runs on the calling thread alone: a pool
// dispatch costs a few microseconds.
#define PAR_MIN 16384

enum { OP_EMBED, OP_RMSNORM, OP_ADD, OP_SILUMUL, OP_STOREKV };

typedef struct {
	sw_ctx *c;
	int op, T, d, chunk;
	sw_tensor out, a, b, w; // b: second input (Add, SiLUMul); w: norm weight
	const int32_t *idx;     // Embed ids / StoreKV slots
	float eps;
} row_job;

static size_t rbytes(int t, int n) { return sw_row_bytes(t, n); }

// Row r of tensor x as F32: in place when x is F32, else converted into tmp.
static const float *row_f32(sw_ctx *c, const sw_tensor *x, int r, float *tmp, int n) {
	const uint8_t *p = x->data + (size_t)r * rbytes(x->type, n);
	if (x->type == SW_F32) return (const float *)p;
	c->k->to_f32(x->type, p, tmp, n);
	return tmp;
}

static void rms_row(sw_ctx *c, const float *x, const float *w, float *y, int d, float eps) {
	float ss = c->k->fdot(d, x, x);
	float inv = (float)(1.0 / sqrt((double)ss / d + (double)eps));
	for (int i = 0; i < d; i++) y[i] = x[i] * (inv * w[i]);
}

// One output row of an elementwise op; tmp holds 4·d floats.
static void do_row(row_job *j, int t, float *tmp) {
	sw_ctx *c = j->c;
	int d = j->d;
	float *ta = tmp, *tb = tmp + d, *ty = tmp + 2 * d, *te = tmp + 3 * d;
	float *y = j->out.type == SW_F32 ? (float *)(j->out.data + (size_t)t * 4 * d) : ty;
	switch (j->op) {
	case OP_EMBED:
		sw_dequant_row(j->a.type, j->a.data + (size_t)j->idx[t] * rbytes(j->a.type, d), y, d);
		break;
	case OP_RMSNORM: {
		const float *w = row_f32(c, &j->w, 0, te, d);
		rms_row(c, row_f32(c, &j->a, t, ta, d), w, y, d, j->eps);
		break;
	}
	case OP_ADD: {
		const float *a = row_f32(c, &j->a, t, ta, d);
		const float *b = row_f32(c, &j->b, j->b.rows == 1 ? 0 : t, tb, d);
		for (int i = 0; i < d; i++) y[i] = a[i] + b[i];
		break;
	}
	case OP_SILUMUL:
		c->k->silumul(d, row_f32(c, &j->a, t, ta, d), row_f32(c, &j->b, t, tb, d), y);
		break;
	case OP_STOREKV: {
		// a = k, b = v; out = K cache, w = V cache (rows are slots).
		size_t rb = rbytes(j->out.type, d);
		c->k->from_f32(j->out.type, row_f32(c, &j->a, t, ta, d), j->out.data + (size_t)j->idx[t] * rb, d);
		c->k->from_f32(j->w.type, row_f32(c, &j->b, t, tb, d), j->w.data + (size_t)j->idx[t] * rb, d);
		return;
	}
	}
	if (y == ty) c->k->from_f32(j->out.type, y, j->out.data + (size_t)t * rbytes(j->out.type, d), d);
}

// Rows are claimed in chunks of `chunk` (see sw_pool_run).
static void row_task(void *arg, int ith, int nth) {
	(void)nth;
	row_job *j = arg;
	float *tmp = j->c->tscratch[ith];
	for (int u; (u = sw_pool_next(j->c->pool)) * j->chunk < j->T;)
		for (int t = u * j->chunk; t < j->T && t < (u + 1) * j->chunk; t++) do_row(j, t, tmp);
}

static int run_rows(row_job *j) {
	if (sw_ctx_reserve(j->c, 0, (size_t)16 * j->d) != 0) return -1;
	// About four claims per thread; rounding up rather than adding one
	// keeps small batches even (16 rows on 2 threads: 8 claims of 2).
	j->chunk = (j->T + 4 * j->c->nth - 1) / (4 * j->c->nth);
	sw_pool_reset_counter(j->c->pool);
	if ((size_t)j->T * j->d < PAR_MIN || j->T == 1) row_task(j, 0, 1);
	else sw_pool_run(j->c->pool, row_task, j);
	return 0;
}

int sw_op_embed(sw_ctx *c, sw_tensor out, sw_tensor table, const int32_t *ids, int T) {
	row_job j = {.c = c, .op = OP_EMBED, .T = T, .d = table.cols, .out = out, .a = table, .idx = ids};
	return run_rows(&j);
}

int sw_op_rmsnorm(sw_ctx *c, sw_tensor out, sw_tensor x, sw_tensor w, float eps) {
	row_job j = {.c = c, .op = OP_RMSNORM, .T = x.rows, .d = x.cols, .out = out, .a = x, .w = w, .eps = eps};
	return run_rows(&j);
}

int sw_op_add(sw_ctx *c, sw_tensor out, sw_tensor a, sw_tensor b) {
	row_job j = {.c = c, .op = OP_ADD, .T = a.rows, .d = a.cols, .out = out, .a = a, .b = b};
	return run_rows(&j);
}

int sw_op_silumul(sw_ctx *c, sw_tensor out, sw_tensor gate, sw_tensor up) {
	row_job j = {.c = c, .op = OP_SILUMUL, .T = gate.rows, .d = gate.cols, .out = out, .a = gate, .b = up};
	return run_rows(&j);
}

int sw_op_storekv(sw_ctx *c, sw_tensor kc, sw_tensor vc, sw_tensor k, sw_tensor v, const int32_t *slots) {
	row_job j = {.c = c, .op = OP_STOREKV, .T = k.rows, .d = k.cols, .out = kc, .w = vc, .a = k, .b = v, .idx = slots};
	return run_rows(&j);
}

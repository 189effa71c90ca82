// RoPE: rotate pairs of every head in place. Angles follow
// kernels.RoPEParams.Theta exactly (float64: pos·FreqScale·Base^(-2i/NDims)
// / FreqFactors[i]) and the rotation is done in float64 like the reference,
// so the only differences are the libm's last bits of pow/cos/sin.
#include <math.h>

#include "sw.h"
#include "ops.h"

typedef struct {
	sw_ctx *c;
	sw_tensor x;
	const int32_t *pos;
	sw_rope p;
	const double *pw; // (ndims/2,) Base^(-2i/NDims)
} rope_job;

static void rope_row(const rope_job *j, int t, float *row, double *cs) {
	const sw_rope *p = &j->p;
	int half = p->ndims / 2, d = j->x.cols;
	double s = p->freq_scale == 0 ? 1.0 : (double)p->freq_scale;
	for (int i = 0; i < half; i++) {
		double th = (double)j->pos[t] * s * j->pw[i];
		if (p->freq_factors) th /= (double)p->freq_factors[i];
		cs[2 * i] = cos(th);
		cs[2 * i + 1] = sin(th);
	}
	size_t rb = sw_row_bytes(j->x.type, d);
	uint8_t *src = j->x.data + (size_t)t * rb;
	float *y = j->x.type == SW_F32 ? (float *)src : row;
	if (y == row) j->c->k->to_f32(j->x.type, src, row, d);
	for (int h = 0; h < d; h += p->head_dim) {
		for (int i = 0; i < half; i++) {
			int i0 = p->neox ? h + i : h + 2 * i, i1 = p->neox ? h + i + half : h + 2 * i + 1;
			double x0 = y[i0], x1 = y[i1], c = cs[2 * i], sn = cs[2 * i + 1];
			y[i0] = (float)(x0 * c - x1 * sn);
			y[i1] = (float)(x0 * sn + x1 * c);
		}
	}
	if (y == row) j->c->k->from_f32(j->x.type, row, src, d);
}

static void rope_task(void *arg, int ith, int nth) {
	(void)nth;
	const rope_job *j = arg;
	float *row = j->c->tscratch[ith];                     // (d,)
	double *cs = (double *)(row + ((j->x.cols + 1) & ~1)); // (ndims,)
	for (int t; (t = sw_pool_next(j->c->pool)) < j->x.rows;) rope_row(j, t, row, cs);
}

int sw_op_rope(sw_ctx *c, sw_tensor x, const int32_t *pos, sw_rope p) {
	int half = p.ndims / 2;
	size_t need = 4 * ((size_t)x.cols + 2) + 8 * (size_t)p.ndims;
	if (sw_ctx_reserve(c, 8 * (size_t)half, need) != 0) return -1;
	double *pw = c->scratch;
	for (int i = 0; i < half; i++) pw[i] = pow((double)p.base, -2.0 * i / p.ndims);
	rope_job j = {.c = c, .x = x, .pos = pos, .p = p, .pw = pw};
	sw_pool_reset_counter(c->pool);
	if ((size_t)x.rows * x.cols < 16384 || x.rows == 1) rope_task(&j, 0, 1);
	else sw_pool_run(c->pool, rope_task, &j);
	return 0;
}

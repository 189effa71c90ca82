// RoPE: rotate pairs of every head in place. Angles follow
// kernels.RoPEParams.Theta exactly (float64: pos·FreqScale·Base^(-2i/NDims)
// / FreqFactors[i]) and the rotation is done in float64 like the reference,
// so the only differences are the libm's last bits of pow/cos/sin.
//
// A forward pass rotates q and k of every layer at the same positions with
// the same parameters, so the cos and sin of each row's angles are kept in
// the context (a memo of the last few calls' rows): all calls of a step
// but the first reuse them instead of paying ndims/2 cos and sin per row.
// Reused values are the very doubles a fresh computation gives, so results
// do not depend on what ran before.
#include <math.h>
#include <stdlib.h>

#include "sw.h"
#include "ops.h"

#define NMEMO 2 // parameter sets kept (models may alternate two, e.g. local and global layers)

// The cos and sin of one call's rows, keyed by its parameters and positions.
typedef struct {
	int ndims, T, ok; // ok: cs holds every row (a failed or new fill does not)
	float base, freq_scale;
	int has_factors;
	uint64_t stamp;   // last use, for replacement
	void *mem;        // one allocation: pos, factors, cs
	size_t cap;       // its bytes
	int32_t *pos;     // (T,)
	float *factors;   // (ndims/2,)
	double *cs;       // (T, ndims): cos and sin of pair i at 2i, 2i+1
} rope_memo;

struct sw_rope_cache {
	rope_memo m[NMEMO];
	uint64_t clock;
};

void sw_rope_cache_free(struct sw_rope_cache *rc) {
	if (!rc) return;
	for (int i = 0; i < NMEMO; i++) sw_free(rc->m[i].mem);
	free(rc);
}

static int memo_matches(const rope_memo *e, const int32_t *pos, int T, const sw_rope *p) {
	if (!e->ok || e->T != T || e->ndims != p->ndims || e->has_factors != (p->freq_factors != NULL)) return 0;
	if (memcmp(&e->base, &p->base, 4) != 0 || memcmp(&e->freq_scale, &p->freq_scale, 4) != 0) return 0;
	if (p->freq_factors && memcmp(e->factors, p->freq_factors, 4 * (size_t)(p->ndims / 2)) != 0) return 0;
	return memcmp(e->pos, pos, 4 * (size_t)T) == 0;
}

// The memo entry for this call: a filled one (*hit = 1), else the least
// recently used one, keyed for this call and ready to be filled. NULL when
// memory is exhausted.
static rope_memo *memo_get(sw_ctx *c, const int32_t *pos, int T, const sw_rope *p, int *hit) {
	if (!c->rope && !(c->rope = calloc(1, sizeof *c->rope))) return NULL;
	struct sw_rope_cache *rc = c->rope;
	rope_memo *e = &rc->m[0];
	for (int i = 0; i < NMEMO; i++) {
		if (memo_matches(&rc->m[i], pos, T, p)) {
			rc->m[i].stamp = ++rc->clock;
			*hit = 1;
			return &rc->m[i];
		}
		if (rc->m[i].stamp < e->stamp) e = &rc->m[i];
	}
	int half = p->ndims / 2;
	size_t pb = (4 * (size_t)T + 7) & ~(size_t)7, fb = (4 * (size_t)half + 7) & ~(size_t)7;
	size_t need = pb + fb + 8 * (size_t)T * p->ndims;
	if (need > e->cap) {
		void *mem = sw_alloc(need);
		if (!mem) return NULL;
		sw_free(e->mem);
		e->mem = mem;
		e->cap = need;
	}
	e->pos = e->mem;
	e->factors = (float *)((uint8_t *)e->mem + pb);
	e->cs = (double *)((uint8_t *)e->mem + pb + fb);
	e->ok = 0;
	e->ndims = p->ndims;
	e->T = T;
	e->base = p->base;
	e->freq_scale = p->freq_scale;
	e->has_factors = p->freq_factors != NULL;
	memcpy(e->pos, pos, 4 * (size_t)T);
	if (p->freq_factors) memcpy(e->factors, p->freq_factors, 4 * (size_t)half);
	e->stamp = ++rc->clock;
	*hit = 0;
	return e;
}

typedef struct {
	sw_ctx *c;
	sw_tensor x;
	const int32_t *pos;
	sw_rope p;
	const double *pw; // (ndims/2,) Base^(-2i/NDims); NULL when cs is filled
	double *cs;       // (T, ndims) from the memo
} rope_job;

// The angles of row t: cos and sin into cs (ndims,).
static void row_angles(const rope_job *j, int t, double *cs) {
	const sw_rope *p = &j->p;
	double s = p->freq_scale == 0 ? 1.0 : (double)p->freq_scale;
	for (int i = 0; i < p->ndims / 2; i++) {
		double th = (double)j->pos[t] * s * j->pw[i];
		if (p->freq_factors) th /= (double)p->freq_factors[i];
		cs[2 * i] = cos(th);
		cs[2 * i + 1] = sin(th);
	}
}

static void rope_row(const rope_job *j, int t, float *row) {
	const sw_rope *p = &j->p;
	int d = j->x.cols;
	double *cs = j->cs + (size_t)t * p->ndims;
	if (j->pw) row_angles(j, t, cs);
	size_t rb = sw_row_bytes(j->x.type, d);
	uint8_t *src = j->x.data + (size_t)t * rb;
	float *y = j->x.type == SW_F32 ? (float *)src : row;
	if (y == row) j->c->k->to_f32(j->x.type, src, row, d);
	for (int h = 0; h < d; h += p->head_dim) j->c->k->rope_head(p->ndims, p->neox, cs, y + h);
	if (y == row) j->c->k->from_f32(j->x.type, row, src, d);
}

static void rope_task(void *arg, int ith, int nth) {
	(void)nth;
	const rope_job *j = arg;
	float *row = j->c->tscratch[ith]; // (d,)
	for (int t; (t = sw_pool_next(j->c->pool)) < j->x.rows;) rope_row(j, t, row);
}

int sw_op_rope(sw_ctx *c, sw_tensor x, const int32_t *pos, sw_rope p) {
	int half = p.ndims / 2, hit;
	if (sw_ctx_reserve(c, 8 * (size_t)half, 4 * (size_t)x.cols) != 0) return -1;
	rope_memo *e = memo_get(c, pos, x.rows, &p, &hit);
	if (!e) return -1;
	double *pw = NULL;
	if (!hit) {
		pw = c->scratch;
		for (int i = 0; i < half; i++) pw[i] = pow((double)p.base, -2.0 * i / p.ndims);
	}
	rope_job j = {.c = c, .x = x, .pos = pos, .p = p, .pw = pw, .cs = e->cs};
	// A row whose angles are known costs a few ns per pair: only big
	// batches repay a pool dispatch then.
	size_t par = hit ? 65536 : 16384;
	sw_pool_reset_counter(c->pool);
	if ((size_t)x.rows * x.cols < par || x.rows == 1) rope_task(&j, 0, 1);
	else sw_pool_run(c->pool, rope_task, &j);
	e->ok = 1;
	return 0;
}

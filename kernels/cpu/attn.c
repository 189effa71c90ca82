// Paged attention over a batch mixing prefill chunks and decodes.
//
// Work items are (sequence, kv head, tile of up to QTILE queries); the pool
// hands them out through an atomic counter. An item walks its keys in
// chunks of up to KCH positions (gathered through the block table),
// converts each chunk of K and V to F32 once, and serves every query head
// of the kv group (GQA) and every query of the tile from it with an online
// softmax: per query row a running max m, sum l and accumulator acc (hd,),
// rescaled when the max grows. All arithmetic is F32.
#include <math.h>

#include "sw.h"
#include "ops.h"

#define QTILE 16 // queries per work item
#define KCH 64   // keys per chunk

typedef struct {
	int seq, kvh, q0, q1; // query rows [q0, q1) of the sequence (local indices)
} item;

typedef struct {
	sw_ctx *c;
	sw_tensor out, q, kc, vc;
	sw_attn a;
	const item *items;
	int nitems, group;
} attn_job;

// Scratch of one thread for an item of R query rows: m, l (R,), acc (R, hd),
// K and V chunks (KCH, hd), scores (KCH,).
static size_t item_floats(int R, int hd) { return 2 * (size_t)R + (size_t)R * hd + 2 * (size_t)KCH * hd + KCH; }

static int lo_of(const sw_attn *a, int p) { return a->window > 0 && p - a->window + 1 > 0 ? p - a->window + 1 : 0; }

// Convert positions [p0, p0+n) of kv head h of cache tensor t to F32.
static void load_chunk(const attn_job *j, const sw_tensor *t, const int32_t *table, int p0, int n, int kvh,
                       float *dst) {
	int hd = j->a.head_dim, bs = j->a.block_size;
	size_t rb = sw_row_bytes(t->type, j->a.nkv * hd), eb = sw_row_bytes(t->type, hd);
	const uint8_t *src[KCH];
	for (int i = 0; i < n; i++) {
		int p = p0 + i;
		src[i] = t->data + (size_t)(table[p / bs] * bs + p % bs) * rb + (size_t)kvh * eb;
	}
	j->c->k->gather_f32(t->type, src, n, hd, dst);
}

static void run_item(const attn_job *j, const item *it, float *buf) {
	const sw_attn *a = &j->a;
	int hd = a->head_dim, G = j->group, nq = a->qstart[it->seq + 1] - a->qstart[it->seq];
	int ctx = a->ctxlen[it->seq], base = ctx - nq, nrow = (it->q1 - it->q0) * G;
	float *m = buf, *l = m + nrow, *acc = l + nrow, *K = acc + (size_t)nrow * hd, *V = K + KCH * hd, *s = V + KCH * hd;
	for (int r = 0; r < nrow; r++) {
		m[r] = -INFINITY;
		l[r] = 0;
	}
	memset(acc, 0, sizeof(float) * (size_t)nrow * hd);
	const int32_t *table = a->tables + a->toff[it->seq];
	int plo = lo_of(a, base + it->q0), phi = base + it->q1; // keys [plo, phi)
	for (int p0 = plo; p0 < phi;) {
		int p1 = p0 + KCH < phi ? p0 + KCH : phi;
		load_chunk(j, &j->kc, table, p0, p1 - p0, it->kvh, K);
		load_chunk(j, &j->vc, table, p0, p1 - p0, it->kvh, V);
		for (int qi = it->q0; qi < it->q1; qi++) {
			int p = base + qi, lo = lo_of(a, p);
			int j0 = (lo > p0 ? lo : p0) - p0, j1 = (p + 1 < p1 ? p + 1 : p1) - p0;
			if (j0 >= j1) continue;
			for (int g = 0; g < G; g++) {
				int h = it->kvh * G + g, r = (qi - it->q0) * G + g;
				const float *qv = (const float *)j->q.data + (size_t)(a->qstart[it->seq] + qi) * j->q.cols + (size_t)h * hd;
				j->c->k->scores(hd, j1 - j0, qv, K + (size_t)j0 * hd, a->scale, s + j0);
				j->c->k->fold(hd, j1 - j0, s + j0, V + (size_t)j0 * hd, &m[r], &l[r], acc + (size_t)r * hd);
			}
		}
		p0 = p1;
	}
	for (int qi = it->q0; qi < it->q1; qi++)
		for (int g = 0; g < G; g++) {
			int h = it->kvh * G + g, r = (qi - it->q0) * G + g;
			float *o = (float *)j->out.data + (size_t)(a->qstart[it->seq] + qi) * j->out.cols + (size_t)h * hd;
			float inv = 1.0f / l[r];
			for (int i = 0; i < hd; i++) o[i] = acc[(size_t)r * hd + i] * inv;
		}
}

static void attn_task(void *arg, int ith, int nth) {
	(void)nth;
	const attn_job *j = arg;
	for (int i; (i = sw_pool_next(j->c->pool)) < j->nitems;) run_item(j, &j->items[i], j->c->tscratch[ith]);
}

// Work items: every (sequence, tile of queries, kv head).
static int count_items(const sw_attn *a) {
	int n = 0;
	for (int s = 0; s < a->nseq; s++) n += (a->qstart[s + 1] - a->qstart[s] + QTILE - 1) / QTILE * a->nkv;
	return n;
}

// Rows of a float tensor (F16/BF16) widened into dst, or converted back.
static void rows_to_f32(sw_ctx *c, const sw_tensor *t, float *dst) {
	for (int r = 0; r < t->rows; r++)
		c->k->to_f32(t->type, t->data + (size_t)r * sw_row_bytes(t->type, t->cols), dst + (size_t)r * t->cols, t->cols);
}

int sw_op_attention(sw_ctx *c, sw_tensor out, sw_tensor q, sw_tensor kc, sw_tensor vc, sw_attn a) {
	int n = count_items(&a), G = a.nheads / a.nkv;
	if (n == 0) return 0;
	size_t per = sizeof(float) * item_floats(QTILE * G, a.head_dim);
	size_t ib = (sizeof(item) * (size_t)n + 63) & ~(size_t)63, fb = 4 * (size_t)q.rows * q.cols;
	size_t qb = q.type == SW_F32 ? 0 : fb, ob = out.type == SW_F32 ? 0 : fb;
	if (sw_ctx_reserve(c, ib + qb + ob, per) != 0) return -1;
	item *items = c->scratch;
	int k = 0;
	for (int s = 0; s < a.nseq; s++) {
		int nq = a.qstart[s + 1] - a.qstart[s];
		// Last tiles first: they see the most keys, and starting the
		// heaviest items early evens out the threads' finishing times.
		for (int q0 = nq > 0 ? (nq - 1) / QTILE * QTILE : -1; q0 >= 0; q0 -= QTILE)
			for (int h = 0; h < a.nkv; h++)
				items[k++] = (item){s, h, q0, q0 + QTILE < nq ? q0 + QTILE : nq};
	}
	sw_tensor qf = q, of = out;
	if (qb) {
		qf = (sw_tensor){(uint8_t *)c->scratch + ib, SW_F32, q.rows, q.cols};
		rows_to_f32(c, &q, (float *)qf.data);
	}
	if (ob) of = (sw_tensor){(uint8_t *)c->scratch + ib + qb, SW_F32, out.rows, out.cols};
	attn_job j = {.c = c, .out = of, .q = qf, .kc = kc, .vc = vc, .a = a, .items = items, .nitems = n, .group = G};
	sw_pool_reset_counter(c->pool);
	if (n == 1) attn_task(&j, 0, 1);
	else sw_pool_run(c->pool, attn_task, &j);
	if (ob)
		for (int r = 0; r < out.rows; r++)
			c->k->from_f32(out.type, (float *)of.data + (size_t)r * out.cols,
			               out.data + (size_t)r * sw_row_bytes(out.type, out.cols), out.cols);
	return 0;
}

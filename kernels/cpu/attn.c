// Paged attention over a batch mixing prefill chunks and decodes.
//
// Work items are (sequence, kv head, tile of up to QTILE queries); the pool
// hands them out through an atomic counter, a few consecutive items per
// claim. An item walks its keys in chunks of up to KCH positions (gathered
// through the block table), converts each chunk of K and V to F32 once,
// and serves every query head of the kv group (GQA) and every query of the
// tile from it with an online softmax: per query row a running max m, sum
// l and accumulator acc (hd,), rescaled when the max grows. The heads of a
// query go through attn8 eight at a time (K and V read once for the eight;
// the rest row by row). All arithmetic is F32, and a row's result depends
// only on its own sequence, never on the rest of the batch.
//
// The cache of a decode step is far bigger than the caches of the CPU and
// is read once, so while one chunk is computed the kernels prefetch the
// next one (or the next item's first), a few lines per tile.
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
	int nitems, group, chunk; // chunk: items per claim
	size_t krb, keb, vrb, veb; // bytes of a cache row and of one head's part of it
} attn_job;

// Scratch of one thread for an item of R query rows: m, l (R,), acc (R, hd),
// K and V chunks (KCH, hd), and attn8's work ((hd + KCH)·8, which also
// holds the scores of one row).
static size_t item_floats(int R, int hd) {
	return 2 * (size_t)R + (size_t)R * hd + 2 * (size_t)KCH * hd + 8 * ((size_t)hd + KCH);
}

static int lo_of(const sw_attn *a, int p) { return a->window > 0 && p - a->window + 1 > 0 ? p - a->window + 1 : 0; }

// K and V row addresses of positions [p0, p1) (at most KCH) of kv head
// kvh: one division per block, not per position.
static void kv_rows(const attn_job *j, const int32_t *table, int p0, int p1, int kvh, const uint8_t **k,
                    const uint8_t **v) {
	int bs = j->a.block_size;
	const uint8_t *kh = j->kc.data + (size_t)kvh * j->keb, *vh = j->vc.data + (size_t)kvh * j->veb;
	for (int p = p0; p < p1;) {
		int b = p / bs, o = p - b * bs, n = bs - o < p1 - p ? bs - o : p1 - p;
		size_t slot = (size_t)table[b] * bs + o;
		for (int i = 0; i < n; i++) {
			*k++ = kh + (slot + i) * j->krb;
			*v++ = vh + (slot + i) * j->vrb;
		}
		p += n;
	}
}

// Convert positions [p0, p1) of kv head kvh to F32 K and V (KCH, hd).
static void load_chunk(const attn_job *j, const int32_t *table, int p0, int p1, int kvh, float *K, float *V) {
	const uint8_t *k[KCH], *v[KCH];
	kv_rows(j, table, p0, p1, kvh, k, v);
	j->c->k->gather_f32(j->kc.type, k, p1 - p0, j->a.head_dim, K);
	j->c->k->gather_f32(j->vc.type, v, p1 - p0, j->a.head_dim, V);
}

// Keys [plo, phi) of item it.
static void key_range(const attn_job *j, const item *it, int *plo, int *phi) {
	const sw_attn *a = &j->a;
	int base = a->ctxlen[it->seq] - (a->qstart[it->seq + 1] - a->qstart[it->seq]);
	*plo = lo_of(a, base + it->q0);
	*phi = base + it->q1;
}

// At most this many lines of a K or V row are prefetched (longer rows are
// contiguous enough for the hardware prefetcher to follow).
#define PF_ROW 4
#define PF_MAX (2 * KCH * PF_ROW)

// Plan the prefetch of the K and V lines of positions [p0, p1) of item it
// into pf (lines: room for PF_MAX). They go to L2: the current chunk's F32
// copies fill L1.
static void plan_chunk(const attn_job *j, const item *it, int p0, int p1, sw_prefetch *pf, const uint8_t **lines) {
	const uint8_t *k[KCH], *v[KCH];
	kv_rows(j, j->a.tables + j->a.toff[it->seq], p0, p1, it->kvh, k, v);
	int n = 0;
	for (int i = 0; i < p1 - p0; i++) {
		for (size_t o = 0; o < j->keb && o < 64 * PF_ROW; o += 64) lines[n++] = k[i] + o;
		for (size_t o = 0; o < j->veb && o < 64 * PF_ROW; o += 64) lines[n++] = v[i] + o;
	}
	*pf = (sw_prefetch){lines, n, 0};
}

static void plan_first(const attn_job *j, const item *it, sw_prefetch *pf, const uint8_t **lines) {
	int plo, phi;
	key_range(j, it, &plo, &phi);
	plan_chunk(j, it, plo, plo + KCH < phi ? plo + KCH : phi, pf, lines);
}

// Fold keys [j0, j1) of the chunk into every head of query qi (row block r).
static void fold_query(const attn_job *j, const item *it, int qi, int j0, int j1, const float *K, const float *V,
                       float *m, float *l, float *acc, float *work, sw_prefetch *pf) {
	const sw_attn *a = &j->a;
	int hd = a->head_dim, G = j->group, r0 = (qi - it->q0) * G, g = 0;
	const float *qrow = (const float *)j->q.data + (size_t)(a->qstart[it->seq] + qi) * j->q.cols + (size_t)it->kvh * G * hd;
	K += (size_t)j0 * hd;
	V += (size_t)j0 * hd;
	for (; g + 8 <= G; g += 8) {
		int r = r0 + g;
		j->c->k->attn8(hd, j1 - j0, qrow + (size_t)g * hd, K, V, a->scale, m + r, l + r, acc + (size_t)r * hd, work, pf);
	}
	for (; g < G; g++) {
		int r = r0 + g;
		j->c->k->scores(hd, j1 - j0, qrow + (size_t)g * hd, K, a->scale, work);
		j->c->k->fold(hd, j1 - j0, work, V, &m[r], &l[r], acc + (size_t)r * hd);
		sw_prefetch_some(pf, 8);
	}
}

// next: the item this thread runs after it (NULL if unknown), whose first
// chunk is prefetched during the last chunk of this one; earlier chunks
// prefetch the following chunk.
static void run_item(const attn_job *j, const item *it, const item *next, float *buf) {
	const sw_attn *a = &j->a;
	int hd = a->head_dim, G = j->group, nq = a->qstart[it->seq + 1] - a->qstart[it->seq];
	int base = a->ctxlen[it->seq] - nq, nrow = (it->q1 - it->q0) * G;
	float *m = buf, *l = m + nrow, *acc = l + nrow, *K = acc + (size_t)nrow * hd, *V = K + KCH * hd, *w = V + KCH * hd;
	for (int r = 0; r < nrow; r++) {
		m[r] = -INFINITY;
		l[r] = 0;
	}
	memset(acc, 0, sizeof(float) * (size_t)nrow * hd);
	const int32_t *table = a->tables + a->toff[it->seq];
	int plo, phi; // keys [plo, phi)
	key_range(j, it, &plo, &phi);
	const uint8_t *lines[PF_MAX];
	sw_prefetch pf = {lines, 0, 0};
	for (int p0 = plo; p0 < phi;) {
		int p1 = p0 + KCH < phi ? p0 + KCH : phi;
		load_chunk(j, table, p0, p1, it->kvh, K, V);
		if (p1 < phi) plan_chunk(j, it, p1, p1 + KCH < phi ? p1 + KCH : phi, &pf, lines);
		else if (next) plan_first(j, next, &pf, lines);
		else pf.n = pf.next = 0;
		for (int qi = it->q0; qi < it->q1; qi++) {
			int p = base + qi, lo = lo_of(a, p);
			int j0 = (lo > p0 ? lo : p0) - p0, j1 = (p + 1 < p1 ? p + 1 : p1) - p0;
			if (j0 < j1) fold_query(j, it, qi, j0, j1, K, V, m, l, acc, w, &pf);
		}
		sw_prefetch_some(&pf, pf.n); // what the tiles did not get to
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

// Items are claimed `chunk` at a time, so a thread knows which item comes
// next and can prefetch it.
static void attn_task(void *arg, int ith, int nth) {
	const attn_job *j = arg;
	for (int u; (u = sw_pool_next(j->c->pool)) * j->chunk < j->nitems;) {
		int i0 = u * j->chunk, i1 = i0 + j->chunk < j->nitems ? i0 + j->chunk : j->nitems;
		// The last item of a claim prefetches this thread's likely next
		// claim (the threads taking turns); a wrong guess only warms the
		// shared cache for whoever runs it.
		int guess = (u + nth) * j->chunk;
		for (int i = i0; i < i1; i++) {
			const item *next = i + 1 < i1 ? &j->items[i + 1] : guess < j->nitems ? &j->items[guess] : NULL;
			run_item(j, &j->items[i], next, j->c->tscratch[ith]);
		}
	}
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
	// Several items per claim, yet enough claims (8 per thread) to even
	// out the threads' finishing times.
	attn_job j = {.c = c, .out = of, .q = qf, .kc = kc, .vc = vc, .a = a, .items = items, .nitems = n, .group = G,
	              .chunk = 1 + n / (8 * c->nth),
	              .krb = sw_row_bytes(kc.type, kc.cols), .keb = sw_row_bytes(kc.type, a.head_dim),
	              .vrb = sw_row_bytes(vc.type, vc.cols), .veb = sw_row_bytes(vc.type, a.head_dim)};
	sw_pool_reset_counter(c->pool);
	if (n == 1) attn_task(&j, 0, 1);
	else sw_pool_run(c->pool, attn_task, &j);
	if (ob)
		for (int r = 0; r < out.rows; r++)
			c->k->from_f32(out.type, (float *)of.data + (size_t)r * out.cols,
			               out.data + (size_t)r * sw_row_bytes(out.type, out.cols), out.cols);
	return 0;
}

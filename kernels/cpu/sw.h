// Shared declarations of the C side of the cpu backend: ggml block layouts,
// the internal 8-bit activation formats, the per-ISA kernel table, the
// thread pool and contexts. The op entry points called from Go are in
// ops.h.
#ifndef SW_H
#define SW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

// Tensor element types: the numeric values of kernels.DType (= ggml ids).
enum {
	SW_F32 = 0, SW_F16 = 1, SW_Q4_0 = 2, SW_Q4_1 = 3, SW_Q5_0 = 6,
	SW_Q5_1 = 7, SW_Q8_0 = 8, SW_Q8_1 = 9, SW_Q2_K = 10, SW_Q3_K = 11,
	SW_Q4_K = 12, SW_Q5_K = 13, SW_Q6_K = 14, SW_Q8_K = 15, SW_BF16 = 30,
	SW_NTYPES = 31
};

enum { SW_ISA_SCALAR = 0, SW_ISA_AVX2 = 1, SW_ISA_AVX512 = 2 };

#define QK 32   // elements of a legacy block
#define QKK 256 // elements of a k-quant super-block

// ggml blocks. Packed so rows that start at any byte offset are read
// safely; every multi-byte field is a little-endian half (or float).
#define SW_PACKED __attribute__((packed))
typedef struct SW_PACKED { uint16_t d; uint8_t qs[16]; } blk_q4_0;
typedef struct SW_PACKED { uint16_t d, m; uint8_t qs[16]; } blk_q4_1;
typedef struct SW_PACKED { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } blk_q5_0;
typedef struct SW_PACKED { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } blk_q5_1;
typedef struct SW_PACKED { uint16_t d; int8_t qs[32]; } blk_q8_0;
typedef struct SW_PACKED { uint16_t d, s; int8_t qs[32]; } blk_q8_1;
typedef struct SW_PACKED { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } blk_q2_k;
typedef struct SW_PACKED { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } blk_q3_k;
typedef struct SW_PACKED { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } blk_q4_k;
typedef struct SW_PACKED { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } blk_q5_k;
typedef struct SW_PACKED { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } blk_q6_k;
typedef struct SW_PACKED { float d; int8_t qs[256]; int16_t bsums[16]; } blk_q8_k;

// Element count and byte size of one block of type t (0 for unknown t).
int sw_block_elems(int t);
int sw_block_bytes(int t);
static inline size_t sw_row_bytes(int t, int n) {
	return (size_t)(n / sw_block_elems(t)) * (size_t)sw_block_bytes(t);
}

// Internal activation formats: a row of x (k,) quantized once per MatMul.
//   X32:  q int8 (k,) | d float (k/32,) | s float (k/32,)
//         s = d·Σq, d = amax/127 as llama.cpp rounds activations for
//         these weights.
//   X32G: X32 | a int16 (k/32, 4) | g float, for Q4_0 weights: d = m·g
//         with m = a[b][0] = a[b][1] an integer ≤ 16384 and g a power of
//         two shared by the row (sw_x32_grid), so that Q4_0's packed tiles
//         apply d with one integer madd; a[b][2], a[b][3] are 8·Σ of the
//         block's q at positions 4i, 4i+1 and at 4i+2, 4i+3 (Q4_0's zero
//         point, subtracted from those tiles' int16 sums). The other Q4_0
//         kernels read it as X32.
//   X256: q int8 (k,) | d float (k/256,) | bs int16 (k/16,) bs = Σq per 16
// Values lie in [-127, 127] (never -128), so a pair of products of an
// unsigned 6-bit weight and q fits maddubs' int16 without saturation.
enum { SW_X_F32 = 0, SW_X32 = 1, SW_X256 = 2, SW_X32G = 3 };
int sw_xfmt(int wtype);                 // which format weights of wtype want
size_t sw_xrow_bytes(int xfmt, int k);  // row stride, a multiple of 64
static inline const float *x32_d(const uint8_t *r, int k) { return (const float *)(r + k); }
static inline const float *x32_s(const uint8_t *r, int k) { return (const float *)(r + k) + k / QK; }
// X32G only.
static inline const int16_t *x32_a(const uint8_t *r, int k) { return (const int16_t *)(x32_s(r, k) + k / QK); }
static inline const float *x32_g(const uint8_t *r, int k) { return (const float *)(x32_a(r, k) + 4 * (k / QK)); }
// X32G's scales: d[b] holds the block's amax on entry and its scale m·g
// on return; returns the row's grid g. Shared by every ISA's xquant32g,
// so they all quantize with the same scales.
float sw_x32_grid(int nb, float *d);
// X32G's a[b] for a block of scale d (ig = 1/g) whose q sum to z0 over the
// positions 4i, 4i+1 and to z1 over 4i+2, 4i+3.
static inline void x32_set_aux(int16_t *a, float d, float ig, int z0, int z1) {
	a[0] = a[1] = (int16_t)(d < 32768.0f / ig ? d * ig : 0); // m; 0 on a row without finite scales
	a[2] = (int16_t)(8 * z0);
	a[3] = (int16_t)(8 * z1);
}
static inline const float *x256_d(const uint8_t *r, int k) { return (const float *)(r + k); }
static inline const int16_t *x256_bs(const uint8_t *r, int k) {
	return (const int16_t *)(r + k + 4 * (k / QKK));
}

// dot(k, w, x): Σ w·x over one row of weights (type fixed by the table
// slot) and one activation row in the format sw_xfmt gives.
typedef float (*sw_dot_fn)(int k, const uint8_t *w, const uint8_t *x);
// dotn: out[j·os] = dot(k, w, x + j·xs) for nx ≤ 4 activation rows, each
// weight block unpacked once for all of them (small batches of decodes).
typedef void (*sw_dotn_fn)(int k, const uint8_t *w, const uint8_t *x, size_t xs, int nx, float *out, size_t os);
// dotr: out[j·os + r] = dot(k, w + r·ws, x + j·xs) for nr ≤ 8 weight rows
// and nx ≤ 4 activation rows, the rows of w in vector lanes so that each
// output takes exactly the float steps of a lane of the type's panel
// kernels (a row's result then does not depend on its batch).
typedef void (*sw_dotr_fn)(int k, const uint8_t *w, size_t ws, int nr, const uint8_t *x, size_t xs, int nx, float *out,
                           size_t os);
// Quantize one float row (k,) into an activation row.
typedef void (*sw_xquant_fn)(int k, const float *x, uint8_t *xq);
// Panel GEMM: out rows [0, T) × columns [r0, r0+nr), nr ≤ panel height.
struct sw_mm;
typedef void (*sw_gemm_fn)(const struct sw_mm *mm, int r0, int nr, void *scratch);
// Packed weights (pack.c): pack writes panels [p0, p1) of w (n, k) into
// dst; pgemm sweeps rows [t0, t1) of x over panels [p0, p1) of the packed
// weights mm->w (mm->wstride: bytes per panel), with scratch the calling
// thread's sw_pk_scratch bytes.
typedef void (*sw_pack_fn)(int k, int n, const uint8_t *w, size_t wstride, int p0, int p1, uint8_t *dst);
typedef void (*sw_pgemm_fn)(const struct sw_mm *mm, int p0, int p1, int t0, int t1, uint8_t *scratch);

// Cache lines an attention item will read next (the keys and values of its
// next chunk, or of the next item). Kernels ask for them a few at a time
// between tiles: issued in one burst, the prefetches fill the core's miss
// buffers and stall the arithmetic until memory answers, whereas spread
// out they overlap with it.
typedef struct sw_prefetch {
	const uint8_t *const *line;
	int n, next; // lines [next, n) are still to be requested
} sw_prefetch;

static inline void sw_prefetch_some(sw_prefetch *pf, int k) {
	for (; k > 0 && pf->next < pf->n; k--) __builtin_prefetch(pf->line[pf->next++], 0, 2);
}

typedef struct {
	int isa;
	const char *name;
	sw_dot_fn dot[SW_NTYPES];
	sw_dotn_fn dotn[SW_NTYPES]; // NULL: dot row by row
	sw_dotr_fn dotr[SW_NTYPES]; // when set, small T uses it instead of dot and dotn
	sw_xquant_fn xquant[4];
	sw_gemm_fn gemm[SW_NTYPES]; // NULL: no panel kernel, use dot for all T
	int gemm_rows[SW_NTYPES];   // rows of w per panel
	int gemm_min_t[SW_NTYPES];  // rows of x from which the panel kernel wins
	sw_pack_fn pack[SW_NTYPES];   // NULL: weights of the type stay as they are
	sw_pgemm_fn pgemm[SW_NTYPES]; // over weights pack made, from pk_min_t rows of x on
	int pk_min_t[SW_NTYPES];      // below it, MatMul reads the GGUF layout
	// y[i] = silu(g[i])·u[i] over n floats (y may alias g or u).
	void (*silumul)(int n, const float *g, const float *u, float *y);
	// Σ a·b over n floats
	float (*fdot)(int n, const float *a, const float *b);
	// Attention scores of one query row over nk keys: s (nk,) = scale · K q
	// with K (nk, hd).
	void (*scores)(int hd, int nk, const float *q, const float *K, float scale, float *s);
	// One online-softmax step of a query row over nk keys: with its running
	// max m and sum l, rescale acc (hd,) when the max grows, turn s (nk,)
	// into e^(s−m) and add Σ_j e^(s_j−m)·V_j (V (nk, hd)) to acc.
	void (*fold)(int hd, int nk, float *s, const float *V, float *m, float *l, float *acc);
	// scores + fold of 8 query rows that see the same nk keys (the heads of
	// one query that share a kv head): row r is Q + r·hd, with running max
	// m[r], sum l[r] and accumulator acc + r·hd. Working on the rows
	// together reads K and V once for all of them. work: (hd + nk)·8 floats.
	// Between its tiles it requests a few of pf's lines (sw_prefetch_some).
	void (*attn8)(int hd, int nk, const float *Q, const float *K, const float *V, float scale, float *m, float *l,
	              float *acc, float *work, struct sw_prefetch *pf);
	// Rotate the first ndims dimensions of one head y in place: pair i
	// (2i, 2i+1; neox: i, i+ndims/2) by the angle with cos cs[2i] and sin
	// cs[2i+1], in float64 (x0·c − x1·s, x0·s + x1·c, then rounded), so
	// every ISA gives the same bits.
	void (*rope_head)(int ndims, int neox, const double *cs, float *y);
	// Float-type row conversions (F32, F16, BF16), bit-exact with fp.h.
	void (*to_f32)(int t, const void *src, float *dst, int n);
	// dst (n, hd) = rows src[0..n) of type t, each hd long.
	void (*gather_f32)(int t, const uint8_t *const *src, int n, int hd, float *dst);
	void (*from_f32)(int t, const float *src, void *dst, int n);
} sw_isa_table;

const sw_isa_table *sw_isa_get(int isa); // NULL when this CPU lacks isa
int sw_isa_best(void);
int sw_isa_supported(int isa);
extern const sw_isa_table sw_scalar_table;
void sw_avx2_fill(sw_isa_table *t);
void sw_avx512_fill(sw_isa_table *t); // the AVX2 table with the AVX-512 kernels

// Thread pool: n threads including the caller. run() calls fn(arg, i, n)
// on the caller (i = 0) and on every worker i that wakes up before the
// caller has finished, then returns when those are done. A task must
// therefore claim its work with sw_pool_next (after sw_pool_reset_counter)
// rather than split it by i: the work of a thread that never joined would
// be lost.
typedef struct sw_pool sw_pool;
typedef void (*sw_task_fn)(void *arg, int ith, int nth);
sw_pool *sw_pool_new(int n);
void sw_pool_free(sw_pool *p);
int sw_pool_size(const sw_pool *p);
void sw_pool_run(sw_pool *p, sw_task_fn fn, void *arg);
int sw_pool_next(sw_pool *p);
void sw_pool_reset_counter(sw_pool *p);

// Backend context: pool, kernel table, per-thread scratch.
typedef struct {
	sw_pool *pool;
	const sw_isa_table *k;
	int nth;
	void *scratch;       // shared scratch (activation quantization)
	size_t scratch_size;
	void **tscratch;     // per-thread scratch
	size_t tscratch_size;
	struct sw_rope_cache *rope; // RoPE's cos/sin of recent calls (rope.c)
} sw_ctx;

void sw_rope_cache_free(struct sw_rope_cache *rc);

// Make sure shared/per-thread scratch hold at least the given bytes;
// returns 0 on success, -1 when memory is exhausted.
int sw_ctx_reserve(sw_ctx *c, size_t shared, size_t per_thread);
void *sw_alloc(size_t n); // 64-byte aligned, zeroed; NULL on failure
void sw_free(void *p);

// The matmul job shared by the driver and the panel kernels.
typedef struct sw_mm {
	int T, n, k, wtype;
	const uint8_t *w;      // (n, k) of wtype
	size_t wstride;        // bytes per row of w
	const uint8_t *x;      // (T, k) in the weight's activation format
	size_t xstride;        // bytes per activation row
	float *out;            // (T, ldo)
	size_t ldo;            // floats per row of out
} sw_mm;

// Row conversion helpers (scalar; any ISA may call them).
void sw_to_f32(int t, const void *src, float *dst, int n);  // float types only
void sw_from_f32(int t, const float *src, void *dst, int n);
void sw_dequant_row(int t, const void *src, float *dst, int n); // any type

#endif

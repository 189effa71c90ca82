// Op entry points called from the cgo bridge. Tensors arrive as raw
// pointers with their type and shape; the Go side has already checked
// shapes, bounds and aliasing. Every op returns 0, or -1 when scratch
// memory could not be allocated (the Go side makes that a sticky error).
#ifndef SW_OPS_H
#define SW_OPS_H

#include "sw.h"

typedef struct {
	uint8_t *data;
	int type, rows, cols;
} sw_tensor;

#define SW_MAXW 4 // weights one sw_op_matmul_packed call takes

// A few tensors or packed weights, passed by value so the cgo bridge hands
// C no Go memory that holds Go pointers.
typedef struct {
	sw_tensor t[SW_MAXW];
} sw_tensors;
typedef struct {
	const uint8_t *p[SW_MAXW];
} sw_packs;

sw_ctx *sw_ctx_new(int isa, int nthreads);
void sw_ctx_free(sw_ctx *c);

int sw_op_embed(sw_ctx *c, sw_tensor out, sw_tensor table, const int32_t *ids, int T);
int sw_op_rmsnorm(sw_ctx *c, sw_tensor out, sw_tensor x, sw_tensor w, float eps);
int sw_op_add(sw_ctx *c, sw_tensor out, sw_tensor a, sw_tensor b);
int sw_op_silumul(sw_ctx *c, sw_tensor out, sw_tensor gate, sw_tensor up);
int sw_op_storekv(sw_ctx *c, sw_tensor kc, sw_tensor vc, sw_tensor k, sw_tensor v, const int32_t *slots);
// packed: w's packed twin (sw_op_pack), or NULL to read w as it is.
int sw_op_matmul(sw_ctx *c, sw_tensor out, sw_tensor x, sw_tensor w, const uint8_t *packed);
// One row x (k,) quantized as MatMul quantizes it for weights of wtype,
// into xq (sw_xrow_bytes of its format); its size, or 0 when weights of
// wtype take x as floats. For tests.
size_t sw_op_xquant(sw_ctx *c, int wtype, int k, const float *x, uint8_t *xq);
// Bytes of the packed twin of a weight of this type and shape, or 0 when
// the context's kernels keep such weights as they are.
size_t sw_pack_bytes(sw_ctx *c, int type, int rows, int cols);
// Rows of x from which MatMul reads the packed twin of a weight of type
// (below it, the weight's own bytes; 1: always the twin).
int sw_pack_min_t(sw_ctx *c, int type);
// outs[i] = x @ ws[i]ᵀ for nw ≤ SW_MAXW weights of one type, all packed
// (packed[i]: ws[i]'s twin), in one pass of the pool.
int sw_op_matmul_packed(sw_ctx *c, int nw, sw_tensors outs, sw_tensor x, sw_tensors ws, sw_packs packed);
// The MatMul drivers' conversions of non-F32 activations: x's rows widened
// into dst (x.rows × x.cols floats, returned), and F32 rows src rounded
// into out.
const float *sw_mm_rows_to_f32(sw_ctx *c, sw_tensor x, float *dst);
void sw_mm_rows_from_f32(sw_ctx *c, const float *src, sw_tensor out);
// Writes w's packed twin (sw_pack_bytes(w) bytes) into dst.
void sw_op_pack(sw_ctx *c, sw_tensor w, uint8_t *dst);

typedef struct {
	int head_dim, ndims, neox;
	float base, freq_scale;
	const float *freq_factors; // (ndims/2,) or NULL
} sw_rope;
int sw_op_rope(sw_ctx *c, sw_tensor x, const int32_t *pos, sw_rope p);

typedef struct {
	const int32_t *qstart;  // (nseq+1,)
	const int32_t *ctxlen;  // (nseq,)
	const int32_t *tables;  // block ids of every sequence, concatenated
	const int32_t *toff;    // (nseq,) offset of each sequence's table
	int nseq, nheads, nkv, head_dim, block_size, window;
	float scale;
} sw_attn;
int sw_op_attention(sw_ctx *c, sw_tensor out, sw_tensor q, sw_tensor kc, sw_tensor vc, sw_attn a);

// Reads n bytes with every thread and returns a checksum (bandwidth probe).
double sw_bench_read(sw_ctx *c, const uint8_t *buf, size_t n);
// Issue-port probe loops (avx2_probe.c): n trips of the loop kind; -1 when
// the build or CPU has no AVX2 or kind is unknown.
enum { SW_PROBE_MB, SW_PROBE_ADD_IND, SW_PROBE_ADD_ALT, SW_PROBE_ADD_DEP };
int sw_probe_ports(int kind, long n);

#endif

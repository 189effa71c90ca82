// Emulator stand-in for CUDA's mma.h (WMMA). Every lane holds a whole
// fragment and computes the whole tile, so the collective calls need no
// exchange between lanes; products are exact and sums FP32, as on tensor
// cores (whose order of addition differs).
#pragma once
#include "cuda_bf16.h"
#include "cuda_fp16.h"

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K> struct frag_shape;
template <int M, int N, int K> struct frag_shape<matrix_a, M, N, K> { enum { R = M, C = K }; };
template <int M, int N, int K> struct frag_shape<matrix_b, M, N, K> { enum { R = K, C = N }; };
template <int M, int N, int K> struct frag_shape<accumulator, M, N, K> { enum { R = M, C = N }; };

template <typename Use, int M, int N, int K, typename T, typename Layout = void> struct fragment {
	enum { R = frag_shape<Use, M, N, K>::R, C = frag_shape<Use, M, N, K>::C };
	float x[R * C]; // (R, C) row-major, whatever the memory layout
};

static inline float emu_val(__half h) { return __half2float(h); }
static inline float emu_val(__nv_bfloat16 b) { return __bfloat162float(b); }
static inline float emu_val(float f) { return f; }

template <typename Use, int M, int N, int K, typename T, typename L>
static inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, float v) {
	for (float &e : f.x)
		e = v;
}
template <typename Use, int M, int N, int K, typename T, typename S>
static inline void load_matrix_sync(fragment<Use, M, N, K, T, row_major> &f, const S *p, unsigned ld) {
	typedef fragment<Use, M, N, K, T, row_major> F;
	for (int r = 0; r < F::R; r++)
		for (int c = 0; c < F::C; c++)
			f.x[r * F::C + c] = emu_val(p[r * ld + c]);
}
template <typename Use, int M, int N, int K, typename T, typename S>
static inline void load_matrix_sync(fragment<Use, M, N, K, T, col_major> &f, const S *p, unsigned ld) {
	typedef fragment<Use, M, N, K, T, col_major> F;
	for (int r = 0; r < F::R; r++)
		for (int c = 0; c < F::C; c++)
			f.x[r * F::C + c] = emu_val(p[c * ld + r]);
}
template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB>
static inline void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, TA, LA> &a,
			    const fragment<matrix_b, M, N, K, TB, LB> &b, const fragment<accumulator, M, N, K, float> &c) {
	float out[M * N];
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			float s = c.x[i * N + j];
			for (int k = 0; k < K; k++)
				s += a.x[i * K + k] * b.x[k * N + j];
			out[i * N + j] = s;
		}
	memcpy(d.x, out, sizeof out);
}
template <int M, int N, int K>
static inline void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ld,
				     layout_t layout) {
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			if (layout == mem_row_major)
				p[i * ld + j] = f.x[i * N + j];
			else
				p[j * ld + i] = f.x[i * N + j];
		}
}
} // namespace wmma
} // namespace nvcuda

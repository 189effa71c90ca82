// Panel sizes shared by the matmul driver and the panel kernels.
#ifndef SW_GEMM_H
#define SW_GEMM_H

#include "sw.h"

#define SW_PANEL_L 320  // bytes per 32-element block of a legacy panel
#define SW_PANEL_K 2880 // bytes per 256-element super-block of a k-quant panel
#define SW_FKC 256      // k-slice of a float panel (16 rows × 256 floats = 16 KiB)

// Per-thread scratch bytes the panel kernel of wtype needs for a row of k.
size_t sw_panel_scratch(int wtype, int k);

// Packed weights (pack.c): panels of SW_PKR_<type> rows laid out for the
// tiles, SW_PK_<type> bytes per block (Q4_0: 32 elements, Q6_K: 256).
#define SW_PKR_Q4_0 16
#define SW_PK_Q4_0 288
#define SW_PK_MAXC_Q4_0 6 // rows of x in a Q4_0 tile
#define SW_PKU_Q4_0 512   // bytes of a block's unpacked copy (pgemm scratch)
#define SW_PKR_Q6_K 8
#define SW_PK_Q6_K 2320
// Rows of a packed panel of wtype (1 for types without a packed form).
int sw_pk_rows(int wtype);
// Per-thread scratch bytes the pgemm of wtype needs for T rows of x of k.
size_t sw_pk_scratch(int wtype, int k, int T);
// Bytes of one packed panel of k columns; 0 when wtype has no packed form.
size_t sw_pk_panel_bytes(int wtype, int k);
void sw_pack_q4_0x16(int k, int n, const uint8_t *w, size_t wstride, int p0, int p1, uint8_t *dst);
void sw_pack_q6_kx8(int k, int n, const uint8_t *w, size_t wstride, int p0, int p1, uint8_t *dst);

// A tile: rows [t0, t0+C) of x against the panel P (output columns
// [r0, r0+nr)); C is fixed by the function. U: the calling thread's
// scratch for the panel's unpacked copy, for the tiles that keep or read
// one (NULL where no tile does).
typedef void (*sw_ptile_fn)(const sw_mm *mm, const uint8_t *P, uint8_t *U, int t0, int r0, int nr);

// Rows [t0, t1) of x over panels [p0, p1) of prows rows of mm->w, in
// tiles of at most maxc rows split as evenly as possible (16 rows by 8: 8,
// 8; by 6: 6, 5, 5), so no narrow tile is left at the end. first[c]
// takes c rows on the first pass over a panel, which reads it from memory;
// later[c] on the passes after it, which find it in cache.
static inline void sw_sweep_panels(const sw_mm *mm, int p0, int p1, int t0, int t1, const sw_ptile_fn *first,
                                   const sw_ptile_fn *later, int maxc, int prows, uint8_t *U) {
	int T = t1 - t0, nt = (T + maxc - 1) / maxc;
	for (int p = p0; p < p1; p++) {
		const uint8_t *P = mm->w + (size_t)p * mm->wstride;
		int r0 = p * prows, nr = mm->n - r0 < prows ? mm->n - r0 : prows;
		for (int i = 0, t = t0; i < nt; i++) {
			int c = T / nt + (i < T % nt);
			(i == 0 ? first : later)[c](mm, P, U, t, r0, nr);
			t += c;
		}
	}
}

#endif

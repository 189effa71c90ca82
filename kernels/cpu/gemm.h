// Panel sizes shared by the matmul driver and the panel kernels.
#ifndef SW_GEMM_H
#define SW_GEMM_H

#include "sw.h"

#define SW_PANEL_L 320  // bytes per 32-element block of a legacy panel
#define SW_PANEL_K 2880 // bytes per 256-element super-block of a k-quant panel
#define SW_FKC 256      // k-slice of a float panel (16 rows × 256 floats = 16 KiB)

// Per-thread scratch bytes the panel kernel of wtype needs for a row of k.
size_t sw_panel_scratch(int wtype, int k);

// Packed weights (pack.c): panels of SW_PK_ROWS rows laid out for the
// tiles. SW_PK_Q4_0: bytes per 32-element block of a Q4_0 panel.
#define SW_PK_ROWS 8
#define SW_PK_Q4_0 144
#define SW_PK_Q6_K 2320 // bytes per 256-element super-block of a Q6_K panel
// Bytes of one packed panel of k columns; 0 when wtype has no packed form.
size_t sw_pk_panel_bytes(int wtype, int k);
float sw_pk_fold(int wtype);
void sw_pack_q4_0x8(int k, int n, const uint8_t *w, size_t wstride, int p0, int p1, uint8_t *dst);
void sw_pack_q6_kx8(int k, int n, const uint8_t *w, size_t wstride, int p0, int p1, uint8_t *dst);

// A tile: rows [t0, t0+C) of x against the panel P (output columns
// [r0, r0+nr)); C is fixed by the function.
typedef void (*sw_ptile_fn)(const sw_mm *mm, const uint8_t *P, int t0, int r0, int nr);

// Rows [t0, t1) of x over panels [p0, p1) of mm->w, in tiles of at most
// maxc rows split as evenly as possible (16 rows by 8: 8, 8; by 6: 6, 5, 5), so no
// narrow tile is left at the end. tiles[c] takes c rows.
static inline void sw_sweep_panels(const sw_mm *mm, int p0, int p1, int t0, int t1, const sw_ptile_fn *tiles,
                                   int maxc) {
	int T = t1 - t0, nt = (T + maxc - 1) / maxc;
	for (int p = p0; p < p1; p++) {
		const uint8_t *P = mm->w + (size_t)p * mm->wstride;
		int r0 = p * SW_PK_ROWS, nr = mm->n - r0 < SW_PK_ROWS ? mm->n - r0 : SW_PK_ROWS;
		for (int i = 0, t = t0; i < nt; i++) {
			int c = T / nt + (i < T % nt);
			tiles[c](mm, P, t, r0, nr);
			t += c;
		}
	}
}

#endif

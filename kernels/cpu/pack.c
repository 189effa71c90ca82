// Packed MatMul weights: a weight is re-laid once, on its first MatMul (or
// when the engine prepares it at load), into panels of sw_pk_rows rows
// whose bytes the register tiles read in order, so no step repacks a
// panel again and, for Q4_0, the single-row (decode) path reads the same
// bytes as the batched one (Q6_K single rows read the GGUF bytes, see
// pk_min_t). The packed twin holds exactly the information of the GGUF
// rows (Q4_0: a permutation of their nibbles and scales; Q6_K: their
// values, a byte each), plus zero rows that pad the last panel.
//
// Q4_0 ("q4_0x16"), per panel p (rows 16p..16p+15) and block b, at byte
// (p·nb + b)·SW_PK_Q4_0 (nb = k/32):
//   [0, 256)   qs: byte 32h + 4r + i (h = 0..7, r = 0..7, i = 0..3) holds
//              element 4h + i of row r in its low nibble and of row r + 8
//              in its high nibble, so one 32-byte load gives 4 elements of
//              all 16 rows, and the two halves meet the same 4 bytes of x.
//   [256, 288) d: the 16 rows' F16 scales.
//
// Q6_K ("q6_kx8"), per panel and super-block b, at byte (p·nb + b)·SW_PK_Q6_K
// (nb = k/256), with u = q + 32 in [0, 64) the unsigned 6-bit weight kept
// whole in a byte: batched steps are compute-bound, and a byte per weight
// spares the tiles the 6-bit unpacking that cost them a third of their time
// (single decodes keep reading the GGUF bytes, see pk_min_t):
//   [0, 2048)     u: sub-block j (16 elements) at 128j, four 32-byte groups
//                 h = 0..3; byte 4r + i of group h is u of row r, element
//                 16j + 4h + i.
//   [2048, 2304)  scales: sub-block j at 2048 + 16j, the int8 pair (sc, sc)
//                 of each row, which sign-extends to the int16 lanes that
//                 meet maddubs' pairs in one madd.
//   [2304, 2320)  d: the 8 rows' F16 scales.
// Rows past n are zero (scale 0), so they contribute nothing.
#include "sw.h"
#include "gemm.h"
#include "unpack.h"

int sw_pk_rows(int wtype) {
	switch (wtype) {
	case SW_Q4_0: return SW_PKR_Q4_0;
	case SW_Q6_K: return SW_PKR_Q6_K;
	default: return 1;
	}
}

// Q4_0 with more rows of x than a tile takes keeps a panel's unpacked
// copy (avx2_pgemm.c).
size_t sw_pk_scratch(int wtype, int k, int T) {
	return wtype == SW_Q4_0 && T > SW_PK_MAXC_Q4_0 ? (size_t)(k / QK) * SW_PKU_Q4_0 : 0;
}

size_t sw_pk_panel_bytes(int wtype, int k) {
	switch (wtype) {
	case SW_Q4_0: return (size_t)(k / QK) * SW_PK_Q4_0;
	case SW_Q6_K: return (size_t)(k / QKK) * SW_PK_Q6_K;
	default: return 0;
	}
}

// Row row's block b: its 32 4-bit values in element order (sw_unpack32)
// and its F16 scale; zeros for a row past n.
static void q4_0_row(const uint8_t *w, size_t wstride, int row, int n, int b, uint8_t u[QK], uint8_t d[2]) {
	if (row >= n) {
		memset(u, 0, QK);
		memset(d, 0, 2);
		return;
	}
	const uint8_t *blk = w + (size_t)row * wstride + (size_t)b * sizeof(blk_q4_0);
	float df, m;
	sw_unpack32(SW_Q4_0, blk, u, &df, &m);
	memcpy(d, &((const blk_q4_0 *)blk)->d, 2);
}

void sw_pack_q4_0x16(int k, int n, const uint8_t *w, size_t wstride, int p0, int p1, uint8_t *dst) {
	int nb = k / QK;
	for (int p = p0; p < p1; p++) {
		uint8_t *pp = dst + (size_t)p * nb * SW_PK_Q4_0;
		for (int b = 0; b < nb; b++) {
			uint8_t *o = pp + (size_t)b * SW_PK_Q4_0;
			for (int r = 0; r < 8; r++) {
				uint8_t lo[QK], hi[QK];
				int row = p * SW_PKR_Q4_0 + r;
				q4_0_row(w, wstride, row, n, b, lo, o + 256 + 2 * r);
				q4_0_row(w, wstride, row + 8, n, b, hi, o + 256 + 2 * (r + 8));
				for (int e = 0; e < QK; e++) o[32 * (e / 4) + 4 * r + e % 4] = (uint8_t)(lo[e] | hi[e] << 4);
			}
		}
	}
}

// One row's super-block into the panel block o (zeroed by the caller).
static void pack_q6k_row(const uint8_t *blk, int r, uint8_t *o) {
	uint8_t u[QKK];
	sw_kscales s;
	sw_unpack256(SW_Q6_K, blk, u, &s);
	for (int j = 0; j < 16; j++) {
		for (int h = 0; h < 4; h++) memcpy(o + 128 * j + 32 * h + 4 * r, u + 16 * j + 4 * h, 4);
		o[2048 + 16 * j + 2 * r] = o[2048 + 16 * j + 2 * r + 1] = (uint8_t)(int8_t)s.sc[j];
	}
	memcpy(o + 2304 + 2 * r, &((const blk_q6_k *)blk)->d, 2);
}

void sw_pack_q6_kx8(int k, int n, const uint8_t *w, size_t wstride, int p0, int p1, uint8_t *dst) {
	int nb = k / QKK;
	for (int p = p0; p < p1; p++) {
		uint8_t *pp = dst + (size_t)p * nb * SW_PK_Q6_K;
		for (int b = 0; b < nb; b++) {
			uint8_t *o = pp + (size_t)b * SW_PK_Q6_K;
			memset(o, 0, SW_PK_Q6_K);
			for (int r = 0; r < SW_PKR_Q6_K && p * SW_PKR_Q6_K + r < n; r++)
				pack_q6k_row(w + (size_t)(p * SW_PKR_Q6_K + r) * wstride + (size_t)b * sizeof(blk_q6_k), r, o);
		}
	}
}

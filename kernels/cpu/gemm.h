// Panel sizes shared by the matmul driver and the panel kernels.
#ifndef SW_GEMM_H
#define SW_GEMM_H

#include "sw.h"

#define SW_PANEL_L 320  // bytes per 32-element block of a legacy panel
#define SW_PANEL_K 2880 // bytes per 256-element super-block of a k-quant panel
#define SW_FKC 256      // k-slice of a float panel (16 rows × 256 floats = 16 KiB)

// Per-thread scratch bytes the panel kernel of wtype needs for a row of k.
size_t sw_panel_scratch(int wtype, int k);

#endif

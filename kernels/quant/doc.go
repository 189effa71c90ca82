// Package quant converts rows between float32 and every weight type
// Spillway supports, with ggml's exact block layouts: the obviously-correct
// pure-Go reference that the fast CPU and CUDA kernels, the reference
// backend and the tests check against.
//
// Entry points: DequantizeRow and QuantizeRow (one row, any type; CheckRow
// validates sizes as an error), F16/BF16 scalar and slice conversions,
// VecDotType (which activation type ggml pairs with a weight type),
// QuantizeActivationRow (activations rounded as ggml's x86 CPU matmul
// does) and ErrorBound (how far a round trip may move a row, per type).
//
// Block byte maps (little-endian; f16 = IEEE half; "nibble j | j+16" means
// element j in the low nibble of byte j, element j+16 in the high one):
//
//	F32   4 B/elem  F16 2 B/elem  BF16 2 B/elem (top half of a float32)
//	Q4_0  32 elem, 18 B: d f16 | qs[16] nibble j | j+16      x = (q−8)·d
//	Q4_1  32 elem, 20 B: d f16 | m f16 | qs[16]              x = q·d + m
//	Q5_0  32 elem, 22 B: d f16 | qh u32 (bit j = 5th bit of elem j) | qs[16]
//	                                                          x = (q−16)·d
//	Q5_1  32 elem, 24 B: d f16 | m f16 | qh u32 | qs[16]      x = q·d + m
//	Q8_0  32 elem, 34 B: d f16 | qs[32] int8                  x = q·d
//	Q8_1  32 elem, 36 B: d f16 | s f16 (= d·Σq) | qs[32] int8 x = q·d
//	Q2_K 256 elem, 84 B: scales[16] (lo nibble scale, hi nibble min) |
//	                     qs[64] 2-bit | d f16 | dmin f16      x = d·sc·q − dmin·m
//	Q3_K 256 elem,110 B: hmask[32] (3rd bit, set = no −4) | qs[64] 2-bit |
//	                     scales[12] (16 × 6-bit, bias 32) | d f16
//	                                                          x = d·(s−32)·(q−4·!h)
//	Q4_K 256 elem,144 B: d f16 | dmin f16 | scales[12] (8 × 6-bit scale and
//	                     min) | qs[128] nibbles               x = d·sc·q − dmin·m
//	Q5_K 256 elem,176 B: as Q4_K with qh[32] (5th bits) before qs[128]
//	Q6_K 256 elem,210 B: ql[128] low nibbles | qh[64] 2-bit tops |
//	                     scales[16] int8 | d f16              x = d·sc·(q−32)
//	Q8_K 256 elem,292 B: d f32 | qs[256] int8 | bsums[16] int16 x = d·q
//
// The bit positions inside a k-quant super-block interleave elements in
// groups of 32 and 64 (see each dequantizer's comment); in every k-quant,
// element e uses sub-block scale e/16 (Q2_K, Q3_K, Q6_K) or e/32 (Q4_K,
// Q5_K).
//
// Invariants:
//   - DequantizeRow is bit-exact with ggml's to_float (and gguf-py) for all
//     types: checked against llama.cpp's own output on real GGUF files.
//   - Float arithmetic follows ggml's reference code operation by
//     operation in float32. Go may fuse x*y + z into one FMA; every product
//     that feeds an addition is wrapped in float32(...), which the language
//     defines as a rounding point, so results do not depend on GOARCH.
//   - QuantizeRow implements ggml's *_ref quantizers (no importance
//     matrix) byte for byte, as ggml computes them without FMA contraction
//     (pinned by testdata/quantize.golden, checked against ggml's C once).
//     Output for finite input within the scale type's range dequantizes to
//     within ErrorBound of the input; F32 is lossless.
//   - DequantizeRow accepts any bytes; only lengths that do not match the
//     type panic (a programming error, as with slices). CheckRow reports the
//     same conditions as an error for callers holding untrusted sizes.
//   - No function allocates per call except the lookup tables built once at
//     init (a 256 KiB half-to-float table).
//   - The package imports the standard library and spillway/kernels only.
package quant

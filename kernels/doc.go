// Package kernels defines the compute contract of Spillway: the Backend
// interface (about fifteen coarse ops of a llama-family forward pass), the
// Tensor view, element types (DType, equal to ggml's type ids), the paged
// KV cache layout and the backend registry.
//
// Invariants:
//   - A Tensor is a 2-D row-major view (Rows, Cols) with Cols contiguous;
//     a quantized row is Cols/BlockSize blocks. Views never own memory.
//   - Every backend computes what kernels/ref computes, within
//     atol + rtol·|ref|; the conformance suite (kernels/conformance) checks
//     this for every op and weight type, odd sizes included.
//   - Fused ops (fused.go) are optional interfaces, each defined as a
//     sequence of Backend ops that an implementation equals bit for bit;
//     callers use the helpers, which fall back to the sequence.
//   - The KV cache is paged: slot = block·BlockSize + offset. Attention reads
//     only through block tables, so prefix sharing is free for the kernels.
//   - This package imports the standard library only.
package kernels

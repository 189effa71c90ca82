// Package cpu is Spillway's fast CPU backend, registered as "cpu": every
// kernels.Backend op implemented in C (the *.c files beside this one)
// behind cgo, with run-time instruction-set dispatch and a persistent
// thread pool. Without cgo (CGO_ENABLED=0) the package compiles to nothing
// but this comment and registers nothing; the engine then uses "ref".
//
// Invariants:
//
//   - cgo boundary: `import "C"` and every C type live in cgo.go only; the
//     rest of the package sees Go types. C code never keeps a pointer after
//     an op returns, so Go memory (FromHost bytes, index slices) may be
//     handed to it; the op keeps that memory reachable for the call.
//   - Memory: Alloc and AllocKV return zeroed, 64-byte-aligned C memory
//     that Close frees. FromHost aliases the caller's bytes (an mmapped
//     GGUF, say) and never copies them; the caller keeps them alive and
//     unchanged while the tensor is in use.
//   - Dispatch: at New the kernel table is chosen once for the backend:
//     avx2 (AVX2+FMA+F16C, detected with __builtin_cpu_supports) or the
//     portable scalar C path; SPILLWAY_CPU_ISA=scalar|avx2|avx512 forces a
//     level and fails if this CPU (or this build: no AVX-512 kernels yet)
//     cannot run it. SIMD code is compiled per file for its target with
//     the rest of the package at baseline x86-64, so the binary runs on
//     any x86-64. The scalar kernels are the slow reference the SIMD ones
//     are tested against; both see the same 8-bit activations, so they
//     differ only by float rounding.
//   - Threads: a pool of Options.Threads threads (default: one per core),
//     the calling thread included, created at New and stopped at Close.
//     Idle workers spin ~200µs, then sleep on a futex. Ops run one at a
//     time (a mutex), each as one or two pool tasks whose work (rows of w
//     for MatMul, (sequence, kv head, query tile) for Attention, row
//     chunks elsewhere) is claimed through an atomic counter; a worker
//     that wakes late finds the task closed and is not waited for.
//   - Numerics: F32 activations, F32 accumulation. Quantized MatMul
//     quantizes each row of x once per call to 8 bits (blocks of 32 for
//     the legacy types, 256 with 16-element sums for the k-quants, values
//     in [-127, 127]) and computes exact integer block sums, as llama.cpp
//     does; float weights use F32 FMA. Norms, RoPE angles and softmax are
//     F32 (RoPE rotates in float64 like the reference). No FMA contraction
//     outside explicit intrinsics (-std=c11), so Embed dequantizes rows
//     bit-identically to ggml.
//   - Errors: shape, type and aliasing mistakes panic with the op and the
//     shapes (programming errors). A failed scratch allocation skips the
//     op and is returned by the next Sync.
package cpu

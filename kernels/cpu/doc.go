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
//     unchanged while the tensor is in use. The one copy the backend makes
//     is a MatMul weight's packed twin (pack.go, pack.c): on AVX2, Q4_0 and
//     Q6_K weights are re-laid once, at PrepareWeights or their first
//     MatMul, into panels in the order the register tiles read them
//     (Q4_0: 16 rows, a permutation of the same nibbles, rows r and r+8
//     sharing bytes; Q6_K: 8 rows, the same weights with each 6-bit value
//     widened to a byte, 1.4 times the GGUF's size; both plus zero padding
//     rows). Twins are
//     keyed by (buffer, offset, shape, type), dropped by an Upload into
//     their buffer and freed at Close. Where MatMul never reads the GGUF
//     bytes again (Q4_0), their pages are handed back (MADV_PAGEOUT), so
//     resident memory stays one copy of the weights; Q6_K keeps both, since
//     single decodes read the original. SPILLWAY_CPU_PACK=off disables it.
//   - Dispatch: the kernel table is chosen once per backend at New, the
//     widest level the CPU has (detected with __builtin_cpu_supports):
//     avx512 (AVX-512 F/BW/VL/VNNI: the avx2 table with vpdpbusd tiles for
//     packed Q4_0, avx512_pgemm.c), avx2 (AVX2+FMA+F16C), or the portable
//     scalar C path. SPILLWAY_CPU_ISA=scalar|avx2|avx512 forces a level and
//     New fails if this CPU cannot run it. SIMD files are compiled for their
//     target and the rest at baseline x86-64, so the binary runs on any
//     x86-64. The scalar kernels are the slow reference the SIMD ones are
//     tested against: both see the same 8-bit activations and integer block
//     sums, so they differ only by float rounding. The avx512 tiles give
//     the avx2 tiles' results bit for bit (TestAVX512MatchesAVX2).
//   - Threads: a pool of Options.Threads threads (default: one per physical
//     core), the calling thread included, created at New and stopped at
//     Close. Idle workers spin ~200µs, then sleep on a futex. Ops run one
//     at a time (a mutex); each is one or two pool tasks whose work is
//     claimed through an atomic counter: chunks of rows of w for MatMul,
//     (sequence, kv head, query tile) for Attention, chunks of rows for
//     the rest. A worker that wakes after the caller ran out of work finds
//     the task closed and is not waited for, so an op never stalls on an
//     oversubscribed machine.
//   - MatMul: quantized weights meet x quantized once per call to 8 bits (blocks
//     of 32 for the legacy types, of 256 with 16-element sums for the k-quants;
//     values in [-127, 127]) in exact integer block sums, as llama.cpp does;
//     float weights use F32 FMA. For Q4_0 a block's scale amax/127 is rounded up
//     to a power-of-two grid shared by the row (X32G: the largest scale is
//     8192–16384 steps, so a scale grows by less than 2^-13 of the largest),
//     which lets the packed tiles apply it in one integer madd; the other types
//     keep llama.cpp's scales exactly. Packed weights run one tile kernel for
//     every T (Q4_0: 1 to 6 rows of x per tile, several passes over a panel from
//     7 rows on, the first keeping its unpacked nibbles for the rest in
//     per-thread scratch; Q6_K: 1 to 8 rows; on avx512, Q4_0 tiles of 1 to 8
//     rows with no unpacked copy, and Q6_K tiles of two panels up to 32 rows; each row's sums in the same order
//     whatever the tile, so results do not depend on the batch) and MatMulN runs
//     several weights of one x in one pass of the pool. Other weights: up to a
//     per-type number of rows of x (about 5 to 8; 48 for float weights) each
//     weight row is dotted with four x rows at a time; beyond it, 8 (16) rows of
//     w are unpacked into a panel in L1/L2 and swept over all of x with register
//     tiles whose lanes are output columns.
//   - Numerics: F32 activations and accumulation; F16/BF16 tensors are
//     widened to F32 and rounded back (ties to even). Softmax is online in
//     F32; RoPE computes angles and rotates in float64 like the reference
//     (the context keeps the last calls' cos/sin, keyed by parameters and
//     positions, so a step's q and k of every layer share one computation).
//     Attention serves the heads of one kv group together where there are
//     8 of them (attn8); either way a row's result does not depend on the
//     other sequences of the batch.
//     C is compiled as ISO C11, which turns off FMA contraction, so Embed
//     dequantizes rows bit-identically to ggml.
//   - Errors: shape, type and aliasing mistakes panic naming the op and
//     the shapes (programming errors). A failed scratch allocation skips
//     the op and is returned by the next Sync.
package cpu

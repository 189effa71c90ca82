// Package ref is the reference backend, registered as "ref": a pure-Go
// implementation of every kernels.Backend op, written to be obviously
// correct rather than fast. It is the oracle the conformance suite
// (kernels/conformance) holds every other backend to, and the backend the
// engine falls back to when built without cgo.
//
// Invariants:
//   - Storage is host memory: every tensor's Buf is a *HostBuffer. FromHost
//     aliases the caller's bytes (weights mmapped from a GGUF file are used
//     in place); Alloc returns zeroed Go memory.
//   - Every input element is read through quant.DequantizeRow, so any type
//     the quant package knows is accepted as weights, and activations may be
//     F32, F16 or BF16 although ActDType is F32. Outputs are F32, F16 or
//     BF16: each value is rounded once to float32 and then to the output
//     type (round to nearest even), the way a float32 kernel would store it.
//   - Arithmetic is float64: dot products, sums of squares, softmax,
//     rotation angles (RoPEParams.Theta). So the result differs from the
//     exact one only by the rounding of the stored output, and it is the
//     yardstick, not a competitor, of the fast backends.
//   - The KV cache (F32, F16 or BF16) rounds values when StoreKV writes
//     them, like llama.cpp's F16 cache; Attention reads positions only
//     through the block tables and never reads a slot past CtxLen.
//   - Shape mismatches, foreign tensors, out-of-range ids or slots and
//     invalid attention batches are programming errors: they panic with a
//     message "ref: Op: ..." naming the op and the shapes. Nothing is queued,
//     so Sync always returns nil.
//   - No op keeps state between calls; a Backend is safe for one goroutine
//     at a time (MatMul spreads its own work over Options.Threads
//     goroutines).
package ref

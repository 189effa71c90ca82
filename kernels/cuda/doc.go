// Package cuda is the CUDA backend, registered as "cuda": the kernels of
// kernels/cuda/*.cu, compiled by nvcc into one fatbin (`make cuda`, SASS for
// sm_80/86/89/90 plus PTX) that the binary embeds, driven through a thin cgo
// shim over the CUDA driver API.
//
// Invariants:
//   - No link-time CUDA dependency: shim.c dlopens libcuda.so.1 at run time
//     and fills a table of function pointers with our own declarations. A
//     binary built here starts anywhere; the factory returns an error, never
//     panics or exits, when the driver ("no CUDA driver"), a device ("no
//     CUDA device") or the kernels ("built without kernels: run make cuda")
//     are missing. `import "C"` and C types stay in driver.go and
//     hostcheck.go.
//   - Weights are copied to the device once (FromHost); activations are F16
//     (default) or BF16 (Options.ActDType); every kernel accumulates in FP32,
//     and norms, softmax and logits are computed in FP32.
//   - Every op is queued on one stream and returns at once. The host waits
//     only in Download, Sync, Close, and (rarely) when the pinned staging
//     area for op metadata wraps onto copies still in flight. Device errors
//     are kept and returned by the next Sync.
//   - Shape errors, foreign tensors and out-of-range ids or slots panic
//     with "cuda: Op: ..." before anything is queued, as in kernels/ref.
//   - Each fast path has its slow reference: kernels/ref through the
//     conformance suite on a GPU, and the block decoders of quant.cuh,
//     compiled for the host, against kernels/quant here.
//   - The kernels also run without a GPU: emu/ compiles them for the host
//     behind a stand-in libcuda.so.1 that runs each block's threads as
//     fibers (SPILLWAY_CUDA_DRIVER names it; make test-cuda-emu, which CI
//     runs). It checks their logic (indexing, barriers, shuffles, graph
//     capture, fused against unfused), not their speed, and not what only
//     hardware does (memory ordering between blocks, PDL overlap).
//   - A decode step can be recorded once per batch-size bucket and replayed
//     as a CUDA graph (GraphCapturer); the contract is on that interface.
//   - MatMul of up to 64 tokens runs the GEMV in passes of up to 8, with
//     warps per row chosen from the matrix's shape alone, so a token's
//     products are added in the same order in a decode batch of up to 64
//     sequences as alone. Past 64 tokens the tensor-core GEMM multiplies in
//     16 bits, so batched and lone results differ within the F16 tolerance.
//   - A decode layer is about ten launches: the optional fused ops
//     (kernels.AddRMSNormer, RoPEStoreKVer, MultiMatMuler, the last with
//     up to three matrices per GEMV launch) equal their sequences of ops
//     bit for bit (conformance group Fused), and RMSNorm, SiLUMul and
//     Attention write a decode-sized output's 8-bit form for the MatMul
//     that reads it next (q8Out), once a block-quantized weight is loaded.
//     That quantization is sw_quant_q8's arithmetic on the rounded output,
//     and the memo that lets MatMul skip its own is keyed by the output's
//     write generation, so it never serves stale data. SPILLWAY_CUDA_FUSE=0
//     runs each fused op as its sequence and turns that quantization off.
//   - Q4_K and Q6_K have decode GEMVs of their own and F16/BF16 take two
//     rows a warp; SPILLWAY_CUDA_GEMV=generic selects the generic kernels
//     instead, for side-by-side measurement (BenchmarkGEMVGraph runs both);
//     SPILLWAY_CUDA_GEMV_SPLIT=1|2|4 fixes the warps a row of every GEMV
//     (gemvSplit chooses by shape otherwise). SPILLWAY_CUDA_GEMV=stream
//     runs Q4_K and Q6_K through the streamed GEMV (gemv_stream.cuh: one
//     wave of blocks copying their share of rows into shared memory ahead
//     of use), whose sums equal the direct kernels' bit for bit; it is off
//     until measured faster on a GPU.
//   - Every kernel begins with pdl_enter() (TestKernelsEnterPDL): on sm_90
//     and newer, kernels are launched with programmatic dependent launch
//     (pdl.go) and may start before their predecessor ends, so nothing may
//     touch global memory before that wait but L2 prefetches of weights and
//     attention's reads of its metadata and of earlier steps' cache rows.
//     SPILLWAY_CUDA_PDL=0 turns it off.
//   - Attention that splits a context's keys over several blocks merges
//     their partials in sw_attn_combine; SPILLWAY_CUDA_ATTN=merge merges
//     them in the last of those blocks to finish instead (a counter per
//     block group, put back to zero by that block), one launch a layer,
//     until a GPU measurement says which is faster.
//   - Scratch buffers only grow; a replaced one is kept until Close, since
//     a recorded graph may still use it.
//   - A Backend is used by one goroutine at a time.
package cuda

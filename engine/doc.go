// Package engine binds a loaded model description to a kernel backend and
// a paged KV pool, and runs forward steps over it.
//
// Invariants:
//   - The KV pool is sized once, at New, after the weights are loaded: from
//     KVCacheMemory, or on a backend that reports device memory from
//     GPUMemoryUtilization (what keeps that share of the device in use).
//     It never grows. A budget that cannot hold one full context is an
//     error that names the setting to change.
//   - On a backend that records graphs (model.GraphCapturer: CUDA) and
//     without EnforceEager, decode steps replay per-bucket graphs, and the
//     pool's last block is kept for the rows that pad a batch to its
//     bucket: sequences own blocks [0, NumBlocks()) only.
//   - One goroutine drives an Engine at a time (the scheduler, or a Runner
//     for single-sequence commands); the model's scratch is not shared.
package engine

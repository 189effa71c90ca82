// Package engine binds a loaded model description to a kernel backend and
// a paged KV pool, and runs forward steps over it.
//
// Invariants:
//   - The KV pool is sized once, at New, after the weights are loaded: from
//     KVCacheMemory, or on a backend that reports device memory from
//     GPUMemoryUtilization (what keeps that share of the device in use).
//     It never grows. A budget that cannot hold one full context is an
//     error that names the setting to change.
//   - One goroutine drives an Engine at a time (the scheduler, or a Runner
//     for single-sequence commands); the model's scratch is not shared.
package engine

// Package scheduler is the continuous-batching loop: request lifecycle,
// admission with priorities, chunked prefill under a token budget,
// preemption by recomputation, n > 1 choices forked from one prompt, stop
// conditions, and the saturation signal.
//
// Invariants:
//   - One goroutine (Run's) owns the executor, the block manager and every
//     sequence; Submit only hands requests over a channel, and Snapshot
//     reads an atomically published copy.
//   - Each step schedules running sequences first (oldest admission first,
//     decodes and unfinished prefill chunks), then admits waiting ones in
//     (priority, arrival) order with the token budget that is left.
//   - Out of KV blocks, the lowest-priority, most recently admitted
//     sequence not yet in the step is preempted: its blocks are freed and it
//     waits again with its tokens, to be recomputed (prefix hits permitting).
//   - A request's event channel is sized for all its events, so the loop
//     never blocks on a slow client; a cancelled context frees the request's
//     blocks at the next step.
//   - Every request ends with exactly one finish event per choice; the last
//     one carries Stats and is followed by the channel's close.
package scheduler

// Package sample turns a logit vector into the next token, with logprobs,
// the way vLLM, llama.cpp and OpenAI users expect. Pure Go, standard
// library only.
//
// A Sampler belongs to one sequence. Each Sample call processes a copy of
// the logits in vLLM V1's order:
//
//	logit bias → repetition penalty (prompt+output) → frequency and presence
//	penalties (output) → temperature → min_p → top_k → top_p → draw
//
// vLLM applies the bias before the penalties (its logit-bias processor runs
// before apply_penalties); only the repetition penalty, which scales, does
// not commute with the bias.
//
// Invariants:
//   - Sample never modifies its input and never panics on any float32 input:
//     NaN logits count as -Inf (never sampled), +Inf as the largest float32.
//   - Greedy (temperature < 1e-5, or top_k == 1) is the argmax of the
//     processed logits, ties to the lowest id, and consumes no randomness.
//   - With Params.Seed set, the same logits sequence gives the same tokens
//     on every run and platform: the stream is PCG(seed), one Float64 per
//     non-greedy draw, and every selection (top-k, nucleus, draw order) is
//     a deterministic function of its input.
//   - Every selection uses one strict order: larger logit (weight) first,
//     then lower token id. top_k keeps exactly k tokens even on ties; top_p
//     keeps token j iff the mass before it is below p (vLLM's rule), so at
//     least one token always survives.
//   - Logprobs are, by default, log_softmax of the raw logits
//     (LogprobsRaw, vLLM V1's default "raw_logprobs" and llama.cpp's): not
//     changed by temperature, filters, bias or penalties. LogprobsPenalized
//     and LogprobsProcessed report the other two common conventions. Top
//     holds at most Params.Logprobs entries, best first, never one with
//     probability 0, so Σ exp(Top) ≤ 1.
//   - Work per call is O(V) plus O(V log k) for top_k and O(candidates)
//     expected for top_p (linear tail pruning, then a mass quickselect; no
//     full sort). Plain greedy reads the logits once without copying them.
//     The scratch buffers come from a pool, so memory follows concurrent
//     calls rather than live sequences, and steady-state calls allocate
//     nothing but Result.Top.
//
// Every fast path has a slow float64 reference in reference_test.go that
// sorts the whole vocabulary; tests compare the two on random inputs.
package sample

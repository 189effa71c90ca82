// Package federation spills requests the local engine cannot take in
// time to external providers: OpenAI-compatible servers (OpenAI, vLLM,
// llama.cpp, Ollama, another Spillway) and Anthropic's Messages API.
//
// The pieces, in the order a request meets them:
//
//   - Router (Spiller.Route) decides, per model policy (local-first,
//     failover, weighted A/B, least-latency, cost), an ordered list of
//     targets, where Local is the engine itself. Saturation comes from
//     Thresholds.Saturated, a pure function of the scheduler's Signal with
//     hysteresis; a stale signal counts as saturated.
//   - Spiller.Complete / Spiller.Stream walk that list: per provider a
//     limiter (concurrency, requests/min), a circuit Breaker, retries with
//     backoff and jitter honouring Retry-After, then failover to the next
//     target; reaching Local returns ErrServeLocally.
//   - Every call ends in one Record: tokens, cost, latency, tenant,
//     provider. Records feed the tenant budgets, the Prometheus
//     collector (spillway:spill_*) and Snapshot.
//   - An optional response cache answers deterministic requests
//     (temperature 0 or a seed) without calling anyone.
//
// Invariants:
//
//   - Never re-send after the first byte. Retries and failover happen
//     only while no chunk has reached the client (token-less preamble
//     chunks are held back until the first token so a stall after the
//     upstream's role chunk is still retryable). After that, a failing
//     upstream ends the client's stream with an explicit error chunk
//     (ErrorChunk) and Stream returns a *StreamError: never a silent
//     truncation, never a silent second answer.
//   - A stream is complete only on its wire format's terminal event
//     (data: [DONE] or a finish_reason for OpenAI, message_stop for
//     Anthropic); ending without it is ErrTruncated.
//   - Budgets stop spilling, never local service: a tenant over its
//     spill budget is routed locally when the model is local, and no
//     provider is ever called for it; only remote-only models refuse.
//   - Models without a route are local-only: federation never stands
//     between a client and the local engine.
//   - Only a provider's own failures (5xx, 429, timeouts, broken or
//     malformed responses, auth) count against its breaker; bad requests,
//     client disconnects and local limits do not.
//   - Nothing from an upstream is trusted for sizes: bodies, SSE lines
//     and events, error bodies and held chunks all have fixed bounds.
//   - Decisions by time (breaker, budgets' UTC day, rate limits, cache
//     TTL, backoff) read the injectable Clock; I/O timeouts (connect,
//     first token, idle, request) use the wall clock.
//
// The package imports no other Spillway package.
package federation

// Package api is Spillway's OpenAI-compatible HTTP surface on fasthttp:
// /v1/chat/completions, /v1/completions, /v1/models, /tokenize,
// /detokenize, /health, /metrics and /admin/federation, with Bearer-key tenants, per-tenant
// rate limits, server-sent event streams and Prometheus metrics under
// vLLM's names.
//
// Invariants:
//   - Every error reaches the client as OpenAI's error document
//     {"error":{"message","type","param","code"}} with its HTTP status;
//     nothing a client sends can panic the server or make it allocate more
//     than the body limit allows.
//   - A request is validated completely (JSON, model, parameter ranges,
//     context length, rate limits) before it is submitted, so a submitted
//     request fails only for capacity (503) or engine errors.
//   - Every submitted request ends: its context is cancelled when the
//     client goes away, the request times out or the shutdown grace ends,
//     and its event channel is drained to the end, so generator slots and
//     goroutines never leak.
//   - The generator is never blocked by a slow client: each request's
//     events are queued on the API side (at most max_tokens × n of them)
//     and WriteTimeout bounds a client that stops reading.
//   - A stream that started ends with "data: [DONE]"; if the generation
//     failed or was aborted, an error event comes first. Streams are never
//     silently truncated.
//   - With a federation (Config.Federation), chat completions of routed
//     models are validated as for local service, then routed; models
//     without a route, and every request when there is no federation,
//     are served exactly as before. A spilled response is committed only
//     on its first upstream chunk, so a failure before it is an ordinary
//     error status (or falls back to the local engine); after it, the
//     stream ends with an error event and [DONE]. A tenant over its spill
//     budget is served locally or refused with 429, never spilled.
//   - The prompt is tokenized once, with exactly one BOS when the model
//     wants one, whether or not the chat template prints it.
package api

// Package bench is Spillway's serving benchmark: a load generator for any
// OpenAI-compatible endpoint (streaming chat or completions), the datasets
// it sends (synthetic, shared-prefix, JSONL replay), the metrics it
// computes (TTFT, TPOT, ITL, E2E latency, throughput, goodput), a scraper
// of the server's own Prometheus metrics, and the reports it writes
// (terminal tables, JSON records, PNG/SVG plots, comparisons).
// StartServer launches a server on loopback and RunSweep walks a list of
// concurrency levels and request rates against it; `spillway bench` and
// `make bench` wire these together.
//
// Metric definitions are vLLM's benchmark_serving's, so figures compare
// with published vLLM numbers:
//   - TTFT: request sent → first streamed chunk with content.
//   - E2E latency: request sent → end of stream ("data: [DONE]").
//   - TPOT: (E2E − TTFT)/(output tokens − 1), per request with more than
//     one output token; averaged over requests, not tokens.
//   - ITL: every gap between consecutive content chunks, pooled over all
//     requests (a chunk carrying several tokens is one gap).
//   - Throughput: completed requests, output tokens and input+output
//     tokens divided by the benchmark duration; goodput counts only the
//     requests that meet every SLO given (a request with ≤ 1 output token
//     has TPOT 0 for that test).
//   - Percentiles interpolate linearly between order statistics (numpy's
//     default); statistics of an empty set are 0.
//
// Invariants:
//   - Warm-up requests are separate requests, sent and finished before the
//     measured window opens; they never appear in results or figures.
//   - Every request ends: each has its own timeout, dispatch stops at the
//     run's MaxDuration and whatever is still in flight after Drain is
//     cancelled; Execute returns only after every goroutine it started
//     has returned.
//   - Token counts come from the server's usage (stream_options.
//     include_usage); when a server sends none, the output count falls
//     back to the number of content chunks and the record says so.
//   - A failed request counts under exactly one error kind and contributes
//     to no latency figure; only successful requests enter the statistics.
//   - Parsers (SSE streams, Prometheus text, replay JSONL, SLO strings)
//     bound every length they read and return errors, never panic.
//   - The package only ever dials the URLs it is given; its tests use
//     loopback servers only.
package bench

package bench

import (
	"math"
	"slices"
	"time"
)

// Error kinds: a failed request counts under exactly one.
const (
	ErrConnect      = "connect"       // dial or write failed before a response
	ErrTimeout      = "timeout"       // the request's own timeout expired
	ErrCanceled     = "canceled"      // the run ended (drain expired or caller cancelled)
	ErrBrokenStream = "broken_stream" // the stream ended without "data: [DONE]"
	ErrStreamError  = "stream_error"  // the server sent an error event in the stream
	ErrBadResponse  = "bad_response"  // unparsable chunk, oversized line, wrong content type
	ErrEmpty        = "empty_stream"  // the stream finished without any content
	// HTTP status errors count as "http_<code>", e.g. "http_500".
)

// Result is one request's timeline, as the client saw it.
type Result struct {
	Start        time.Duration   // when it was sent, since the measured window opened
	TTFT         time.Duration   // sent → first content chunk
	Latency      time.Duration   // sent → end of stream (E2E)
	ITL          []time.Duration // gaps between consecutive content chunks; (chunks−1,)
	PromptTokens int
	OutputTokens int
	Usage        bool   // token counts came from the server's usage
	Err          string // error kind; "" when it succeeded
	Detail       string // the error's text, for the log
}

// OK reports a successful request.
func (r Result) OK() bool { return r.Err == "" }

// Dist summarizes one latency metric, in milliseconds.
type Dist struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean_ms"`
	Median float64 `json:"median_ms"`
	Std    float64 `json:"std_ms"`
	P90    float64 `json:"p90_ms"`
	P95    float64 `json:"p95_ms"`
	P99    float64 `json:"p99_ms"`
}

// Metrics are the figures of one measured window.
type Metrics struct {
	Requests          int            `json:"requests"` // measured requests sent
	Completed         int            `json:"completed"`
	Failed            int            `json:"failed"`
	Errors            map[string]int `json:"errors,omitempty"`
	TotalInput        int            `json:"total_input_tokens"`
	TotalOutput       int            `json:"total_output_tokens"`
	UsageMissing      int            `json:"usage_missing,omitempty"` // completed without server usage
	DurationS         float64        `json:"duration_s"`
	RequestThroughput float64        `json:"request_throughput"`     // completed / s
	OutputThroughput  float64        `json:"output_throughput"`      // output tokens / s
	TotalThroughput   float64        `json:"total_token_throughput"` // (input + output) tokens / s
	GoodRequests      int            `json:"good_requests,omitempty"`
	Goodput           float64        `json:"request_goodput,omitempty"` // requests meeting every SLO / s
	TTFT              Dist           `json:"ttft"`
	TPOT              Dist           `json:"tpot"`
	ITL               Dist           `json:"itl"`
	E2EL              Dist           `json:"e2el"`
}

// tpot is (E2E − TTFT)/(output − 1), or 0 when there is at most one output
// token (vLLM leaves those out of the TPOT statistics but counts them as
// TPOT 0 for goodput).
func tpot(r Result) (time.Duration, bool) {
	if r.OutputTokens <= 1 {
		return 0, false
	}
	return (r.Latency - r.TTFT) / time.Duration(r.OutputTokens-1), true
}

// Compute derives the figures from the measured requests and the window's
// duration, exactly as vLLM's benchmark_serving does.
func Compute(results []Result, dur time.Duration, slo SLO) Metrics {
	m := Metrics{Requests: len(results)}
	var ttfts, tpots, itls, e2els []float64 // seconds
	for _, r := range results {
		if !r.OK() {
			m.Failed++
			if m.Errors == nil {
				m.Errors = map[string]int{}
			}
			m.Errors[r.Err]++
			continue
		}
		m.Completed++
		m.TotalInput += r.PromptTokens
		m.TotalOutput += r.OutputTokens
		if !r.Usage {
			m.UsageMissing++
		}
		tp, ok := tpot(r)
		if ok {
			tpots = append(tpots, tp.Seconds())
		}
		for _, g := range r.ITL {
			itls = append(itls, g.Seconds())
		}
		ttfts = append(ttfts, r.TTFT.Seconds())
		e2els = append(e2els, r.Latency.Seconds())
		if !slo.Empty() && slo.Meets(r.TTFT, tp, r.Latency) {
			m.GoodRequests++
		}
	}
	m.TTFT, m.TPOT, m.ITL, m.E2EL = summarize(ttfts), summarize(tpots), summarize(itls), summarize(e2els)
	if s := dur.Seconds(); s > 0 {
		m.DurationS = s
		m.RequestThroughput = float64(m.Completed) / s
		m.OutputThroughput = float64(m.TotalOutput) / s
		m.TotalThroughput = float64(m.TotalInput+m.TotalOutput) / s
		m.Goodput = float64(m.GoodRequests) / s
	}
	return m
}

// summarize gives the statistics of xs (seconds) in milliseconds. Std is
// the population standard deviation, as numpy's default.
func summarize(xs []float64) Dist {
	d := Dist{N: len(xs)}
	if len(xs) == 0 {
		return d
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	mean := sum / float64(len(s))
	var ss float64
	for _, x := range s {
		ss += (x - mean) * (x - mean)
	}
	const ms = 1000
	d.Mean = mean * ms
	d.Std = math.Sqrt(ss/float64(len(s))) * ms
	d.Median = Percentile(s, 50) * ms
	d.P90 = Percentile(s, 90) * ms
	d.P95 = Percentile(s, 95) * ms
	d.P99 = Percentile(s, 99) * ms
	return d
}

// Percentile is numpy's default ("linear") percentile of sorted values:
// the order statistic at rank p/100·(n−1), interpolated between its
// neighbours. It is 0 for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := math.Max(0, math.Min(p/100, 1)) * float64(n-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, n-1)
	frac := rank - float64(lo)
	return sorted[lo] + frac*(sorted[hi]-sorted[lo])
}

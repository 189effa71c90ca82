package bench

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

func msl(xs ...int) []time.Duration {
	out := make([]time.Duration, len(xs))
	for i, x := range xs {
		out[i] = time.Duration(x) * ms
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestPercentileMatchesNumpy(t *testing.T) {
	// Expected values are numpy.percentile(xs, p) with the default method.
	cases := []struct {
		xs   []float64
		p    float64
		want float64
	}{
		{nil, 50, 0},
		{[]float64{10}, 99, 10},
		{[]float64{1, 2, 3, 4}, 50, 2.5},
		{[]float64{1, 2, 3, 4}, 90, 3.7},
		{[]float64{1, 2, 3, 4}, 99, 3.97},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 95, 9.55},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0, 1},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 100, 10},
		{[]float64{2, 2, 2}, 37, 2},
	}
	for _, c := range cases {
		if got := Percentile(c.xs, c.p); !near(got, c.want) {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.xs, c.p, got, c.want)
		}
	}
}

func TestSummarizeIsPopulationStatsInMs(t *testing.T) {
	d := summarize([]float64{0.004, 0.001, 0.003, 0.002}) // seconds, unsorted
	want := Dist{N: 4, Mean: 2.5, Median: 2.5, Std: math.Sqrt(1.25), P90: 3.7, P95: 3.85, P99: 3.97}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"mean", d.Mean, want.Mean}, {"median", d.Median, want.Median}, {"std", d.Std, want.Std},
		{"p90", d.P90, want.P90}, {"p95", d.P95, want.P95}, {"p99", d.P99, want.P99}} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if d.N != 4 {
		t.Errorf("N = %d, want 4", d.N)
	}
}

// A request whose chunks arrive at 100, 110, 130, 160 ms and whose stream
// ends at 170 ms, with 4 output tokens and 10 prompt tokens.
var steady = Result{TTFT: 100 * ms, ITL: msl(10, 20, 30), Latency: 170 * ms, PromptTokens: 10, OutputTokens: 4, Usage: true}

func TestComputeDefinitions(t *testing.T) {
	one := Result{TTFT: 50 * ms, Latency: 60 * ms, PromptTokens: 5, OutputTokens: 1, Usage: true}
	bad500 := Result{Err: "http_500", TTFT: time.Hour, Latency: time.Hour}
	broken := Result{Err: ErrBrokenStream, OutputTokens: 99}
	cases := []struct {
		name    string
		results []Result
		dur     time.Duration
		slo     SLO
		check   func(t *testing.T, m Metrics)
	}{
		{"tpot is (e2e-ttft)/(out-1)", []Result{steady}, time.Second, SLO{}, func(t *testing.T, m Metrics) {
			expect(t, "TPOT mean", m.TPOT.Mean, 70.0/3)
			expect(t, "TTFT median", m.TTFT.Median, 100)
			expect(t, "E2EL p99", m.E2EL.P99, 170)
			expect(t, "ITL mean", m.ITL.Mean, 20)
			expect(t, "ITL n", float64(m.ITL.N), 3)
		}},
		{"throughputs divide by the duration", []Result{steady, steady}, 2 * time.Second, SLO{}, func(t *testing.T, m Metrics) {
			expect(t, "request throughput", m.RequestThroughput, 1)
			expect(t, "output throughput", m.OutputThroughput, 4)
			expect(t, "total throughput", m.TotalThroughput, 14)
			expect(t, "duration", m.DurationS, 2)
		}},
		{"one-token outputs leave TPOT out", []Result{steady, one}, time.Second, SLO{}, func(t *testing.T, m Metrics) {
			expect(t, "TPOT n", float64(m.TPOT.N), 1)
			expect(t, "TPOT mean", m.TPOT.Mean, 70.0/3)
			expect(t, "TTFT mean", m.TTFT.Mean, 75)
			expect(t, "output tokens", float64(m.TotalOutput), 5)
		}},
		{"ITL pools gaps over requests", []Result{steady, {TTFT: 10 * ms, ITL: msl(40), Latency: 50 * ms, OutputTokens: 2}},
			time.Second, SLO{}, func(t *testing.T, m Metrics) {
				expect(t, "ITL n", float64(m.ITL.N), 4)
				expect(t, "ITL median", m.ITL.Median, 25)
				expect(t, "usage missing", float64(m.UsageMissing), 1)
			}},
		{"failures count by kind and nowhere else", []Result{steady, bad500, broken, bad500}, time.Second, SLO{},
			func(t *testing.T, m Metrics) {
				expect(t, "completed", float64(m.Completed), 1)
				expect(t, "failed", float64(m.Failed), 3)
				expect(t, "http_500", float64(m.Errors["http_500"]), 2)
				expect(t, "broken", float64(m.Errors[ErrBrokenStream]), 1)
				expect(t, "output tokens", float64(m.TotalOutput), 4)
				expect(t, "TTFT p99", m.TTFT.P99, 100)
			}},
		{"goodput: every SLO, equality passes", []Result{steady, one, {TTFT: 101 * ms, ITL: msl(1), Latency: 102 * ms, OutputTokens: 2}},
			2 * time.Second, SLO{TTFT: 100 * ms}, func(t *testing.T, m Metrics) {
				expect(t, "good", float64(m.GoodRequests), 2)
				expect(t, "goodput", m.Goodput, 1)
			}},
		{"goodput: one-token requests have TPOT 0", []Result{steady, one}, time.Second, SLO{TPOT: 10 * ms},
			func(t *testing.T, m Metrics) { expect(t, "good", float64(m.GoodRequests), 1) }},
		{"goodput: ttft and tpot together", []Result{steady}, time.Second, SLO{TTFT: 200 * ms, TPOT: 23 * ms},
			func(t *testing.T, m Metrics) { expect(t, "good", float64(m.GoodRequests), 0) }},
		{"nothing measured is all zeros", nil, 0, SLO{TTFT: ms}, func(t *testing.T, m Metrics) {
			expect(t, "throughput", m.OutputThroughput, 0)
			expect(t, "TTFT mean", m.TTFT.Mean, 0)
			if _, err := json.Marshal(m); err != nil {
				t.Errorf("metrics do not encode: %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, Compute(c.results, c.dur, c.slo)) })
	}
}

func expect(t *testing.T, what string, got, want float64) {
	t.Helper()
	if !near(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestNewRunKeepsFirstErrorPerKind(t *testing.T) {
	out := &Outcome{Results: []Result{steady, {Err: ErrTimeout, Detail: "first"}, {Err: ErrTimeout, Detail: "second"}},
		Duration: time.Second, Skipped: 2}
	r := NewRun("c=1", Params{}, out, SLO{}, nil)
	if r.ErrorSamples[ErrTimeout] != "first" || r.Skipped != 2 || r.Metrics.Errors[ErrTimeout] != 2 {
		t.Errorf("run = %+v", r)
	}
}

package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteRun prints one run the way vLLM's benchmark_serving does, so the
// two read alike.
func WriteRun(w io.Writer, r Run) {
	m := r.Metrics
	line := func(k string, v any) { fmt.Fprintf(w, "%-40s %v\n", k, v) }
	linef := func(k string, v float64) { fmt.Fprintf(w, "%-40s %.2f\n", k, v) }
	fmt.Fprintf(w, "%s\n", center(" Serving Benchmark Result "+r.Label+" ", 50, '='))
	line("Successful requests:", m.Completed)
	if m.Failed > 0 {
		line("Failed requests:", fmt.Sprintf("%d (%s)", m.Failed, errorSummary(m.Errors)))
	}
	if r.Skipped > 0 {
		line("Not sent (max duration reached):", r.Skipped)
	}
	linef("Benchmark duration (s):", m.DurationS)
	line("Total input tokens:", m.TotalInput)
	line("Total generated tokens:", m.TotalOutput)
	linef("Request throughput (req/s):", m.RequestThroughput)
	if r.Params.SLO != "" {
		linef("Request goodput (req/s):", m.Goodput)
	}
	linef("Output token throughput (tok/s):", m.OutputThroughput)
	linef("Total token throughput (tok/s):", m.TotalThroughput)
	for _, d := range []struct {
		title, short string
		d            Dist
	}{
		{"Time to First Token", "TTFT", m.TTFT},
		{"Time per Output Token (excl. 1st token)", "TPOT", m.TPOT},
		{"Inter-token Latency", "ITL", m.ITL},
		{"End-to-end Latency", "E2EL", m.E2EL},
	} {
		fmt.Fprintln(w, center(d.title, 50, '-'))
		for _, q := range []struct {
			k string
			v float64
		}{{"Mean", d.d.Mean}, {"Median", d.d.Median}, {"P90", d.d.P90}, {"P95", d.d.P95}, {"P99", d.d.P99}} {
			linef(fmt.Sprintf("%s %s (ms):", q.k, d.short), q.v)
		}
	}
	if s := r.Server; s != nil {
		fmt.Fprintln(w, center("Server (spillway: metrics)", 50, '-'))
		linef("Preemptions:", s.Preemptions)
		linef("Prefix cache hit rate (%):", 100*s.PrefixHitRate)
		linef("Peak KV cache usage (%):", 100*s.KVUsageMax)
		line("Peak running / waiting requests:", fmt.Sprintf("%.0f / %.0f", s.RunningMax, s.WaitingMax))
		for _, k := range sortedKeys(s.Spills) {
			linef(k+":", s.Spills[k])
		}
	}
	fmt.Fprintln(w, strings.Repeat("=", 50))
}

func center(s string, n int, pad rune) string {
	if len(s) >= n {
		return s
	}
	l := (n - len(s)) / 2
	return strings.Repeat(string(pad), l) + s + strings.Repeat(string(pad), n-len(s)-l)
}

func errorSummary(errs map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(errs) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// WriteSweep prints one row per run: the sweep's summary table.
func WriteSweep(w io.Writer, runs []Run) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "level\tok\tfail\treq/s\tout tok/s\tTTFT p50\tTTFT p99\tTPOT p50\tTPOT p99\tITL p50\tE2E p50\tE2E p99\tpreempt\tprefix hit\tKV peak\t")
	for _, r := range runs {
		m := r.Metrics
		server := "-\t-\t-\t"
		if s := r.Server; s != nil {
			server = fmt.Sprintf("%.0f\t%.0f%%\t%.0f%%\t", s.Preemptions, 100*s.PrefixHitRate, 100*s.KVUsageMax)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.1f\t%.0f\t%.0f\t%.1f\t%.1f\t%.1f\t%.0f\t%.0f\t%s\n",
			r.Label, m.Completed, m.Failed+r.Skipped, m.RequestThroughput, m.OutputThroughput,
			m.TTFT.Median, m.TTFT.P99, m.TPOT.Median, m.TPOT.P99, m.ITL.Median, m.E2EL.Median, m.E2EL.P99, server)
	}
	tw.Flush()
	fmt.Fprintln(w, "(latencies in ms; fail counts errors and requests not sent)")
}

// compared is a figure set side by side in comparisons.
var compared = []struct {
	name   string
	get    func(Metrics) float64
	higher bool // higher is better
}{
	{"completed", func(m Metrics) float64 { return float64(m.Completed) }, true},
	{"failed", func(m Metrics) float64 { return float64(m.Failed) }, false},
	{"request throughput (req/s)", func(m Metrics) float64 { return m.RequestThroughput }, true},
	{"output throughput (tok/s)", func(m Metrics) float64 { return m.OutputThroughput }, true},
	{"total throughput (tok/s)", func(m Metrics) float64 { return m.TotalThroughput }, true},
	{"goodput (req/s)", func(m Metrics) float64 { return m.Goodput }, true},
	{"TTFT median (ms)", func(m Metrics) float64 { return m.TTFT.Median }, false},
	{"TTFT p99 (ms)", func(m Metrics) float64 { return m.TTFT.P99 }, false},
	{"TPOT median (ms)", func(m Metrics) float64 { return m.TPOT.Median }, false},
	{"TPOT p99 (ms)", func(m Metrics) float64 { return m.TPOT.P99 }, false},
	{"ITL median (ms)", func(m Metrics) float64 { return m.ITL.Median }, false},
	{"ITL p99 (ms)", func(m Metrics) float64 { return m.ITL.P99 }, false},
	{"E2E median (ms)", func(m Metrics) float64 { return m.E2EL.Median }, false},
	{"E2E p99 (ms)", func(m Metrics) float64 { return m.E2EL.P99 }, false},
}

// Pair matches the runs of two reports by label; when each report has a
// single run they pair whatever their labels.
func Pair(a, b *Report) [][2]Run {
	if len(a.Runs) == 1 && len(b.Runs) == 1 {
		return [][2]Run{{a.Runs[0], b.Runs[0]}}
	}
	var out [][2]Run
	for _, ra := range a.Runs {
		for _, rb := range b.Runs {
			if ra.Label == rb.Label {
				out = append(out, [2]Run{ra, rb})
				break
			}
		}
	}
	return out
}

// WriteCompare prints two reports side by side with the ratio B/A; "+" marks
// the better side of each figure. It returns the number of pairs printed.
func WriteCompare(w io.Writer, a, b *Report) int {
	pairs := Pair(a, b)
	fmt.Fprintf(w, "A: %s (%s, %s)\nB: %s (%s, %s)\n", a.Name, a.Server.Model, a.Time.Format("2006-01-02 15:04"),
		b.Name, b.Server.Model, b.Time.Format("2006-01-02 15:04"))
	if len(pairs) == 0 {
		fmt.Fprintln(w, "no runs with matching labels to compare")
		return 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, p := range pairs {
		fmt.Fprintf(tw, "[%s vs %s]\tA\tB\tB/A\t\t\n", p[0].Label, p[1].Label)
		for _, c := range compared {
			va, vb := c.get(p[0].Metrics), c.get(p[1].Metrics)
			fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s\t%s\t\n", c.name, va, vb, ratio(vb, va), better(va, vb, c.higher))
		}
		fmt.Fprintln(tw, "\t\t\t\t\t")
	}
	tw.Flush()
	return len(pairs)
}

func ratio(num, den float64) string {
	if den == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", num/den)
}

func better(a, b float64, higher bool) string {
	switch {
	case a == b:
		return ""
	case (b > a) == higher:
		return "B+"
	default:
		return "A+"
	}
}

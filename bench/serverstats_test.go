package bench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"
)

func page(kv float64, preempt, queries, hits, spills int) string {
	return fmt.Sprintf(`# TYPE spillway:kv_cache_usage_perc gauge
spillway:kv_cache_usage_perc{model_name="m"} %v
spillway:num_requests_running{model_name="m"} %d
spillway:num_preemptions_total{model_name="m"} %d
spillway:prefix_cache_queries_total{model_name="m"} %d
spillway:prefix_cache_hits_total{model_name="m"} %d
spillway:spilled_requests_total{provider="openai"} %d
spillway:time_to_first_token_seconds_bucket{le="1",model_name="m"} 99
`, kv, preempt, preempt, queries, hits, spills)
}

func TestWatchServer(t *testing.T) {
	f := newFake(t)
	set := func(s string) { f.mu.Lock(); f.metrics = s; f.mu.Unlock() }
	set(page(0.1, 2, 1000, 100, 1))
	ctx := context.Background()
	w := WatchServer(ctx, http.DefaultClient, ScrapeURL(f.srv.URL+"/v1"), 10*time.Millisecond)
	if w == nil {
		t.Fatal("a page with spillway: metrics was not recognized")
	}
	set(page(0.75, 9, 1500, 300, 1))
	// Wait, bounded, until the sampler has seen the peak.
	for i := 0; ; i++ {
		w.mu.Lock()
		seen := w.stats.KVUsageMax
		w.mu.Unlock()
		if seen == 0.75 {
			break
		}
		if i == 200 {
			t.Fatal("the sampler never saw the peak")
		}
		time.Sleep(10 * time.Millisecond)
	}
	set(page(0.2, 9, 2000, 600, 4))
	st := w.Stop(ctx)
	want := ServerStats{Preemptions: 7, PrefixQueries: 1000, PrefixHits: 500, PrefixHitRate: 0.5, KVUsageMax: 0.75, RunningMax: 9}
	if st.Preemptions != want.Preemptions || st.PrefixQueries != want.PrefixQueries || st.PrefixHits != want.PrefixHits ||
		math.Abs(st.PrefixHitRate-want.PrefixHitRate) > 1e-12 || st.KVUsageMax != want.KVUsageMax || st.RunningMax != want.RunningMax {
		t.Errorf("stats %+v, want %+v", *st, want)
	}
	if st.Spills["spilled_requests_total"] != 3 {
		t.Errorf("spills %v, want spilled_requests_total 3", st.Spills)
	}
}

func TestWatchServerNotSpillway(t *testing.T) {
	f := newFake(t) // /metrics answers 404
	if w := WatchServer(context.Background(), nil, ScrapeURL(f.srv.URL), time.Second); w != nil {
		t.Error("a server without /metrics was watched")
	}
	f.mu.Lock()
	f.metrics = "vllm:kv_cache_usage_perc 0.5\n"
	f.mu.Unlock()
	if w := WatchServer(context.Background(), nil, ScrapeURL(f.srv.URL), time.Second); w != nil {
		t.Error("a vLLM page was taken for a Spillway one")
	}
}

func TestScrapeURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":     "http://127.0.0.1:8080/metrics",
		"http://127.0.0.1:8080/":    "http://127.0.0.1:8080/metrics",
		"http://127.0.0.1:8080/v1":  "http://127.0.0.1:8080/metrics",
		"http://127.0.0.1:8080/v1/": "http://127.0.0.1:8080/metrics",
	} {
		if got := ScrapeURL(in); got != want {
			t.Errorf("ScrapeURL(%q) = %q, want %q", in, got, want)
		}
	}
}

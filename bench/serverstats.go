package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Spillway's metric names (vLLM's, under the spillway: prefix).
const (
	mPrefix      = "spillway:"
	mPreempt     = mPrefix + "num_preemptions_total"
	mPCQueries   = mPrefix + "prefix_cache_queries_total"
	mPCHits      = mPrefix + "prefix_cache_hits_total"
	mKVUsage     = mPrefix + "kv_cache_usage_perc"
	mRunning     = mPrefix + "num_requests_running"
	mWaiting     = mPrefix + "num_requests_waiting"
	mPromptToks  = mPrefix + "prompt_tokens_total"
	mGenToks     = mPrefix + "generation_tokens_total"
	maxPromBytes = 64 << 20
)

// ServerStats is what a Spillway server's /metrics said about a run:
// counter deltas between the scrape before and the scrape after, and the
// peaks of the gauges sampled while it ran.
type ServerStats struct {
	Preemptions      float64            `json:"preemptions"`
	PrefixQueries    float64            `json:"prefix_cache_queries"` // tokens looked up
	PrefixHits       float64            `json:"prefix_cache_hits"`    // tokens found
	PrefixHitRate    float64            `json:"prefix_cache_hit_rate"`
	KVUsageMax       float64            `json:"kv_cache_usage_max"` // 1 = full
	RunningMax       float64            `json:"running_max"`
	WaitingMax       float64            `json:"waiting_max"`
	PromptTokens     float64            `json:"prompt_tokens"`
	GenerationTokens float64            `json:"generation_tokens"`
	Spills           map[string]float64 `json:"spills,omitempty"` // every spillway:*spill* counter's delta
	Scrapes          int                `json:"scrapes"`
}

// Snapshot sums each metric over its label sets (one series per model).
// Histogram buckets are left out: summed over le they mean nothing.
type Snapshot map[string]float64

// ScrapeURL is a server's /metrics address, from its API base URL.
func ScrapeURL(base string) string {
	return strings.TrimSuffix(strings.TrimRight(base, "/"), "/v1") + "/metrics"
}

// Scrape fetches and parses a /metrics page.
func Scrape(ctx context.Context, hc *http.Client, url string) (Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	samples, err := ParseProm(io.LimitReader(resp.Body, maxPromBytes))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	snap := Snapshot{}
	for _, s := range samples {
		if strings.HasSuffix(s.Name, "_bucket") || math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			continue
		}
		snap[s.Name] += s.Value
	}
	return snap, nil
}

// IsSpillway reports whether a snapshot came from a Spillway server.
func (s Snapshot) IsSpillway() bool {
	_, ok := s[mKVUsage]
	return ok
}

// Watch samples a server's metrics before, during and after a run.
type Watch struct {
	stop   context.CancelFunc
	done   chan struct{}
	hc     *http.Client
	url    string
	before Snapshot

	mu    sync.Mutex
	stats ServerStats
}

// WatchServer scrapes url now and then every interval until Stop. It
// returns nil when the server has no Spillway metrics, so the caller can
// skip the section for other servers.
func WatchServer(ctx context.Context, hc *http.Client, url string, interval time.Duration) *Watch {
	if hc == nil {
		hc = http.DefaultClient
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	before, err := Scrape(sctx, hc, url)
	cancel()
	if err != nil || !before.IsSpillway() {
		return nil
	}
	wctx, stop := context.WithCancel(ctx)
	w := &Watch{stop: stop, done: make(chan struct{}), hc: hc, url: url, before: before}
	w.observe(before)
	go w.loop(wctx, max(interval, 50*time.Millisecond))
	return w
}

func (w *Watch) loop(ctx context.Context, interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s, err := Scrape(ctx, w.hc, w.url); err == nil {
				w.observe(s)
			}
		}
	}
}

func (w *Watch) observe(s Snapshot) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Scrapes++
	w.stats.KVUsageMax = math.Max(w.stats.KVUsageMax, s[mKVUsage])
	w.stats.RunningMax = math.Max(w.stats.RunningMax, s[mRunning])
	w.stats.WaitingMax = math.Max(w.stats.WaitingMax, s[mWaiting])
}

// Stop ends the sampling, scrapes once more and returns the run's stats.
func (w *Watch) Stop(ctx context.Context) *ServerStats {
	w.stop()
	<-w.done
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	after, err := Scrape(sctx, w.hc, w.url)
	if err != nil {
		after = w.before // the server went away: no deltas rather than wrong ones
	}
	w.observe(after)
	w.mu.Lock()
	st := w.stats
	w.mu.Unlock()
	delta := func(k string) float64 { return math.Max(0, after[k]-w.before[k]) }
	st.Preemptions = delta(mPreempt)
	st.PrefixQueries, st.PrefixHits = delta(mPCQueries), delta(mPCHits)
	if st.PrefixQueries > 0 {
		st.PrefixHitRate = st.PrefixHits / st.PrefixQueries
	}
	st.PromptTokens, st.GenerationTokens = delta(mPromptToks), delta(mGenToks)
	for k := range after {
		name, ok := strings.CutPrefix(k, mPrefix)
		if ok && strings.Contains(name, "spill") && strings.HasSuffix(name, "_total") {
			if st.Spills == nil {
				st.Spills = map[string]float64{}
			}
			st.Spills[name] = delta(k)
		}
	}
	return &st
}

package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spillway/federation"
	"spillway/scheduler"
)

// slotGen is a Generator with room for n sequences at once: the rest
// queue. Each request takes tokens × tick (the sleeps stand for the
// forward passes). Its signal estimates the queue wait of a new request
// as the whole generations ahead of it, as the scheduler's does from
// measured rates.
type slotGen struct {
	n      int
	tokens int
	tick   time.Duration
	slots  chan struct{} // (n,) held while a sequence runs

	admitted atomic.Int64 // submitted, not finished
	served   atomic.Int64 // finished with all their tokens
}

func newSlotGen(n, tokens int, tick time.Duration) *slotGen {
	return &slotGen{n: n, tokens: tokens, tick: tick, slots: make(chan struct{}, n)}
}

func (g *slotGen) Submit(ctx context.Context, r *scheduler.Request) (<-chan scheduler.Event, error) {
	g.admitted.Add(1)
	out := make(chan scheduler.Event)
	go g.run(ctx, out)
	return out, nil
}

func (g *slotGen) run(ctx context.Context, out chan<- scheduler.Event) {
	defer close(out)
	defer g.admitted.Add(-1)
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		out <- scheduler.Event{Token: -1, Finish: scheduler.FinishAbort, Err: ctx.Err()}
		return
	}
	defer func() { <-g.slots }()
	tm := time.NewTimer(g.tick)
	defer tm.Stop()
	for i := range g.tokens {
		select {
		case <-tm.C:
			tm.Reset(g.tick)
		case <-ctx.Done():
			out <- scheduler.Event{Token: -1, Finish: scheduler.FinishAbort, Err: ctx.Err()}
			return
		}
		ev := scheduler.Event{Token: wordID(i % len(fakeWords)), Text: "w "}
		if i == g.tokens-1 {
			ev.Finish = scheduler.FinishLength
			ev.Stats = &scheduler.Stats{PromptTokens: 5, CompletionTokens: g.tokens}
			g.served.Add(1)
		}
		out <- ev
	}
}

func (g *slotGen) generation() time.Duration { return time.Duration(g.tokens) * g.tick }

func (g *slotGen) Snapshot() scheduler.Snapshot {
	a := int(g.admitted.Load())
	return scheduler.Snapshot{Running: min(a, g.n), Waiting: max(a-g.n, 0),
		EstQueueWait: float64(a/g.n) * g.generation().Seconds(), Updated: time.Now()}
}

// loadResult is one client's view of one streamed request.
type loadResult struct {
	route  string
	ttft   time.Duration // to the first content delta
	text   string
	done   bool // [DONE] seen
	errors int  // error events
	status int
}

// offer sends count streamed requests, one every spacing, all in flight
// together, and waits for every answer.
func offer(url, model string, count int, spacing time.Duration) []loadResult {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: count}}
	defer client.CloseIdleConnections()
	out := make([]loadResult, count)
	var wg sync.WaitGroup
	tick := time.NewTicker(spacing)
	defer tick.Stop()
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = streamOnce(client, url, fedChatBody(model, `"stream":true,"max_tokens":10`))
		}()
		<-tick.C
	}
	wg.Wait()
	return out
}

func streamOnce(client *http.Client, url, body string) loadResult {
	start := time.Now()
	resp, err := client.Post(url+chatPath, "application/json", strings.NewReader(body))
	if err != nil {
		return loadResult{}
	}
	defer resp.Body.Close()
	r := loadResult{status: resp.StatusCode, route: resp.Header.Get(routeHeader)}
	_ = sseLines(resp, func(p string) {
		if p == "[DONE]" {
			r.done = true
			return
		}
		var c struct {
			Error   any `json:"error"`
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if json.Unmarshal([]byte(p), &c) != nil || c.Error != nil {
			r.errors++
			return
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != "" && r.text == "" {
				r.ttft = time.Since(start)
			}
			r.text += ch.Delta.Content
		}
	})
	return r
}

// p95 of the TTFTs of the results served by route.
func p95(rs []loadResult, route string) (time.Duration, int) {
	var ds []time.Duration
	for _, r := range rs {
		if r.route == route {
			ds = append(ds, r.ttft)
		}
	}
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[(len(ds)*95+99)/100-1], len(ds)
}

// TestFederationOverload offers 3N concurrent streams to a local engine
// with room for N. With spill on, local requests' p95 TTFT stays within
// the spill target (the threshold on estimated queue wait) and the excess
// is served by the upstream, a second Spillway; with spill off the same
// load queues locally. Every request ends complete, and the served counts
// on both sides add up to the requests sent: none lost, none duplicated.
func TestFederationOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	const n, tokens, tick, spacing = 4, 10, 15 * time.Millisecond, 5 * time.Millisecond
	target := 250 * time.Millisecond
	type outcome struct {
		results []loadResult
		local   int64
		remote  int64
	}
	run := func(spill bool) outcome {
		up := newTestServer(t)
		var opts []serverOpt
		if spill {
			cfg := federation.Config{
				Providers: []federation.ProviderConfig{provider("up", up.url+"/v1", map[string]string{"load": "fake"})},
				Routes: []federation.RouteConfig{localFirst("load",
					federation.Thresholds{MaxWaiting: -1, MaxKVUsage: -1, MaxQueueWait: target.Seconds()}, "up")},
			}
			opts = append(opts, withFederation(newSpiller(t, cfg)))
		}
		front := newTestServer(t, opts...)
		gen := newSlotGen(n, tokens, tick)
		if err := front.s.AddModel(fakeModel(t, "load", gen)); err != nil {
			t.Fatal(err)
		}
		rs := offer(front.url, "load", 3*n, spacing)
		return outcome{results: rs, local: gen.served.Load(), remote: up.gen.submitted.Load()}
	}
	on, off := run(true), run(false)
	for name, o := range map[string]outcome{"spill on": on, "spill off": off} {
		var local, remote int64
		for i, r := range o.results {
			if r.status != 200 || !r.done || r.errors != 0 || r.text == "" {
				t.Errorf("%s: request %d incomplete: %+v", name, i, r)
			}
			if r.route == "local" {
				local++
			} else if r.route == "up" {
				remote++
			}
		}
		if local != o.local || remote != o.remote || local+remote != 3*n {
			t.Errorf("%s: clients saw %d local + %d spilled; servers served %d local + %d upstream; sent %d",
				name, local, remote, o.local, o.remote, 3*n)
		}
	}
	onP95, onLocal := p95(on.results, "local")
	offP95, _ := p95(off.results, "local")
	upP95, _ := p95(on.results, "up")
	t.Logf("spill on: %d local (p95 TTFT %v), %d spilled (p95 TTFT %v); spill off: %d local, p95 TTFT %v",
		onLocal, onP95, on.remote, upP95, off.local, offP95)
	if on.remote == 0 || onLocal < n {
		t.Errorf("spill on: %d local, %d spilled; want at least %d local and some spilled", onLocal, on.remote, n)
	}
	if onP95 > target {
		t.Errorf("spill on: local p95 TTFT %v over the target %v", onP95, target)
	}
	if off.remote != 0 || offP95 <= onP95 {
		t.Errorf("spill off: %d spilled, local p95 TTFT %v; want none spilled and more than %v", off.remote, offP95, onP95)
	}
}

// BenchmarkSpillOverhead measures what the spill path adds: a request
// through Spillway to an upstream (a second Spillway, pinned remote)
// against the same request sent to the upstream directly, both over
// loopback, non-streamed, one token.
func BenchmarkSpillOverhead(b *testing.B) {
	up := benchServer(b)
	cfg := federation.Config{
		Providers: []federation.ProviderConfig{provider("up", up.url+"/v1", nil)},
		Routes:    []federation.RouteConfig{localFirst("fake", relaxed, "up")},
	}
	front := newTestServer(b, withFederation(newSpiller(b, cfg)))
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableCompression: true}}
	body := fedChatBody("fake", `"max_tokens":1`)
	timed := func(url, pin string) time.Duration {
		req, _ := http.NewRequest("POST", url+chatPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if pin != "" {
			req.Header.Set(routeHeader, pin)
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || (pin != "" && resp.Header.Get(routeHeader) != "up") {
			b.Fatalf("status %d, route %q, %v", resp.StatusCode, resp.Header.Get(routeHeader), err)
		}
		return time.Since(t0)
	}
	var direct, spilled []time.Duration
	for b.Loop() {
		direct = append(direct, timed(up.url, ""))
		spilled = append(spilled, timed(front.url, "remote"))
	}
	q := func(ds []time.Duration, p int) float64 {
		s := slices.Clone(ds)
		slices.Sort(s)
		return float64(s[(len(s)-1)*p/100].Microseconds())
	}
	b.ReportMetric(q(direct, 50), "direct-p50-µs")
	b.ReportMetric(q(direct, 99), "direct-p99-µs")
	b.ReportMetric(q(spilled, 50), "spill-p50-µs")
	b.ReportMetric(q(spilled, 99), "spill-p99-µs")
	b.ReportMetric(q(spilled, 50)-q(direct, 50), "added-p50-µs")
}

package bench

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestExecuteCountsAndUsage(t *testing.T) {
	f := newFake(t)
	f.ttft, f.itl = 2*ms, ms
	measured, warmup := reqs(20, 9, 5), reqs(3, 4, 2)
	out, err := Execute(context.Background(), Config{Client: f.client(), Requests: measured, Warmup: warmup, MaxConcurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.n.Load(); got != 23 {
		t.Errorf("server saw %d requests, want 23 (20 measured + 3 warm-up)", got)
	}
	if len(out.Results) != 20 || len(out.Warmup) != 3 || out.Skipped != 0 {
		t.Fatalf("%d results, %d warm-up, %d skipped; want 20, 3, 0", len(out.Results), len(out.Warmup), out.Skipped)
	}
	m := Compute(out.Results, out.Duration, SLO{})
	if m.Completed != 20 || m.TotalOutput != 100 || m.TotalInput != 200 || m.UsageMissing != 0 {
		t.Errorf("completed %d, output %d, input %d, usage missing %d; want 20, 100, 200 (9 words + BOS), 0",
			m.Completed, m.TotalOutput, m.TotalInput, m.UsageMissing)
	}
	for _, r := range out.Results {
		// Timers never fire early: the first chunk waits ttft, [DONE]
		// four itl more (chunks may arrive bunched, so gaps have no floor).
		if r.TTFT < 2*ms || r.Latency < 6*ms || len(r.ITL) != 4 {
			t.Errorf("timeline TTFT %v, E2E %v, %d gaps: shorter than the server's delays", r.TTFT, r.Latency, len(r.ITL))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.bodies {
		if !b.IgnoreEOS || !b.Stream || !b.StreamOptions.IncludeUsage || b.Model != "fake-model" {
			t.Fatalf("request body %+v: want ignore_eos, stream and include_usage", b)
		}
	}
	if f.peak > 4 {
		t.Errorf("%d requests in flight, cap 4", f.peak)
	}
}

func TestWarmupExcluded(t *testing.T) {
	f := newFake(t)
	// The warm-up requests (the first three the server sees) are slow, so
	// a measured request overlapping them would show.
	f.slowTTFT = func(i int) time.Duration {
		if i < 3 {
			return 100 * ms
		}
		return 0
	}
	// Warm-up prompts have 7 words (8 tokens with BOS), measured ones 3 (4).
	out, err := Execute(context.Background(), Config{Client: f.client(), Requests: reqs(6, 3, 2), Warmup: reqs(3, 7, 2),
		MaxConcurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []struct {
		name   string
		rs     []Result
		n, tok int
	}{{"warm-up", out.Warmup, 3, 8}, {"measured", out.Results, 6, 4}} {
		if len(set.rs) != set.n {
			t.Fatalf("%d %s results, want %d", len(set.rs), set.name, set.n)
		}
		for _, r := range set.rs {
			if !r.OK() || r.PromptTokens != set.tok {
				t.Errorf("%s result with %d prompt tokens (%s), want %d: warm-up and measured requests mixed",
					set.name, r.PromptTokens, r.Err, set.tok)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for w := range 3 {
		for m := 3; m < 9; m++ {
			if f.spans[m][0].Before(f.spans[w][1]) {
				t.Fatalf("measured request %d arrived before warm-up request %d finished", m, w)
			}
		}
	}
}

func TestWarmupAllFailedStops(t *testing.T) {
	f := newFake(t)
	f.behave = func(int) string { return fake500 }
	out, err := Execute(context.Background(), Config{Client: f.client(), Requests: reqs(5, 2, 2), Warmup: reqs(2, 2, 2)})
	if err == nil || !strings.Contains(err.Error(), "http_500") {
		t.Fatalf("error = %v, want the warm-up's http_500", err)
	}
	if f.n.Load() != 2 || len(out.Results) != 0 {
		t.Errorf("%d requests sent, %d measured: the run went on after a failed warm-up", f.n.Load(), len(out.Results))
	}
}

func TestErrorCounting(t *testing.T) {
	f := newFake(t)
	kinds := []string{fake500, fakeAbort, fakeNoDone, fakeHang, fakeErrorEvent, fakeOK, fakeNoUsage}
	f.behave = func(i int) string { return kinds[i%len(kinds)] }
	c := f.client()
	c.Timeout = 300 * ms
	out, err := Execute(context.Background(), Config{Client: c, Requests: reqs(14, 3, 4), MaxConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := Compute(out.Results, out.Duration, SLO{})
	want := map[string]int{"http_500": 2, ErrBrokenStream: 4, ErrTimeout: 2, ErrStreamError: 2}
	for k, n := range want {
		if m.Errors[k] != n {
			t.Errorf("%s: %d, want %d (all errors %v)", k, m.Errors[k], n, m.Errors)
		}
	}
	if m.Completed != 4 || m.Failed != 10 || m.UsageMissing != 2 || m.TotalOutput != 16 {
		t.Errorf("completed %d failed %d usage-missing %d output %d; want 4, 10, 2, 16",
			m.Completed, m.Failed, m.UsageMissing, m.TotalOutput)
	}
}

func TestConcurrencyCapIsReached(t *testing.T) {
	f := newFake(t)
	f.ttft = 50 * ms
	_, err := Execute(context.Background(), Config{Client: f.client(), Requests: reqs(24, 2, 2), MaxConcurrency: 6})
	if err != nil {
		t.Fatal(err)
	}
	if f.peak != 6 {
		t.Errorf("peak in flight %d, want exactly the cap 6", f.peak)
	}
}

func TestPoissonDispatchFollowsSchedule(t *testing.T) {
	f := newFake(t)
	const n, rate, seed = 40, 100.0, 5
	sched, _ := Arrivals(n, rate, 1, seed)
	// Never early is a hard rule. Being on time depends on the machine: a
	// shared 2-core box can starve the process for a second, so lateness
	// gets three tries to average under 50 ms (ignoring the schedule would
	// be late by the whole 0.4 s span on average).
	var mean time.Duration
	for range 3 {
		out, err := Execute(context.Background(), Config{Client: f.client(), Requests: reqs(n, 2, 1), Rate: rate, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		var lateSum time.Duration
		for i, r := range out.Results {
			if r.Start < sched[i] {
				t.Fatalf("request %d sent at %v, before its arrival %v", i, r.Start, sched[i])
			}
			lateSum += r.Start - sched[i]
		}
		if out.Duration < sched[n-1] {
			t.Fatalf("window %v shorter than the schedule %v", out.Duration, sched[n-1])
		}
		if mean = lateSum / n; mean <= 50*ms {
			return
		}
	}
	t.Errorf("requests were on average %v late, three times over", mean)
}

func TestAllRequestsEnd(t *testing.T) {
	f := newFake(t)
	f.behave = func(int) string { return fakeHang }
	before := runtime.NumGoroutine()
	start := time.Now()
	c := f.client()
	c.Timeout = time.Hour // only the run's own limits can end these
	out, err := Execute(context.Background(), Config{Client: c, Requests: reqs(50, 2, 2), MaxConcurrency: 5,
		MaxDuration: 100 * ms, Drain: 100 * ms})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Execute took %v with MaxDuration+Drain = 200ms", el)
	}
	if len(out.Results) != 5 || out.Skipped != 45 {
		t.Errorf("%d sent, %d skipped; want 5 and 45", len(out.Results), out.Skipped)
	}
	for _, r := range out.Results {
		if r.Err != ErrCanceled {
			t.Errorf("hung request ended as %q, want %s", r.Err, ErrCanceled)
		}
	}
	c.HTTP.CloseIdleConnections()
	// Goroutines of closed connections exit asynchronously: poll, bounded.
	for range 100 {
		if runtime.NumGoroutine() <= before+2 {
			return
		}
		time.Sleep(20 * ms)
	}
	t.Errorf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

func TestCallerCancelEndsRun(t *testing.T) {
	f := newFake(t)
	f.behave = func(int) string { return fakeHang }
	ctx, cancel := context.WithCancel(context.Background())
	c := f.client()
	c.Timeout = time.Hour
	time.AfterFunc(100*ms, cancel)
	out, err := Execute(ctx, Config{Client: c, Requests: reqs(8, 2, 2), Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Results {
		if r.Err != ErrCanceled {
			t.Errorf("request ended as %q, want %s", r.Err, ErrCanceled)
		}
	}
}

func TestChatEndpointAndModels(t *testing.T) {
	f := newFake(t)
	c := f.client()
	c.Endpoint, c.Model = EndpointChat, ""
	ids, err := c.Models(context.Background())
	if err != nil || len(ids) != 1 || ids[0] != "fake-model" {
		t.Fatalf("Models = %v, %v", ids, err)
	}
	c.Model = ids[0]
	r := c.Do(context.Background(), Request{System: "be brief", Prompt: "hi there", OutputLen: 3})
	if !r.OK() || r.OutputTokens != 3 || len(r.ITL) != 2 {
		t.Fatalf("chat result %+v", r)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if msgs := f.bodies[0].Messages; len(msgs) != 2 || !strings.Contains(string(msgs[0]), `"system"`) {
		t.Errorf("messages %s: want a system and a user message", msgs)
	}
	bad := *c
	bad.Endpoint = "embeddings"
	if r := bad.Do(context.Background(), Request{Prompt: "x", OutputLen: 1}); r.OK() {
		t.Error("an unknown endpoint succeeded")
	}
}

func TestConnectError(t *testing.T) {
	f := newFake(t)
	c := f.client()
	f.srv.Close()
	if r := c.Do(context.Background(), Request{Prompt: "x", OutputLen: 1}); r.Err != ErrConnect {
		t.Errorf("closed server: %q (%s), want %s", r.Err, r.Detail, ErrConnect)
	}
}

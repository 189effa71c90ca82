package federation

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestLimitsFailOver: a provider at its concurrency or requests/min
// limit is skipped for the next target at once, without queueing and
// without counting against its breaker.
func TestLimitsFailOver(t *testing.T) {
	t.Run("concurrency", func(t *testing.T) {
		prim, sec := newFake(t, wireOpenAI), newFake(t, wireOpenAI)
		prim.push(fault{kind: fkStallFirst})
		pc := provCfg("primary", wireOpenAI, prim.url())
		pc.MaxConcurrent = 1
		pc.Timeouts.Request = 5 * time.Second // the stalled call holds its slot meanwhile
		env := newTestSpiller(t, Config{Providers: []ProviderConfig{pc, provCfg("secondary", wireOpenAI, sec.url())},
			Retry: RetryConfig{MaxAttempts: 1}}, Options{})
		call := Call{Decision: remote("m", "primary", "secondary"), Req: chatReq("m", false)}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = env.s.Complete(bg, call)
		}()
		<-prim.arrivals // the stalled request now holds the only slot
		_, rec, err := env.s.Complete(bg, call)
		if err != nil || rec.Provider != "secondary" || prim.Calls() != 1 {
			t.Fatalf("err %v provider %q primary calls %d: want an immediate skip to secondary", err, rec.Provider, prim.Calls())
		}
		prim.release()
		wg.Wait()
		if st, _ := env.s.BreakerState("primary"); st != BreakerClosed {
			t.Errorf("breaker %v", st)
		}
	})
	t.Run("requests per minute", func(t *testing.T) {
		prim, sec := newFake(t, wireOpenAI), newFake(t, wireOpenAI)
		pc := provCfg("primary", wireOpenAI, prim.url())
		pc.RequestsPerMinute = 6 // a burst of one, then one per 10s
		env := newTestSpiller(t, Config{Providers: []ProviderConfig{pc, provCfg("secondary", wireOpenAI, sec.url())}}, Options{})
		call := Call{Decision: remote("m", "primary", "secondary"), Req: chatReq("m", false)}
		served := func() string {
			_, rec, err := env.s.Complete(bg, call)
			if err != nil {
				t.Fatal(err)
			}
			return rec.Provider
		}
		if p := served(); p != "primary" {
			t.Fatalf("first request served by %s", p)
		}
		if p := served(); p != "secondary" {
			t.Fatalf("over the rate: served by %s, want secondary", p)
		}
		env.clock.Advance(10 * time.Second)
		if p := served(); p != "primary" {
			t.Fatalf("after refill: served by %s", p)
		}
	})
}

// TestConcurrentSpills hammers one federation from many goroutines
// (run with -race): every request is accounted exactly once.
func TestConcurrentSpills(t *testing.T) {
	a, b := newFake(t, wireOpenAI), newFake(t, wireAnthropic)
	for range 10 {
		a.push(fault{kind: fkStatus, status: 503})
	}
	cfg := Config{
		Providers: []ProviderConfig{provCfg("a", wireOpenAI, a.url()), provCfg("b", wireAnthropic, b.url())},
		Routes:    []RouteConfig{{Model: "m", Policy: PolicyWeighted, Targets: []Target{{Name: "a", Weight: 1}, {Name: "b", Weight: 1}}}},
		Cache:     CacheConfig{Enabled: true},
	}
	env := newTestSpiller(t, cfg, Options{Rand: func() float64 { return float64(time.Now().UnixNano()%1000) / 1000 }})
	const workers, each = 16, 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				req := chatReq("m", (w+i)%2 == 0)
				if i%3 == 0 {
					req = zeroTemp(req)
				}
				d, err := env.s.Route(RouteInput{Model: "m", Tenant: "t"})
				if err != nil {
					t.Error(err)
					return
				}
				call := Call{Tenant: "t", Decision: d, Req: req}
				var col collector
				if req.Stream {
					_, err = env.s.Stream(bg, call, col.emit)
				} else {
					_, _, err = env.s.Complete(bg, call)
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	snap := env.s.Snapshot()
	var served int64
	for _, p := range snap.Providers {
		served += p.Requests
	}
	cached := int64(0)
	if snap.Cache != nil {
		cached = snap.Cache.Hits
	}
	if served+cached != workers*each {
		t.Fatalf("%d served + %d cached, want %d requests accounted", served, cached, workers*each)
	}
}

// memProvider answers from memory, without usage: it stands for a
// custom transport plugged in through Options.Providers.
type memProvider struct{ calls int }

func (m *memProvider) Name() string { return "mem" }

func (m *memProvider) Chat(_ context.Context, req *ChatRequest) (*ChatResponse, error) {
	m.calls++
	return &ChatResponse{ID: "mem-1", Object: "chat.completion", Model: req.Model,
		Choices: []Choice{{Message: ResponseMessage{Role: "assistant", Content: "twelve chars"}, FinishReason: "stop"}}}, nil
}

func (m *memProvider) ChatStream(context.Context, *ChatRequest) (Stream, error) {
	return nil, ErrUnsupported
}

// TestCustomProviderAndEstimatedUsage: an injected provider gets the
// configured price and breaker, and a response without usage is billed
// on an estimate that the record flags.
func TestCustomProviderAndEstimatedUsage(t *testing.T) {
	mem := &memProvider{}
	pc := provCfg("mem", wireOpenAI, "http://unused.invalid/v1")
	pc.PriceOutput = 1e6 // $1 per completion token: the estimate shows in the cost
	env := newTestSpiller(t, Config{Providers: []ProviderConfig{pc}}, Options{Providers: map[string]Provider{"mem": mem}})
	_, rec, err := env.s.Complete(bg, Call{Tenant: "t", Decision: remote("m", "mem"), Req: chatReq("m", false)})
	if err != nil || mem.calls != 1 {
		t.Fatalf("err %v calls %d", err, mem.calls)
	}
	if !rec.Estimated || rec.CompletionTokens != 3 || !approx(rec.CostUSD, 3+float64(rec.PromptTokens)/1e6) {
		t.Errorf("record %+v: want 3 estimated completion tokens billed", rec)
	}
	var col collector
	if _, err := env.s.Stream(bg, Call{Decision: remote("m", "mem"), Req: chatReq("m", true)}, col.emit); !errors.Is(err, ErrUnsupported) {
		t.Errorf("stream through a provider that cannot: %v", err)
	}
}

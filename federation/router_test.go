package federation

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// routerFixture builds a federation whose providers are never called:
// routing reads only configuration, breakers, budgets and statistics.
func routerFixture(t *testing.T, rnd float64, routes ...RouteConfig) *testEnv {
	t.Helper()
	mk := func(name string, in, out float64) ProviderConfig {
		c := provCfg(name, wireOpenAI, "http://127.0.0.1:1/v1")
		c.PriceInput, c.PriceOutput = in, out
		return c
	}
	cfg := Config{
		Providers: []ProviderConfig{mk("a", 3, 15), mk("b", 0.15, 0.6), mk("c", 1, 4)},
		Routes:    routes,
		Budgets:   map[string]Budget{"poor": {DailyUSD: 1}},
	}
	return newTestSpiller(t, cfg, Options{Rand: func() float64 { return rnd }})
}

func targets(names ...string) []Target {
	out := make([]Target, len(names))
	for i, n := range names {
		out[i] = Target{Name: n}
	}
	return out
}

type routeCase struct {
	name    string
	rnd     float64
	route   RouteConfig
	model   string
	tenant  string
	pin     Pin
	sig     func(*testEnv) Signal
	prep    func(*testEnv)
	want    []string
	wantErr error
}

func routeCases() []routeCase {
	idle := func(env *testEnv) Signal { return Signal{Updated: env.clock.Now()} }
	busy := func(env *testEnv) Signal { return Signal{Waiting: 100, Updated: env.clock.Now()} }
	stale := func(env *testEnv) Signal { return Signal{Updated: env.clock.Now().Add(-time.Minute)} }
	localFirst := RouteConfig{Model: "lf", Targets: targets(Local, "a", "b")}
	remoteOnly := RouteConfig{Model: "ro", Policy: PolicyFailover, Targets: targets("a", "b")}
	failover := RouteConfig{Model: "fo", Policy: PolicyFailover, Targets: targets("a", Local, "b")}
	weighted := RouteConfig{Model: "w", Policy: PolicyWeighted,
		Targets: []Target{{Name: Local, Weight: 2}, {Name: "a", Weight: 1}, {Name: "b", Weight: 1}}}
	cost := RouteConfig{Model: "cost", Policy: PolicyCost, Targets: targets("a", "c", "b", Local)}
	return []routeCase{
		{name: "unrouted model is local", route: localFirst, model: "other", sig: busy, want: []string{Local}},
		{name: "local-first idle", route: localFirst, model: "lf", sig: idle, want: []string{Local}},
		{name: "local-first saturated spills, local last", route: localFirst, model: "lf", sig: busy, want: []string{"a", "b", Local}},
		{name: "stale signal spills", route: localFirst, model: "lf", sig: stale, want: []string{"a", "b", Local}},
		{name: "over budget is never spilled", route: localFirst, model: "lf", tenant: "poor", sig: busy,
			prep: func(e *testEnv) { e.s.ledger.charge("poor", 1.5) }, want: []string{Local}},
		{name: "over budget, remote-only refuses", route: remoteOnly, model: "ro", tenant: "poor", sig: idle,
			prep: func(e *testEnv) { e.s.ledger.charge("poor", 1) }, wantErr: ErrBudgetExceeded},
		{name: "over budget, pinned remote refuses", route: localFirst, model: "lf", tenant: "poor", pin: PinRemote, sig: idle,
			prep: func(e *testEnv) { e.s.ledger.charge("poor", 2) }, wantErr: ErrBudgetExceeded},
		{name: "pin local", route: localFirst, model: "lf", pin: PinLocal, sig: busy, want: []string{Local}},
		{name: "pin local on remote-only", route: remoteOnly, model: "ro", pin: PinLocal, sig: idle, wantErr: ErrNoTarget},
		{name: "pin remote while idle", route: localFirst, model: "lf", pin: PinRemote, sig: idle, want: []string{"a", "b"}},
		{name: "open breaker skipped", route: localFirst, model: "lf", sig: busy,
			prep: func(e *testEnv) { tripBreaker(e, "a") }, want: []string{"b", Local}},
		{name: "all breakers open, remote-only", route: remoteOnly, model: "ro", sig: idle,
			prep: func(e *testEnv) { tripBreaker(e, "a"); tripBreaker(e, "b") }, wantErr: ErrNoTarget},
		{name: "failover order, cut at local", route: failover, model: "fo", sig: idle, want: []string{"a", Local}},
		{name: "failover saturated moves local last", route: failover, model: "fo", sig: busy, want: []string{"a", "b", Local}},
		{name: "weighted draws local", rnd: 0.1, route: weighted, model: "w", sig: idle, want: []string{Local}},
		{name: "weighted draws a", rnd: 0.55, route: weighted, model: "w", sig: idle, want: []string{"a", Local}},
		{name: "weighted draws b", rnd: 0.9, route: weighted, model: "w", sig: idle, want: []string{"b", Local}},
		{name: "weighted saturated excludes local", rnd: 0.1, route: weighted, model: "w", sig: busy, want: []string{"a", "b", Local}},
		{name: "cost idle is local", route: cost, model: "cost", sig: idle, want: []string{Local}},
		{name: "cost saturated cheapest first", route: cost, model: "cost", sig: busy, want: []string{"b", "c", "a", Local}},
		{name: "bad pin", route: localFirst, model: "lf", pin: "sideways", sig: idle, wantErr: errors.New("pin")},
	}
}

func TestRoute(t *testing.T) {
	cases := routeCases()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := routerFixture(t, tc.rnd, tc.route)
			if tc.prep != nil {
				tc.prep(env)
			}
			d, err := env.s.Route(RouteInput{Model: tc.model, Tenant: tc.tenant, Pin: tc.pin, Signal: tc.sig(env), Req: chatReq(tc.model, false)})
			if tc.wantErr != nil {
				if err == nil || (errors.Is(tc.wantErr, ErrBudgetExceeded) || errors.Is(tc.wantErr, ErrNoTarget)) && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(d.Targets, tc.want) {
				t.Fatalf("targets %v (%v), want %v; reason %q", d.Targets, err, tc.want, d.Reason)
			}
			if d.Reason == "" {
				t.Error("decision without a reason")
			}
		})
	}
}

func tripBreaker(e *testEnv, name string) {
	b := e.s.provs[name].breaker
	for range 3 {
		done, err := b.Allow()
		if err == nil {
			done(outcomeFailure)
		}
	}
}

// TestRouteLeastLatency: providers rank by EWMA time to first token;
// unmeasured ones first, so each gets measured.
func TestRouteLeastLatency(t *testing.T) {
	env := routerFixture(t, 0, RouteConfig{Model: "ll", Policy: PolicyLeastLatency, Targets: targets("a", "b", "c")})
	in := RouteInput{Model: "ll"}
	d, _ := env.s.Route(in)
	if !slices.Equal(d.Targets, []string{"a", "b", "c"}) {
		t.Fatalf("unmeasured: %v", d.Targets)
	}
	for _, r := range []struct {
		p    string
		ttft float64
	}{{"a", 0.9}, {"b", 0.2}, {"b", 0.3}, {"c", 0.5}} {
		env.s.acct.add(Record{Model: "ll", Provider: r.p, Outcome: OutcomeOK, Attempts: 1, TTFTSeconds: r.ttft})
	}
	d, _ = env.s.Route(in)
	if !slices.Equal(d.Targets, []string{"b", "c", "a"}) {
		t.Fatalf("ranked: %v, want b c a", d.Targets)
	}
	ttft, _ := env.s.ttft("ll", "b")
	if ttft != 220*time.Millisecond {
		t.Errorf("EWMA of 0.2, 0.3 = %v, want 220ms (alpha 0.2)", ttft)
	}
}

// TestRouteHysteresisAcrossRequests: the router keeps state per model.
func TestRouteHysteresisAcrossRequests(t *testing.T) {
	env := routerFixture(t, 0, RouteConfig{Model: "lf", Targets: targets(Local, "a"),
		Spill: Thresholds{MaxWaiting: 10, MaxKVUsage: -1, MaxQueueWait: -1, Resume: 0.5}})
	route := func(waiting int) bool {
		d, err := env.s.Route(RouteInput{Model: "lf", Signal: Signal{Waiting: waiting, Updated: env.clock.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		return !d.Local()
	}
	seq := []struct {
		waiting int
		spill   bool
	}{{3, false}, {10, true}, {7, true}, {5, true}, {4, false}, {9, false}}
	for i, s := range seq {
		if got := route(s.waiting); got != s.spill {
			t.Fatalf("request %d (waiting %d): spill %v, want %v", i, s.waiting, got, s.spill)
		}
	}
	if snap := env.s.Snapshot(); snap.Routes[0].Saturated {
		t.Error("snapshot shows saturated after resuming")
	}
}

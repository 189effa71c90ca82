package federation

import (
	"errors"
	"testing"
	"time"
)

// One fake request costs (10 prompt × $1 + 4 completion × $2) / 1M.
const fakeCost = 18e-6

// TestBudgetStopsSpillingOnly: a tenant over its spill budget is routed
// locally and never reaches a provider, whatever decision is presented;
// other tenants keep spilling; the daily budget renews at UTC midnight,
// the total budget does not.
func TestBudgetStopsSpillingOnly(t *testing.T) {
	up := newFake(t, wireOpenAI)
	cfg := Config{
		Providers: []ProviderConfig{provCfg("p", wireOpenAI, up.url())},
		Routes:    []RouteConfig{{Model: "m", Targets: targets(Local, "p")}},
		Budgets:   map[string]Budget{"poor": {DailyUSD: 1e-5, TotalUSD: 3e-5}},
	}
	env := newTestSpiller(t, cfg, Options{})
	busy := func() Signal { return Signal{Waiting: 1000, Updated: env.clock.Now()} }
	spill := func(tenant string) (Decision, error) {
		d, err := env.s.Route(RouteInput{Model: "m", Tenant: tenant, Signal: busy()})
		if err != nil {
			t.Fatal(err)
		}
		if d.Local() {
			return d, ErrServeLocally
		}
		_, _, err = env.s.Complete(bg, Call{Tenant: tenant, Decision: d, Req: chatReq("m", false)})
		return d, err
	}
	if _, err := spill("poor"); err != nil {
		t.Fatalf("first spill: %v", err)
	}
	calls := up.Calls()
	d, err := spill("poor")
	if !errors.Is(err, ErrServeLocally) || up.Calls() != calls {
		t.Fatalf("over budget: %v %v, calls %d→%d; want local and no call", d.Targets, err, calls, up.Calls())
	}
	// A decision taken before the budget ran out is not honoured either.
	_, rec, err := env.s.Complete(bg, Call{Tenant: "poor", Decision: remote("m", "p", Local), Req: chatReq("m", false)})
	if !errors.Is(err, ErrServeLocally) || up.Calls() != calls {
		t.Fatalf("stale decision: %v, calls %d", err, up.Calls())
	}
	_, rec, err = env.s.Complete(bg, Call{Tenant: "poor", Decision: remote("m", "p"), Req: chatReq("m", false)})
	if !errors.Is(err, ErrBudgetExceeded) || rec.Outcome != OutcomeBudget || up.Calls() != calls {
		t.Fatalf("remote-only: %v outcome %q, calls %d", err, rec.Outcome, up.Calls())
	}
	if _, err := spill("rich"); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	env.clock.Advance(24 * time.Hour)
	if _, err := spill("poor"); err != nil {
		t.Fatalf("next day: %v", err)
	}
	env.clock.Advance(24 * time.Hour) // total is now 36e-6 ≥ 3e-5
	if _, err := spill("poor"); !errors.Is(err, ErrServeLocally) {
		t.Fatalf("total budget spent: %v, want local", err)
	}
	snap := env.s.Snapshot()
	var poor TenantSpend
	for _, ts := range snap.Tenants {
		if ts.Tenant == "poor" {
			poor = ts
		}
	}
	if !poor.SpillBlocked || poor.Refused < 3 || !approx(poor.SpentTotalUSD, 2*fakeCost) || poor.SpentTodayUSD != 0 {
		t.Errorf("snapshot %+v", poor)
	}
}

func approx(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

func TestLedger(t *testing.T) {
	clock := newFakeClock()
	clock.now = time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC)
	l := newLedger(clock, map[string]Budget{"t": {DailyUSD: 2}}, Budget{TotalUSD: 5})
	steps := []struct {
		advance time.Duration
		tenant  string
		charge  float64
		want    bool // allowed after the charge
	}{
		{0, "t", 1, true},
		{0, "t", 1, false},              // daily 2 reached
		{2 * time.Minute, "t", 0, true}, // a new UTC day
		{0, "x", 4.9, true},             // default budget: total 5
		{0, "x", 0.1, false},
		{48 * time.Hour, "x", 0, false}, // totals never renew
		{0, "", 0, true},                // unnamed tenant gets the default
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		l.charge(s.tenant, s.charge)
		if got := l.allowed(s.tenant); got != s.want {
			t.Fatalf("step %d: allowed %v, want %v", i, got, s.want)
		}
	}
}

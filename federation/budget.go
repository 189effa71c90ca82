package federation

import (
	"errors"
	"math"
	"slices"
	"sync"
	"time"
)

// Budget caps a tenant's spill spending in USD; 0 means no cap. Budgets
// only stop spilling: a tenant over budget is still served locally.
type Budget struct {
	DailyUSD float64 `yaml:"daily_usd" json:"daily_usd"` // per UTC day
	TotalUSD float64 `yaml:"total_usd" json:"total_usd"` // since start
}

func (b Budget) validate() error {
	for _, v := range []float64{b.DailyUSD, b.TotalUSD} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("budget amounts must be finite and >= 0")
		}
	}
	return nil
}

// ledger tracks spill spending per tenant. Spending is charged after a
// request, so one in-flight request can overshoot a cap by its own cost;
// from then on the tenant is not spilled.
type ledger struct {
	clock   Clock
	budgets map[string]Budget
	def     Budget

	mu      sync.Mutex
	tenants map[string]*spend
}

type spend struct {
	day      string // UTC date of today's counter
	dayUSD   float64
	totalUSD float64
	blocked  int64 // spill attempts refused for budget
}

func newLedger(clock Clock, budgets map[string]Budget, def Budget) *ledger {
	return &ledger{clock: clock, budgets: budgets, def: def, tenants: map[string]*spend{}}
}

func (l *ledger) budget(tenant string) Budget {
	if b, ok := l.budgets[tenant]; ok {
		return b
	}
	return l.def
}

// get returns the tenant's counters rolled over to today; l.mu is held.
func (l *ledger) get(tenant string) *spend {
	s := l.tenants[tenant]
	if s == nil {
		s = &spend{}
		l.tenants[tenant] = s
	}
	if day := l.clock.Now().UTC().Format(time.DateOnly); s.day != day {
		s.day, s.dayUSD = day, 0
	}
	return s
}

// allowed reports whether the tenant may spill now.
func (l *ledger) allowed(tenant string) bool {
	b := l.budget(tenant)
	if b.DailyUSD == 0 && b.TotalUSD == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.get(tenant)
	return (b.DailyUSD == 0 || s.dayUSD < b.DailyUSD) && (b.TotalUSD == 0 || s.totalUSD < b.TotalUSD)
}

func (l *ledger) refused(tenant string) {
	l.mu.Lock()
	l.get(tenant).blocked++
	l.mu.Unlock()
}

func (l *ledger) charge(tenant string, usd float64) {
	if usd <= 0 {
		return
	}
	l.mu.Lock()
	s := l.get(tenant)
	s.dayUSD += usd
	s.totalUSD += usd
	l.mu.Unlock()
}

// TenantSpend is one tenant's line in a Snapshot.
type TenantSpend struct {
	Tenant         string  `json:"tenant"`
	SpentTodayUSD  float64 `json:"spent_today_usd"`
	SpentTotalUSD  float64 `json:"spent_total_usd"`
	DailyBudgetUSD float64 `json:"daily_budget_usd"`
	TotalBudgetUSD float64 `json:"total_budget_usd"`
	SpillBlocked   bool    `json:"spill_blocked"`
	Refused        int64   `json:"refused"`
}

func (l *ledger) snapshot() []TenantSpend {
	l.mu.Lock()
	names := make([]string, 0, len(l.tenants))
	for t := range l.tenants {
		names = append(names, t)
	}
	l.mu.Unlock()
	slices.Sort(names)
	out := make([]TenantSpend, 0, len(names))
	for _, t := range names {
		ok := l.allowed(t)
		b := l.budget(t)
		l.mu.Lock()
		s := l.get(t)
		out = append(out, TenantSpend{Tenant: t, SpentTodayUSD: s.dayUSD, SpentTotalUSD: s.totalUSD,
			DailyBudgetUSD: b.DailyUSD, TotalBudgetUSD: b.TotalUSD, SpillBlocked: !ok, Refused: s.blocked})
		l.mu.Unlock()
	}
	return out
}

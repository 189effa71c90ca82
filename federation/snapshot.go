package federation

import "time"

// Snapshot is the federation's state for an admin endpoint; it marshals
// to JSON as is.
type Snapshot struct {
	Time      time.Time       `json:"time"`
	Providers []ProviderStats `json:"providers"`
	Tenants   []TenantSpend   `json:"tenants"`
	Arms      []ArmStats      `json:"arms"`
	Routes    []RouteState    `json:"routes"`
	Cache     *CacheStats     `json:"cache,omitempty"` // nil when the cache is off
	Recent    []Record        `json:"recent"`          // the latest records, oldest first
}

// RouteState is one model's routing state.
type RouteState struct {
	Model     string   `json:"model"`
	Policy    Policy   `json:"policy"`
	Targets   []string `json:"targets"`
	Saturated bool     `json:"saturated"` // the hysteresis state after the last decision
}

// Snapshot returns the current state.
func (s *Spiller) Snapshot() Snapshot {
	snap := Snapshot{
		Time:      s.clock.Now(),
		Providers: s.acct.providerStats(s),
		Tenants:   s.ledger.snapshot(),
		Arms:      s.acct.armStats(),
		Recent:    s.acct.recentList(),
	}
	for _, rc := range s.cfg.Routes {
		rt := s.router.routes[rc.Model]
		rt.mu.Lock()
		sat := rt.saturated
		rt.mu.Unlock()
		st := RouteState{Model: rc.Model, Policy: rt.cfg.Policy, Saturated: sat}
		for _, t := range rc.Targets {
			st.Targets = append(st.Targets, t.Name)
		}
		snap.Routes = append(snap.Routes, st)
	}
	if s.cache != nil {
		cs := s.cache.stats()
		snap.Cache = &cs
	}
	return snap
}

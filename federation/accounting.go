package federation

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Record accounts one spilled request.
type Record struct {
	Time             time.Time `json:"time"`
	Tenant           string    `json:"tenant"`
	Model            string    `json:"model"`
	Provider         string    `json:"provider"` // the last provider tried; "cache" for cache hits
	UpstreamModel    string    `json:"upstream_model,omitempty"`
	Stream           bool      `json:"stream"`
	Attempts         int       `json:"attempts"`
	PromptTokens     int       `json:"prompt_tokens"`
	CompletionTokens int       `json:"completion_tokens"`
	Estimated        bool      `json:"estimated"` // the upstream reported no usage; tokens are estimates
	CostUSD          float64   `json:"cost_usd"`
	TTFTSeconds      float64   `json:"ttft_seconds"`
	LatencySeconds   float64   `json:"latency_seconds"`
	Outcome          string    `json:"outcome"` // see the Outcome constants
	Error            string    `json:"error,omitempty"`
}

// Record outcomes.
const (
	OutcomeOK       = "ok"
	OutcomeCached   = "cached"
	OutcomeLocal    = "local"    // handed back to the local engine
	OutcomeBroken   = "broken"   // failed after reaching the client; ended with an error event
	OutcomeCanceled = "canceled" // the client left
	OutcomeBudget   = "budget"   // refused: tenant over its spill budget
	OutcomeError    = "error"
)

// ProviderStats is one provider's line in a Snapshot.
type ProviderStats struct {
	Name             string       `json:"name"`
	Kind             Kind         `json:"kind"`
	Breaker          BreakerState `json:"breaker"`
	InFlight         int          `json:"in_flight"`
	Requests         int64        `json:"requests"`
	Errors           int64        `json:"errors"`
	PromptTokens     int64        `json:"prompt_tokens"`
	CompletionTokens int64        `json:"completion_tokens"`
	CostUSD          float64      `json:"cost_usd"`
	MeanLatency      float64      `json:"mean_latency_seconds"`
}

// ArmStats are one (model, target) pair's statistics: the arms of an
// A/B split, and what least-latency routing ranks by.
type ArmStats struct {
	Model       string  `json:"model"`
	Target      string  `json:"target"`
	Picks       int64   `json:"picks"` // routing decisions that put it first
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	TTFTEWMA    float64 `json:"ttft_ewma_seconds"`
	Tokens      int64   `json:"tokens"`
	CostUSD     float64 `json:"cost_usd"`
	MeanLatency float64 `json:"mean_latency_seconds"`
}

type armKey struct{ model, target string }

type provAgg struct {
	requests, errors, prompt, completion int64
	cost, latency                        float64
}

type armAgg struct {
	picks, requests, errors, tokens int64
	cost, latency                   float64
	ttft                            ewma
}

const recentRecords = 256

// accounts aggregates Records for snapshots and routing.
type accounts struct {
	mu     sync.Mutex
	provs  map[string]*provAgg
	arms   map[armKey]*armAgg
	recent []Record // ring, next at len%recentRecords once full
	next   int
}

func newAccounts() *accounts {
	return &accounts{provs: map[string]*provAgg{}, arms: map[armKey]*armAgg{}}
}

func (a *accounts) arm(model, target string) *armAgg {
	k := armKey{model, target}
	x := a.arms[k]
	if x == nil {
		x = &armAgg{}
		a.arms[k] = x
	}
	return x
}

func (a *accounts) picked(model, target string) {
	a.mu.Lock()
	a.arm(model, target).picks++
	a.mu.Unlock()
}

func (a *accounts) ttft(model, provider string) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.arms[armKey{model, provider}]
	if x == nil || !x.ttft.ok {
		return 0, false
	}
	return time.Duration(x.ttft.v * float64(time.Second)), true
}

func (a *accounts) add(r Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.recent) < recentRecords {
		a.recent = append(a.recent, r)
	} else {
		a.recent[a.next] = r
		a.next = (a.next + 1) % recentRecords
	}
	if r.Provider == "" || r.Outcome == OutcomeCached || r.Attempts == 0 {
		return
	}
	failed := r.Outcome != OutcomeOK && r.Outcome != OutcomeCanceled
	p := a.provs[r.Provider]
	if p == nil {
		p = &provAgg{}
		a.provs[r.Provider] = p
	}
	p.requests++
	p.prompt += int64(r.PromptTokens)
	p.completion += int64(r.CompletionTokens)
	p.cost += r.CostUSD
	p.latency += r.LatencySeconds
	x := a.arm(r.Model, r.Provider)
	x.requests++
	x.tokens += int64(r.PromptTokens + r.CompletionTokens)
	x.cost += r.CostUSD
	x.latency += r.LatencySeconds
	if failed {
		p.errors++
		x.errors++
	} else if r.Outcome == OutcomeOK {
		x.ttft.add(r.TTFTSeconds)
	}
}

func (a *accounts) providerStats(s *Spiller) []ProviderStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ProviderStats, 0, len(s.order))
	for _, name := range s.order {
		ps := s.provs[name]
		st := ProviderStats{Name: name, Kind: ps.cfg.Kind, Breaker: ps.breaker.State(), InFlight: ps.lim.load()}
		if p := a.provs[name]; p != nil {
			st.Requests, st.Errors = p.requests, p.errors
			st.PromptTokens, st.CompletionTokens, st.CostUSD = p.prompt, p.completion, p.cost
			if p.requests > 0 {
				st.MeanLatency = p.latency / float64(p.requests)
			}
		}
		out = append(out, st)
	}
	return out
}

func (a *accounts) armStats() []ArmStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]ArmStats, 0, len(a.arms))
	for k, x := range a.arms {
		st := ArmStats{Model: k.model, Target: k.target, Picks: x.picks, Requests: x.requests,
			Errors: x.errors, TTFTEWMA: x.ttft.v, Tokens: x.tokens, CostUSD: x.cost}
		if x.requests > 0 {
			st.MeanLatency = x.latency / float64(x.requests)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b ArmStats) int {
		if a.Model != b.Model {
			return cmp.Compare(a.Model, b.Model)
		}
		return cmp.Compare(a.Target, b.Target)
	})
	return out
}

// recentRecords returns the kept records, oldest first.
func (a *accounts) recentList() []Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Record, 0, len(a.recent))
	out = append(out, a.recent[a.next:]...)
	return append(out, a.recent[:a.next]...)
}

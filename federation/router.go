package federation

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Local is the target name of the local engine in route lists and
// decisions; no provider may be called so.
const Local = "local"

// Policy orders a model's targets.
type Policy string

const (
	PolicyLocalFirst   Policy = "local-first"   // local unless saturated, then providers in order (default)
	PolicyFailover     Policy = "failover"      // targets in configured order, local where listed
	PolicyWeighted     Policy = "weighted"      // first target drawn by weight (A/B), the rest in order
	PolicyLeastLatency Policy = "least-latency" // local first, then providers by EWMA time to first token
	PolicyCost         Policy = "cost"          // local first (free), then providers by estimated price
)

// Pin is a request's routing constraint.
type Pin string

const (
	PinAuto   Pin = "auto"
	PinLocal  Pin = "local"
	PinRemote Pin = "remote"
)

// ParsePin reads a pin as clients send it; "" is auto.
func ParsePin(s string) (Pin, error) {
	switch Pin(s) {
	case "", PinAuto:
		return PinAuto, nil
	case PinLocal, PinRemote:
		return Pin(s), nil
	}
	return "", fmt.Errorf("route pin %q: want local, remote or auto", s)
}

// Target is one arm of a route: a provider name or Local.
type Target struct {
	Name   string  `yaml:"name" json:"name"`
	Weight float64 `yaml:"weight" json:"weight"` // weighted policy only
}

// UnmarshalYAML also accepts a bare name.
func (t *Target) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*t = Target{Name: n.Value}
		return nil
	}
	type plain Target
	return n.Decode((*plain)(t))
}

// RouteConfig routes one client-facing model. A model whose targets do
// not include Local is remote-only.
type RouteConfig struct {
	Model   string     `yaml:"model" json:"model"`
	Policy  Policy     `yaml:"policy" json:"policy"`
	Targets []Target   `yaml:"targets" json:"targets"`
	Spill   Thresholds `yaml:"spill" json:"spill"`
}

func (r *RouteConfig) validate(known map[string]bool) error {
	if r.Model == "" {
		return errors.New("model: required")
	}
	switch r.Policy {
	case "", PolicyLocalFirst, PolicyFailover, PolicyWeighted, PolicyLeastLatency, PolicyCost:
	default:
		return fmt.Errorf("policy %q unknown", r.Policy)
	}
	if len(r.Targets) == 0 {
		return errors.New("targets: at least one")
	}
	seen := map[string]bool{}
	for _, t := range r.Targets {
		if !known[t.Name] {
			return fmt.Errorf("target %q is not a provider (nor %q)", t.Name, Local)
		}
		if seen[t.Name] {
			return fmt.Errorf("target %q listed twice", t.Name)
		}
		if !(t.Weight >= 0) {
			return fmt.Errorf("target %q: weight must be >= 0", t.Name)
		}
		seen[t.Name] = true
	}
	return r.Spill.validate()
}

// RouteInput is what the router decides on.
type RouteInput struct {
	Model  string
	Tenant string
	Pin    Pin
	Signal Signal       // the local engine's load
	Req    *ChatRequest // optional; sizes the cost-aware estimate
}

// Decision is an ordered list of targets to try. The caller serves
// locally when the first is Local; otherwise it hands the decision to
// Spiller, which tries providers in order and answers ErrServeLocally if
// it reaches Local. Targets after Local are never listed: the local
// engine queues rather than fails.
type Decision struct {
	Model     string   `json:"model"`
	Targets   []string `json:"targets"`
	Saturated bool     `json:"saturated"`
	// BudgetLimited: providers were dropped because the tenant's spill
	// budget is spent.
	BudgetLimited bool   `json:"budget_limited"`
	Reason        string `json:"reason"`
}

// Local reports whether the request is to be served locally now.
func (d Decision) Local() bool { return len(d.Targets) > 0 && d.Targets[0] == Local }

// routerEnv is what the router reads from the rest of the federation.
type routerEnv interface {
	healthy(provider string) bool // breaker not open, limits not full
	budgetOK(tenant string) bool
	ttft(model, provider string) (time.Duration, bool)
	estimateCost(provider string, req *ChatRequest) float64
	picked(model, target string)
}

// Router decides local versus remote, and which remote, per request.
type Router struct {
	routes map[string]*route
	env    routerEnv
	clock  Clock
	rand   func() float64
}

type route struct {
	cfg      RouteConfig
	hasLocal bool

	mu        sync.Mutex
	saturated bool // hysteresis state
}

func newRouter(cfgs []RouteConfig, env routerEnv, clock Clock, rnd func() float64) *Router {
	r := &Router{routes: map[string]*route{}, env: env, clock: clock, rand: rnd}
	for _, c := range cfgs {
		if c.Policy == "" {
			c.Policy = PolicyLocalFirst
		}
		rt := &route{cfg: c}
		for _, t := range c.Targets {
			rt.hasLocal = rt.hasLocal || t.Name == Local
		}
		r.routes[c.Model] = rt
	}
	return r
}

// observe feeds the signal through the route's hysteresis.
func (rt *route) observe(s Signal, now time.Time) bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.saturated = rt.cfg.Spill.Saturated(rt.saturated, s, now)
	return rt.saturated
}

// Route decides where a request goes. Models without a route are local
// only: federation never stands between a client and the local engine.
func (r *Router) Route(in RouteInput) (Decision, error) {
	d := Decision{Model: in.Model}
	rt := r.routes[in.Model]
	if rt == nil {
		d.Targets, d.Reason = []string{Local}, "no route configured: local"
		return d, nil
	}
	pin, err := ParsePin(string(in.Pin))
	if err != nil {
		return d, err
	}
	if rt.hasLocal {
		d.Saturated = rt.observe(in.Signal, r.clock.Now())
	}
	if pin == PinLocal {
		if !rt.hasLocal {
			return d, fmt.Errorf("%w: model %q is not served locally", ErrNoTarget, in.Model)
		}
		d.Targets, d.Reason = []string{Local}, "pinned local"
		r.env.picked(in.Model, Local)
		return d, nil
	}
	order := r.order(rt, in, d.Saturated)
	d.Targets, d.Reason, d.BudgetLimited, err = r.filter(order, in, pin, d.Saturated)
	if err != nil {
		return d, err
	}
	r.env.picked(in.Model, d.Targets[0])
	return d, nil
}

// filter drops what may not or cannot serve: remotes for a tenant over
// budget, providers whose breaker is open or whose limits are full,
// Local when pinned remote; and cuts the list after Local.
func (r *Router) filter(order []string, in RouteInput, pin Pin, sat bool) (out []string, why string, limited bool, err error) {
	budget := r.env.budgetOK(in.Tenant)
	unhealthy := 0
	for _, t := range order {
		switch {
		case t == Local && pin == PinRemote:
		case t == Local:
			return append(out, Local), reason(out, sat, budget, unhealthy), limited, nil
		case !budget:
			limited = true
		case !r.env.healthy(t):
			unhealthy++
		default:
			out = append(out, t)
		}
	}
	if len(out) > 0 {
		return out, reason(out, sat, budget, unhealthy), limited, nil
	}
	if !budget {
		return nil, "", limited, fmt.Errorf("%w: tenant %q, model %q has no local target", ErrBudgetExceeded, in.Tenant, in.Model)
	}
	return nil, "", limited, fmt.Errorf("%w: model %q: every provider is unavailable (breaker open or at its limits)", ErrNoTarget, in.Model)
}

func reason(remotes []string, sat, budget bool, unhealthy int) string {
	switch {
	case len(remotes) > 0 && sat:
		return "local saturated: spill"
	case len(remotes) > 0:
		return "remote by policy"
	case !budget && sat:
		return "local saturated, spill blocked: tenant spill budget spent"
	case unhealthy > 0 && sat:
		return "local saturated, spill blocked: no healthy provider"
	case sat:
		return "local saturated: no spill target"
	}
	return "local"
}

package federation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

// Options are the federation's injectable dependencies; zero values
// mean the real ones.
type Options struct {
	Clock  Clock
	Rand   func() float64      // uniform in [0, 1): jitter and weighted draws
	Getenv func(string) string // API keys
	Dial   DialFunc            // TCP connections
	// Providers replaces the implementation of configured providers by
	// name (custom transports, tests); their config still sets limits,
	// prices and breakers.
	Providers map[string]Provider
}

// Spiller executes routing decisions against providers: limits, breaker,
// retries with backoff before the first byte reaches the client,
// failover along the decision's targets, accounting, budgets and the
// response cache. It is safe for concurrent use.
type Spiller struct {
	cfg    Config
	clock  Clock
	rand   func() float64
	provs  map[string]*provState
	order  []string // provider names in configuration order
	router *Router
	ledger *ledger
	acct   *accounts
	cache  *respCache // nil when disabled
	m      *metrics
}

type provState struct {
	cfg     ProviderConfig
	p       Provider
	breaker *Breaker
	lim     *limiter
}

// Call is one request to execute.
type Call struct {
	Tenant   string
	Decision Decision
	Req      *ChatRequest
	// Attempt, when set, is called with the provider's name before each
	// attempt, on the goroutine that then calls Stream's emit: a caller
	// learns which provider the chunks it relays come from.
	Attempt func(provider string)
}

// New validates cfg and builds the federation.
func New(cfg Config, opts Options) (*Spiller, error) {
	cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Spiller{cfg: cfg, clock: opts.Clock, rand: opts.Rand, provs: map[string]*provState{}}
	if s.clock == nil {
		s.clock = wallClock{}
	}
	if s.rand == nil {
		s.rand = rand.Float64
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	s.m = newMetrics(s)
	for _, pc := range cfg.Providers {
		p, ok := opts.Providers[pc.Name]
		if !ok {
			var err error
			if p, err = NewProvider(pc, getenv, opts.Dial, s.clock); err != nil {
				return nil, err
			}
		}
		name := pc.Name
		ps := &provState{cfg: pc, p: p, lim: newLimiter(pc.MaxConcurrent, pc.RequestsPerMinute, s.clock)}
		ps.breaker = NewBreaker(pc.Breaker, s.clock, func(from, to BreakerState) { s.m.breakerChanged(name, to) })
		s.provs[name] = ps
		s.order = append(s.order, name)
	}
	s.ledger = newLedger(s.clock, cfg.Budgets, cfg.DefaultBudget)
	s.acct = newAccounts()
	if cfg.Cache.Enabled {
		s.cache = newRespCache(cfg.Cache, s.clock)
	}
	s.router = newRouter(cfg.Routes, s, s.clock, s.rand)
	return s, nil
}

// Router returns the routing half, for callers that decide separately.
func (s *Spiller) Router() *Router { return s.router }

// Route decides where a request goes; see Router.Route.
func (s *Spiller) Route(in RouteInput) (Decision, error) {
	d, err := s.router.Route(in)
	if err == nil && s.router.routes[in.Model] != nil {
		// Only configured models: client-chosen names must not grow
		// the label set.
		s.m.decision(in.Model, d.Targets[0])
	}
	if d.BudgetLimited || errors.Is(err, ErrBudgetExceeded) {
		s.ledger.refused(in.Tenant)
		s.m.budgetRefused(in.Tenant)
	}
	return d, err
}

// Models lists the routed model names in configuration order, for
// /v1/models (remote-only models exist nowhere else).
func (s *Spiller) Models() []string {
	out := make([]string, 0, len(s.cfg.Routes))
	for _, r := range s.cfg.Routes {
		out = append(out, r.Model)
	}
	return out
}

// BreakerState reports a provider's breaker; ok is false for unknown names.
func (s *Spiller) BreakerState(provider string) (st BreakerState, ok bool) {
	ps := s.provs[provider]
	if ps == nil {
		return 0, false
	}
	return ps.breaker.State(), true
}

// routerEnv, served by the Spiller.

func (s *Spiller) healthy(name string) bool {
	ps := s.provs[name]
	return ps != nil && ps.breaker.State() != BreakerOpen && ps.lim.available()
}

func (s *Spiller) budgetOK(tenant string) bool { return s.ledger.allowed(tenant) }

func (s *Spiller) ttft(model, provider string) (time.Duration, bool) {
	return s.acct.ttft(model, provider)
}

func (s *Spiller) estimateCost(provider string, req *ChatRequest) float64 {
	ps := s.provs[provider]
	if ps == nil {
		return 0
	}
	p, c := estimateTokens(req)
	return ps.cfg.cost(p, c)
}

func (s *Spiller) picked(model, target string) { s.acct.picked(model, target) }

// attemptFn makes one request to one provider.
type attemptFn func(ctx context.Context, ps *provState) error

// run walks the decision's targets until one serves. It stops at Local
// (ErrServeLocally), at an error that another provider would repeat (a
// bad request), at a stream that already reached the client, and when
// the caller leaves.
func (s *Spiller) run(ctx context.Context, call Call, rec *Record, fn attemptFn) error {
	var lastErr error
	refused := false
	for _, t := range call.Decision.Targets {
		if t == Local {
			if lastErr != nil {
				return fmt.Errorf("%w (spill failed: %v)", ErrServeLocally, lastErr)
			}
			return ErrServeLocally
		}
		ps := s.provs[t]
		if ps == nil {
			lastErr = fmt.Errorf("unknown provider %q", t)
			continue
		}
		if !s.ledger.allowed(call.Tenant) {
			refused = true
			s.ledger.refused(call.Tenant)
			s.m.budgetRefused(call.Tenant)
			continue
		}
		err := s.tryProvider(ctx, call, ps, rec, fn)
		if err == nil {
			return nil
		}
		lastErr = err
		if c := classify(err); c == classClient || c == classCanceled {
			return err
		}
	}
	if refused && lastErr == nil {
		return fmt.Errorf("%w: tenant %q", ErrBudgetExceeded, call.Tenant)
	}
	if lastErr == nil {
		return fmt.Errorf("%w: decision lists no target", ErrNoTarget)
	}
	return fmt.Errorf("%w: %w", ErrNoTarget, lastErr)
}

// tryProvider makes up to MaxAttempts attempts at one provider.
func (s *Spiller) tryProvider(ctx context.Context, call Call, ps *provState, rec *Record, fn attemptFn) error {
	name := ps.cfg.Name
	for attempt := 1; ; attempt++ {
		if attempt > 1 && !s.ledger.allowed(call.Tenant) {
			return fmt.Errorf("%w: tenant %q", ErrBudgetExceeded, call.Tenant)
		}
		done, err := ps.breaker.Allow()
		if err != nil {
			s.m.attempt(name, "breaker_open")
			return fmt.Errorf("provider %s: %w", name, err)
		}
		release, err := ps.lim.acquire()
		if err != nil {
			done(outcomeNeutral)
			s.m.attempt(name, "busy")
			return fmt.Errorf("provider %s: %w", name, err)
		}
		rec.Attempts++
		rec.Provider, rec.UpstreamModel = name, ps.cfg.upstreamModel(call.Req.Model)
		if call.Attempt != nil {
			call.Attempt(name)
		}
		err = fn(ctx, ps)
		release()
		c := classify(err)
		if ctx.Err() != nil && err != nil {
			done(outcomeNeutral)
			s.m.attempt(name, "canceled")
			return err
		}
		done(breakerOutcome(healthClass(err, c)))
		s.m.attempt(name, attemptLabel(c))
		if c != classTransient || attempt >= s.cfg.Retry.MaxAttempts {
			return err
		}
		wait, ok := s.cfg.Retry.delay(attempt, retryAfter(err), s.rand())
		if !ok {
			return err
		}
		s.m.retry(name)
		if err := s.clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// healthClass is how an attempt reflects on the provider: a stream that
// broke after reaching the client is final for the client but still a
// provider failure.
func healthClass(err error, c class) class {
	var se *StreamError
	if errors.As(err, &se) {
		return classify(se.Err)
	}
	return c
}

func attemptLabel(c class) string {
	return [...]string{"ok", "transient_error", "provider_error", "skipped", "client_error", "canceled"}[c]
}

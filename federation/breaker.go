package federation

import (
	"errors"
	"sync"
	"time"
)

// BreakerState is a circuit breaker's state.
type BreakerState int

const (
	BreakerClosed   BreakerState = iota // calls flow
	BreakerHalfOpen                     // a few probes test the provider
	BreakerOpen                         // calls are refused until the cool-down ends
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

// MarshalText makes the state readable in JSON snapshots.
func (s BreakerState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// BreakerConfig tunes a provider's breaker.
type BreakerConfig struct {
	Failures int           `yaml:"failures" json:"failures"` // failures within Window that open it
	Window   time.Duration `yaml:"window" json:"window"`
	Cooldown time.Duration `yaml:"cooldown" json:"cooldown"` // open → half-open
	Probes   int           `yaml:"probes" json:"probes"`     // concurrent calls allowed half-open
}

func (c BreakerConfig) validate() error {
	if c.Failures < 0 || c.Window < 0 || c.Cooldown < 0 || c.Probes < 0 {
		return errors.New("breaker: values must be >= 0")
	}
	return nil
}

type outcome int

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeNeutral // neither: client errors, cancellations, skips
)

// Breaker is a circuit breaker over a clock. It is ours rather than
// sony/gobreaker because tests must move time (gobreaker reads
// time.Now), and because its closed-state window is a sliding one: N
// failures within any Window trip it, not N within a fixed interval.
type Breaker struct {
	cfg      BreakerConfig
	clock    Clock
	onChange func(from, to BreakerState)

	mu       sync.Mutex
	state    BreakerState
	failures []time.Time // closed: recent failure times, oldest first, at most cfg.Failures
	openedAt time.Time
	probes   int // half-open: probes in flight
}

// NewBreaker returns a closed breaker; onChange (optional) observes
// transitions and is called with the breaker's lock held.
func NewBreaker(cfg BreakerConfig, clock Clock, onChange func(from, to BreakerState)) *Breaker {
	if clock == nil {
		clock = wallClock{}
	}
	return &Breaker{cfg: cfg, clock: clock, onChange: onChange,
		failures: make([]time.Time, 0, max(cfg.Failures, 1))}
}

// State is the current state; an open breaker whose cool-down has
// passed reads as half-open.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(b.clock.Now())
	return b.state
}

// Allow asks to make one call. On success the caller must report the
// call's outcome through done exactly once.
func (b *Breaker) Allow() (done func(outcome), err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(b.clock.Now())
	switch b.state {
	case BreakerOpen:
		return nil, ErrBreakerOpen
	case BreakerHalfOpen:
		if b.probes >= b.cfg.Probes {
			return nil, ErrBreakerOpen
		}
		b.probes++
		return b.doneFunc(true), nil
	}
	return b.doneFunc(false), nil
}

func (b *Breaker) doneFunc(probe bool) func(outcome) {
	var once sync.Once
	return func(o outcome) { once.Do(func() { b.record(o, probe) }) }
}

func (b *Breaker) record(o outcome, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	b.advance(now)
	if probe && b.state == BreakerHalfOpen {
		b.probes--
		switch o {
		case outcomeSuccess:
			b.failures = b.failures[:0]
			b.set(BreakerClosed)
		case outcomeFailure:
			b.trip(now)
		}
		return
	}
	if o != outcomeFailure || b.state != BreakerClosed {
		return
	}
	// Keep only failures inside the window, then this one.
	cut := 0
	for cut < len(b.failures) && now.Sub(b.failures[cut]) >= b.cfg.Window {
		cut++
	}
	b.failures = append(b.failures[:0], b.failures[cut:]...)
	b.failures = append(b.failures, now) // never beyond cfg.Failures: that trips

	if len(b.failures) >= b.cfg.Failures {
		b.trip(now)
	}
}

func (b *Breaker) trip(now time.Time) {
	b.openedAt = now
	b.failures = b.failures[:0]
	b.probes = 0
	b.set(BreakerOpen)
}

// advance moves open → half-open once the cool-down has passed.
func (b *Breaker) advance(now time.Time) {
	if b.state == BreakerOpen && now.Sub(b.openedAt) >= b.cfg.Cooldown {
		b.probes = 0
		b.set(BreakerHalfOpen)
	}
}

func (b *Breaker) set(s BreakerState) {
	if s == b.state {
		return
	}
	from := b.state
	b.state = s
	if b.onChange != nil {
		b.onChange(from, s)
	}
}

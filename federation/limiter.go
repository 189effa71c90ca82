package federation

import (
	"sync"
	"time"
)

// limiter enforces a provider's concurrency and requests/min limits. It
// never queues: a spilled request is already late, so a full provider is
// skipped for the next target instead of waited for.
type limiter struct {
	maxConc int     // 0 = unlimited
	rate    float64 // tokens per second; 0 = unlimited
	burst   float64
	clock   Clock

	mu       sync.Mutex
	inFlight int
	tokens   float64
	last     time.Time
}

func newLimiter(maxConc, perMinute int, clock Clock) *limiter {
	l := &limiter{maxConc: maxConc, clock: clock}
	if perMinute > 0 {
		l.rate = float64(perMinute) / 60
		// A burst of a sixth of the minute's allowance: enough for
		// traffic spikes, short of dumping the whole minute at once.
		l.burst = max(1, float64(perMinute)/6)
		l.tokens = l.burst
		l.last = clock.Now()
	}
	return l
}

// acquire takes a slot or reports ErrProviderBusy.
func (l *limiter) acquire() (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxConc > 0 && l.inFlight >= l.maxConc {
		return nil, ErrProviderBusy
	}
	if l.rate > 0 {
		now := l.clock.Now()
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
		if l.tokens < 1 {
			return nil, ErrProviderBusy
		}
		l.tokens--
	}
	l.inFlight++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.inFlight--
			l.mu.Unlock()
		})
	}, nil
}

// available reports whether acquire would succeed now, for routing.
func (l *limiter) available() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxConc > 0 && l.inFlight >= l.maxConc {
		return false
	}
	if l.rate > 0 {
		t := min(l.burst, l.tokens+l.clock.Now().Sub(l.last).Seconds()*l.rate)
		return t >= 1
	}
	return true
}

func (l *limiter) load() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

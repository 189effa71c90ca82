package federation

import (
	"context"
	"time"
)

// Clock is the time source for every decision taken by time: breaker
// cool-downs, budget days, rate limits, cache TTLs and backoff waits. Tests
// inject a fake so none of that needs real sleeping. Stream timeouts
// (connect, first token, idle) stay on the wall clock because they bound
// real I/O.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or returns ctx's error as soon as ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

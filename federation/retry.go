package federation

import (
	"errors"
	"time"
)

func (r RetryConfig) validate() error {
	if r.MaxAttempts < 0 || r.BaseDelay < 0 || r.MaxDelay < 0 || r.MaxRetryAfter < 0 {
		return errors.New("retry: values must be >= 0")
	}
	return nil
}

// delay is the wait before retry number attempt (1 = the first retry).
// An upstream's Retry-After is obeyed exactly, or refused (ok false:
// fail over now) when longer than MaxRetryAfter. Otherwise the wait
// doubles per attempt up to MaxDelay with "equal jitter": half fixed,
// half uniform in u ∈ [0, 1), so synchronized clients spread out without
// any of them retrying at once.
func (r RetryConfig) delay(attempt int, retryAfter time.Duration, u float64) (d time.Duration, ok bool) {
	if retryAfter > 0 {
		return retryAfter, retryAfter <= r.MaxRetryAfter
	}
	d = r.BaseDelay
	for i := 1; i < attempt && d < r.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, r.MaxDelay)
	return d/2 + time.Duration(u*float64(d/2)), true
}

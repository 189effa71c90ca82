package api

import (
	"sync"
	"time"
)

// bucket is a token bucket refilled continuously at rate per minute, with
// a capacity of one minute's worth: a tenant may burst its whole minute,
// then proceeds at the rate. The level may go negative (debt) when usage
// is charged after the fact; nothing is admitted until it refills.
type bucket struct {
	mu       sync.Mutex
	perMin   float64
	level    float64
	last     time.Time
	now      func() time.Time
	capacity float64
}

func newBucket(perMin float64, now func() time.Time) *bucket {
	return &bucket{perMin: perMin, level: perMin, capacity: perMin, last: now(), now: now}
}

// refill adds what accrued since the last call. Caller holds mu.
func (b *bucket) refill() {
	t := b.now()
	if dt := t.Sub(b.last); dt > 0 {
		b.level = min(b.capacity, b.level+dt.Minutes()*b.perMin)
	}
	b.last = t
}

// take removes n if the bucket holds them; otherwise it reports how long
// until it will.
func (b *bucket) take(n float64) (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	if b.level >= n {
		b.level -= n
		return 0, true
	}
	missing := n - b.level
	return time.Duration(missing / b.perMin * float64(time.Minute)), false
}

// charge removes n unconditionally.
func (b *bucket) charge(n float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	b.level -= n
}

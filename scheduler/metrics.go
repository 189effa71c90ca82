package scheduler

import (
	"time"

	"spillway/batching"
)

// counters are the scheduler's running totals and rate estimates, owned by
// Run's goroutine and published through Snapshot.
type counters struct {
	preemptions int64
	generated   int64
	prompt      int64
	steps       int64
	stepTime    time.Duration
	execTime    time.Duration
	// EWMA of tokens computed per second, for the queue-wait estimate.
	tokPerSec float64
}

// observeStep folds one step's size and duration into the rate estimate.
func (c *counters) observeStep(b *batching.Batch, d time.Duration) {
	c.steps++
	n := b.NumTokens()
	c.prompt += int64(n - len(b.LogitRows))
	if d <= 0 {
		return
	}
	rate := float64(n) / d.Seconds()
	if c.tokPerSec == 0 {
		c.tokPerSec = rate
	} else {
		c.tokPerSec = 0.8*c.tokPerSec + 0.2*rate
	}
}

// publish stores a fresh Snapshot for other goroutines.
func (s *Scheduler) publish() {
	st := s.bm.Stats()
	snap := &Snapshot{
		Running:            len(s.running),
		Waiting:            s.waiting.len() + len(s.in),
		KVUsage:            s.bm.Usage(),
		PrefixCacheQueries: st.QueryTokens,
		PrefixCacheHits:    st.HitTokens,
		Preemptions:        s.ctr.preemptions,
		PromptTokens:       s.ctr.prompt,
		GenerationTokens:   s.ctr.generated,
		Steps:              s.ctr.steps,
		StepSeconds:        s.ctr.stepTime.Seconds(),
		ExecSeconds:        s.ctr.execTime.Seconds(),
		EstQueueWait:       s.estimateWait(),
		Updated:            s.o.Now(),
	}
	s.snap.Store(snap)
}

// estimateWait is the time to compute the waiting sequences' pending
// tokens at the measured rate: what a new request would wait before its
// own prefill starts.
func (s *Scheduler) estimateWait() float64 {
	if s.waiting.len() == 0 {
		return 0
	}
	pending := 0
	for _, st := range s.waiting.items {
		pending += st.seq.Len()
	}
	if s.ctr.tokPerSec <= 0 {
		return float64(pending) // no measurement yet: assume 1 token/s, i.e. pessimistic
	}
	return float64(pending) / s.ctr.tokPerSec
}

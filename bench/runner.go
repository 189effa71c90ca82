package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Config is one load-generation run.
type Config struct {
	Client         *Client
	Requests       []Request // the measured requests, sent in order
	Warmup         []Request // sent and finished before the measured window; never measured
	Rate           float64   // requests/s; 0 or +Inf sends all at once (bounded by MaxConcurrency)
	Burstiness     float64   // gamma shape of the intervals; 0 means 1 (Poisson)
	MaxConcurrency int       // requests in flight at most; 0 = unbounded
	Seed           uint64
	MaxDuration    time.Duration // no request is sent after this (0 = no limit)
	Drain          time.Duration // with MaxDuration: in-flight requests are cancelled at MaxDuration+Drain
	OnResult       func(Result)  // called after each measured request, one call at a time
	BeforeWindow   func()        // called after the warm-up, just before the measured window opens
}

// Outcome is what a run measured.
type Outcome struct {
	Results  []Result      // the measured requests that were sent, in dataset order
	Skipped  int           // measured requests never sent because MaxDuration passed
	Duration time.Duration // window open → last measured request finished
	Warmup   []Result      // the warm-up requests' results, for diagnosis only
}

// Execute runs the warm-up, then the measured requests on the arrival
// schedule, and returns when every request it started has ended.
func Execute(ctx context.Context, cfg Config) (*Outcome, error) {
	if cfg.Client == nil {
		return nil, errors.New("bench: no client")
	}
	if cfg.MaxConcurrency < 0 || cfg.MaxDuration < 0 || cfg.Drain < 0 {
		return nil, errors.New("bench: negative concurrency or duration")
	}
	burst := cfg.Burstiness
	if burst == 0 {
		burst = 1
	}
	offs, err := Arrivals(len(cfg.Requests), cfg.Rate, burst, cfg.Seed)
	if err != nil {
		return nil, err
	}
	out := &Outcome{}
	if len(cfg.Warmup) > 0 {
		w := cfg
		w.MaxDuration, w.OnResult = 0, nil
		out.Warmup, _, _ = w.dispatch(ctx, cfg.Warmup, make([]time.Duration, len(cfg.Warmup)))
		if err := warmupError(out.Warmup); err != nil {
			return out, err
		}
	}
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	if cfg.BeforeWindow != nil {
		cfg.BeforeWindow()
	}
	out.Results, out.Skipped, out.Duration = cfg.dispatch(ctx, cfg.Requests, offs)
	return out, nil
}

// warmupError fails the run early, as vLLM's initial test request does,
// when no warm-up request succeeded: the server or the flags are wrong and
// measuring would only count errors.
func warmupError(rs []Result) error {
	for _, r := range rs {
		if r.OK() {
			return nil
		}
	}
	if len(rs) == 0 {
		return nil
	}
	return fmt.Errorf("every warm-up request failed; first: %s: %s", rs[0].Err, rs[0].Detail)
}

// dispatch sends reqs at start+offs[i], at most MaxConcurrency at a time.
func (cfg *Config) dispatch(ctx context.Context, reqs []Request, offs []time.Duration) ([]Result, int, time.Duration) {
	runCtx, cancelRun := context.WithCancel(ctx) // requests' parent: cancelled when the drain ends
	defer cancelRun()
	sendCtx, cancelSend := context.WithCancel(ctx) // closed when sending must stop
	defer cancelSend()
	start := time.Now()
	if cfg.MaxDuration > 0 {
		stopSend := time.AfterFunc(cfg.MaxDuration, cancelSend)
		defer stopSend.Stop()
		stopRun := time.AfterFunc(cfg.MaxDuration+cfg.Drain, cancelRun)
		defer stopRun.Stop()
	}
	var sem chan struct{}
	if cfg.MaxConcurrency > 0 {
		sem = make(chan struct{}, cfg.MaxConcurrency)
	}
	results := make([]Result, len(reqs)) // (n,)
	sent := make([]bool, len(reqs))      // (n,)
	var (
		wg sync.WaitGroup
		mu sync.Mutex // serializes OnResult
	)
	for i := range reqs {
		if !waitUntil(sendCtx, start.Add(offs[i])) {
			break
		}
		wg.Go(func() {
			if !acquire(sendCtx, sem) {
				return
			}
			defer release(sem)
			sent[i] = true
			t0 := time.Since(start)
			results[i] = cfg.Client.Do(runCtx, reqs[i])
			results[i].Start = t0
			if cfg.OnResult != nil {
				mu.Lock()
				cfg.OnResult(results[i])
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	dur := time.Since(start)
	var kept []Result
	for i, r := range results {
		if sent[i] {
			kept = append(kept, r)
		}
	}
	return kept, len(reqs) - len(kept), dur
}

// acquire takes a slot of sem (nil: unbounded); false when sending has
// stopped, before or while waiting.
func acquire(ctx context.Context, sem chan struct{}) bool {
	if sem != nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return false
		}
	}
	if ctx.Err() != nil {
		release(sem)
		return false
	}
	return true
}

func release(sem chan struct{}) {
	if sem != nil {
		<-sem
	}
}

// waitUntil sleeps until t; false when ctx ended first.
func waitUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

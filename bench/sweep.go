package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Level is one point of a sweep: a concurrency cap and an arrival rate.
type Level struct {
	Concurrency int     // 0 = unbounded
	Rate        float64 // requests/s; 0 = all at once
}

// Label names a level in tables, plots and comparisons: "c=16",
// "rate=4", "c=16,rate=4".
func (l Level) Label() string {
	var parts []string
	if l.Concurrency > 0 {
		parts = append(parts, fmt.Sprintf("c=%d", l.Concurrency))
	}
	if l.Rate > 0 {
		parts = append(parts, "rate="+strconv.FormatFloat(l.Rate, 'g', -1, 64))
	}
	if len(parts) == 0 {
		return "all-at-once"
	}
	return strings.Join(parts, ",")
}

// ParseLevels reads comma-separated concurrency caps ("1,4,16,64"; empty
// means unbounded) and request rates ("2,8,inf"; empty means inf) into
// their cross product, concurrency-major.
func ParseLevels(concurrency, rates string) ([]Level, error) {
	var cs []int
	for _, f := range splitList(concurrency, "0") {
		c, err := strconv.Atoi(f)
		if err != nil || c < 0 || c > 1<<16 {
			return nil, fmt.Errorf("concurrency %q: want an integer in [0, 65536] (0 = unbounded)", f)
		}
		cs = append(cs, c)
	}
	var rs []float64
	for _, f := range splitList(rates, "inf") {
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(r) || r < 0 {
			return nil, fmt.Errorf("request rate %q: want requests/s ≥ 0 or inf", f)
		}
		if math.IsInf(r, 1) {
			r = 0
		}
		rs = append(rs, r)
	}
	var out []Level
	for _, c := range cs {
		for _, r := range rs {
			out = append(out, Level{Concurrency: c, Rate: r})
		}
	}
	if len(out) > 256 {
		return nil, fmt.Errorf("%d levels is too many for one sweep (at most 256)", len(out))
	}
	return out, nil
}

func splitList(s, def string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		out = []string{def}
	}
	return out
}

// SweepSpec is a series of runs against one server.
type SweepSpec struct {
	Client *Client
	Levels []Level
	// Requests gives each level's measured and warm-up requests.
	Requests    func(l Level, idx int) (measured, warmup []Request, err error)
	Params      Params // the template each run's Params start from
	SLO         SLO
	MaxDuration time.Duration // per level
	Drain       time.Duration
	Seed        uint64
	Progress    io.Writer // where progress bars go; nil = none
	Detail      io.Writer // where each run's full table goes; nil = none
	Scrape      bool      // sample the server's /metrics (Spillway servers)
}

// RunSweep runs every level in order and returns their Runs. A level whose
// warm-up fails entirely stops the sweep with an error and the runs so far.
func RunSweep(ctx context.Context, s SweepSpec) ([]Run, error) {
	if s.Client == nil || s.Requests == nil || len(s.Levels) == 0 {
		return nil, errors.New("sweep: needs a client, a dataset and at least one level")
	}
	var runs []Run
	for i, l := range s.Levels {
		if err := ctx.Err(); err != nil {
			return runs, err
		}
		r, err := s.runLevel(ctx, l, i)
		if err != nil {
			return runs, fmt.Errorf("%s: %w", l.Label(), err)
		}
		runs = append(runs, r)
		if s.Detail != nil {
			WriteRun(s.Detail, r)
		}
	}
	return runs, nil
}

func (s *SweepSpec) runLevel(ctx context.Context, l Level, idx int) (Run, error) {
	measured, warmup, err := s.Requests(l, idx)
	if err != nil {
		return Run{}, err
	}
	p := s.Params
	p.MaxConcurrency, p.Rate, p.NumRequests, p.Warmup = l.Concurrency, l.Rate, len(measured), len(warmup)
	p.Seed, p.SLO, p.Timeout = s.Seed, s.SLO.String(), s.Client.Timeout.String()
	if s.MaxDuration > 0 {
		p.MaxDuration = s.MaxDuration.String()
	}
	var watch *Watch
	cfg := Config{
		Client: s.Client, Requests: measured, Warmup: warmup, Rate: l.Rate, Burstiness: p.Burstiness,
		MaxConcurrency: l.Concurrency, Seed: s.Seed, MaxDuration: s.MaxDuration, Drain: s.Drain,
		BeforeWindow: func() {
			if s.Scrape {
				watch = WatchServer(ctx, s.Client.HTTP, ScrapeURL(s.Client.BaseURL), 500*time.Millisecond)
			}
		},
	}
	var finish func()
	if s.Progress != nil {
		cfg.OnResult, finish = NewProgress(s.Progress, len(measured), l.Label())
	}
	out, err := Execute(ctx, cfg)
	if finish != nil {
		finish()
	}
	var stats *ServerStats
	if watch != nil {
		stats = watch.Stop(context.WithoutCancel(ctx))
	}
	if err != nil {
		return Run{}, err
	}
	return NewRun(l.Label(), p, out, s.SLO, stats), nil
}

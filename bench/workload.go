package bench

import (
	"errors"
	"fmt"
)

// Datasets a Workload draws from.
const (
	DatasetSynthetic    = "synthetic"
	DatasetSharedPrefix = "shared-prefix"
	DatasetReplay       = "replay"
)

// Workload builds each sweep level's requests.
type Workload struct {
	Dataset    string
	Synthetic  Synthetic // N is ignored: NumPrompts and Warmup decide
	Replay     []Request // DatasetReplay: the trace
	NumPrompts int       // measured requests per level; 0 = max(MinPrompts, Waves·concurrency)
	Waves      int       // with NumPrompts 0: requests per unit of concurrency (0 = 4)
	MinPrompts int       // with NumPrompts 0: at least this many (0 = 16)
	Warmup     int       // warm-up requests per level; < 0 = min(max(concurrency, 1), 8)
}

// Counts are the measured and warm-up request counts at level l.
func (w Workload) Counts(l Level) (n, warm int) {
	n = w.NumPrompts
	if n <= 0 {
		waves, least := w.Waves, w.MinPrompts
		if waves <= 0 {
			waves = 4
		}
		if least <= 0 {
			least = 16
		}
		n = max(least, waves*l.Concurrency)
	}
	warm = w.Warmup
	if warm < 0 {
		warm = min(max(l.Concurrency, 1), 8)
	}
	return n, warm
}

// Requests gives level l (the idx-th of its sweep) its requests. Synthetic
// levels draw from a seed of their own, so no level repeats another's
// prompts and a prefix cache cannot carry hits from one level to the next
// (shared-prefix levels get their own system prompts too); a baseline run
// with the same seed sends exactly the same prompts.
func (w Workload) Requests(l Level, idx int) (measured, warmup []Request, err error) {
	n, warm := w.Counts(l)
	switch w.Dataset {
	case DatasetSynthetic, DatasetSharedPrefix, "":
		s := w.Synthetic
		s.N = n + warm
		s.Seed = s.Seed*1_000_003 + uint64(idx)
		if w.Dataset != DatasetSharedPrefix {
			s.Prefixes = 0
		} else if s.Prefixes < 1 {
			return nil, nil, errors.New("shared-prefix dataset needs at least one prefix")
		}
		all, err := s.Generate()
		if err != nil {
			return nil, nil, err
		}
		return all[warm:], all[:warm], nil
	case DatasetReplay:
		return replayLevel(w.Replay, n, warm)
	}
	return nil, nil, fmt.Errorf("unknown dataset %q (have synthetic, shared-prefix, replay)", w.Dataset)
}

// replayLevel takes the warm-up from the head of the trace and the
// measured requests from the rest, cycling when the trace is short. A
// trace with no more lines than the warm-up cycles over all of it.
func replayLevel(trace []Request, n, warm int) (measured, warmup []Request, err error) {
	if len(trace) == 0 {
		return nil, nil, errors.New("replay dataset is empty")
	}
	for i := range warm {
		warmup = append(warmup, trace[i%len(trace)])
	}
	rest := trace
	if warm < len(trace) {
		rest = trace[warm:]
	}
	measured = make([]Request, n) // (n,)
	for i := range measured {
		measured[i] = rest[i%len(rest)]
	}
	return measured, warmup, nil
}

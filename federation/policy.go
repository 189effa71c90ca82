package federation

import (
	"cmp"
	"slices"
	"time"
)

// order lists a route's targets as its policy prefers them. Saturation
// moves Local to the end (a last resort: queue locally when every spill
// target fails) and excludes it from the weighted draw.
func (r *Router) order(rt *route, in RouteInput, sat bool) []string {
	names := make([]string, 0, len(rt.cfg.Targets))
	for _, t := range rt.cfg.Targets {
		names = append(names, t.Name)
	}
	switch rt.cfg.Policy {
	case PolicyFailover:
		// configured order
	case PolicyWeighted:
		if first := r.draw(rt.cfg.Targets, sat); first != "" {
			names = moveFront(names, first)
		}
	case PolicyLeastLatency:
		names = localFirst(r.byLatency(in.Model, names))
	case PolicyCost:
		names = localFirst(r.byCost(in.Req, names))
	default: // PolicyLocalFirst
		names = localFirst(names)
	}
	if sat {
		names = moveBack(names, Local)
	}
	return names
}

// draw picks one target with probability proportional to its weight,
// skipping Local when saturated. "" when no weight is left.
func (r *Router) draw(ts []Target, sat bool) string {
	total := 0.0
	for _, t := range ts {
		if !(sat && t.Name == Local) {
			total += t.Weight
		}
	}
	if total <= 0 {
		return ""
	}
	x := r.rand() * total
	last := ""
	for _, t := range ts {
		if sat && t.Name == Local || t.Weight <= 0 {
			continue
		}
		last = t.Name
		if x < t.Weight {
			return t.Name
		}
		x -= t.Weight
	}
	return last // rounding left x just past the end
}

// byLatency sorts providers by EWMA time to first token, fastest first.
// Providers never measured go first, in configured order, so each gets
// a measurement before the ranking settles.
func (r *Router) byLatency(model string, names []string) []string {
	key := func(n string) time.Duration {
		if n == Local {
			return -1
		}
		if d, ok := r.env.ttft(model, n); ok {
			return d
		}
		return 0
	}
	out := slices.Clone(names)
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(key(a), key(b)) })
	return out
}

// byCost sorts providers by the estimated price of this request.
func (r *Router) byCost(req *ChatRequest, names []string) []string {
	key := func(n string) float64 {
		if n == Local {
			return -1
		}
		return r.env.estimateCost(n, req)
	}
	out := slices.Clone(names)
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(key(a), key(b)) })
	return out
}

func cmpOrdered[T int64 | float64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func localFirst(names []string) []string { return moveFront(names, Local) }

func moveFront(names []string, n string) []string {
	i := slices.Index(names, n)
	if i <= 0 {
		return names
	}
	out := append([]string{n}, names[:i]...)
	return append(out, names[i+1:]...)
}

func moveBack(names []string, n string) []string {
	i := slices.Index(names, n)
	if i < 0 || i == len(names)-1 {
		return names
	}
	out := append(slices.Clone(names[:i]), names[i+1:]...)
	return append(out, n)
}

// estimateTokens guesses a request's prompt and completion sizes for the
// cost-aware policy: ~4 bytes per token, and the output cap (or 256).
func estimateTokens(req *ChatRequest) (prompt, completion int) {
	if req == nil {
		return 0, 256
	}
	n := 0
	for _, m := range req.Messages {
		n += len(m.Content.String()) + 4
	}
	completion = req.MaxOutputTokens()
	if completion <= 0 {
		completion = 256
	}
	return n / 4, completion
}

// ewma is an exponentially weighted moving average.
type ewma struct {
	v  float64
	ok bool
}

const ewmaAlpha = 0.2

func (e *ewma) add(x float64) {
	if !e.ok {
		e.v, e.ok = x, true
		return
	}
	e.v += ewmaAlpha * (x - e.v)
}

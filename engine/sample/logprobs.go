package sample

import "math"

// logprobs fills res.Logprob and res.Top under the sampler's LogprobsMode.
// raw is the caller's logits, vals the penalized ones, d the distribution
// the token was drawn from.
func (s *Sampler) logprobs(res *Result, raw, vals []float32, d *dist) {
	mode := s.p.LogprobsMode
	if mode == LogprobsProcessed && !s.greedy && len(d.cands) > 0 {
		s.processedLogprobs(res, vals, d)
		return
	}
	// Without bias or penalties the penalized logits are the raw ones
	// (cleaned), and at T = 1 the sampling weights' sum is their softmax
	// normalizer: the default request pays one pass for logprobs, not two.
	same := mode != LogprobsRaw || !s.modifies()
	if !same {
		logSoftmaxTop(res, raw, s.p.Logprobs, 0)
		return
	}
	var known float64
	if s.invT == 1 {
		known = d.sumAll
	}
	logSoftmaxTop(res, vals, s.p.Logprobs, known)
}

// modifies reports whether bias or penalties can change the logits.
func (s *Sampler) modifies() bool {
	return len(s.bias.ids) > 0 || s.pen.rep != 1 || s.pen.outIndex != nil
}

// logSoftmaxTop sets res.Logprob to log_softmax(x)[res.Token] and res.Top
// to the n best tokens of x, without materializing the softmax: one pass
// finds the max and the top n (a k-heap), a second sums the exponentials
// unless sum, Σ exp(x - max(x)), is already known (> 0).
func logSoftmaxTop(res *Result, x []float32, n int, sum float64) {
	var buf [MaxTopLogprobs]cand
	n = min(n, MaxTopLogprobs)
	t := newTopSet(buf[:], n)
	m := float32(math.Inf(-1))
	for i, v := range x {
		v = clean(v)
		m = max(m, v)
		if n == 0 || len(t.h) == n && v < t.h[0].w {
			continue // the common case once the heap is full: no call
		}
		t.offer(cand{int32(i), v})
	}
	if math.IsInf(float64(m), -1) {
		res.Logprob = float32(math.Inf(-1))
		return
	}
	logSum := math.Log(sum)
	if !(sum > 0) {
		logSum = logSumExp(x, m)
	}
	// Subtract the max before the log-sum so that logits near 1e30 keep
	// their differences (m + logSum would round them away).
	lp := func(l float32) float64 { return float64(clean(l)) - float64(m) - logSum }
	res.Logprob = float32(lp(x[res.Token]))
	if n == 0 {
		return
	}
	top := t.sorted()
	res.Top = make([]TokenLogprob, 0, len(top))
	for _, c := range top {
		v := float32(lp(c.w))
		if math.IsInf(float64(v), -1) {
			break // sorted: the rest have probability 0 too
		}
		res.Top = append(res.Top, TokenLogprob{c.id, v})
	}
}

// logSumExp is log Σ exp(x - m) over x (V,), with NaN as -Inf and +Inf as
// the largest float32; m is the (cleaned) max of x, not -Inf.
func logSumExp(x []float32, m float32) float64 {
	// Four partial sums break the dependency chain of the additions; the
	// order is fixed, so the result is still deterministic.
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(expNeg(clean(x[i]) - m))
		s1 += float64(expNeg(clean(x[i+1]) - m))
		s2 += float64(expNeg(clean(x[i+2]) - m))
		s3 += float64(expNeg(clean(x[i+3]) - m))
	}
	for ; i < len(x); i++ {
		s0 += float64(expNeg(clean(x[i]) - m))
	}
	return math.Log((s0 + s1) + (s2 + s3))
}

// processedLogprobs reports logprobs under the distribution d the token was
// drawn from: log of w/total, with w recomputed from the logit so that tiny
// weights keep their precision.
func (s *Sampler) processedLogprobs(res *Result, vals []float32, d *dist) {
	logZ := math.Log(d.total)
	lp := func(id int32) float32 {
		return float32(float64((vals[id]-d.max)*s.invT) - logZ)
	}
	res.Logprob = lp(res.Token)
	n := min(s.p.Logprobs, MaxTopLogprobs)
	if n == 0 {
		return
	}
	// Keyed by the logprob itself, not by the weight: two weights that
	// round to the same float32 may come from logits an ulp apart, and
	// the tie (lower id first) would then list a larger logprob second.
	var buf [MaxTopLogprobs]cand
	t := newTopSet(buf[:], n)
	for _, c := range d.cands {
		t.offer(cand{c.id, lp(c.id)})
	}
	top := t.sorted()
	res.Top = make([]TokenLogprob, len(top))
	for i, c := range top {
		res.Top[i] = TokenLogprob{c.id, c.w}
	}
}

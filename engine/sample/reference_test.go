package sample

import (
	"math"
	"slices"
)

// This file is the slow reference: vLLM's sampling semantics written as
// plainly as possible, with whole-vocabulary sorts and float64 softmax. The
// penalty arithmetic stays in float32 because that is the specification
// (vLLM penalizes float32 logits); everything after it is float64.

// refPenalized returns the logits after bias and penalties, recounting the
// prompt and output tokens from scratch.
func refPenalized(p Params, prompt, out []int32, logits []float32) []float32 {
	l := make([]float32, len(logits))
	for i, x := range logits {
		switch {
		case math.IsNaN(float64(x)):
			l[i] = float32(math.Inf(-1))
		case math.IsInf(float64(x), 1):
			l[i] = math.MaxFloat32
		default:
			l[i] = x
		}
	}
	for id, b := range p.LogitBias {
		l[id] += b
	}
	if r := p.RepetitionPenalty; r > 0 && r != 1 {
		seen := map[int32]bool{}
		for _, id := range append(slices.Clone(prompt), out...) {
			if seen[id] {
				continue
			}
			seen[id] = true
			if l[id] > 0 {
				l[id] /= r
			} else {
				l[id] *= r
			}
		}
	}
	count := map[int32]int{}
	for _, id := range out {
		count[id]++
	}
	for id, c := range count {
		l[id] -= p.FrequencyPenalty * float32(c)
		l[id] -= p.PresencePenalty
	}
	return l
}

// refOrder returns the ids with prob > 0, sorted by probability descending
// and then id ascending.
func refOrder(prob []float64) []int {
	var ids []int
	for i, q := range prob {
		if q > 0 {
			ids = append(ids, i)
		}
	}
	slices.SortFunc(ids, func(a, b int) int {
		switch {
		case prob[a] > prob[b] || (prob[a] == prob[b] && a < b):
			return -1
		case prob[a] < prob[b] || (prob[a] == prob[b] && a > b):
			return 1
		}
		return 0
	})
	return ids
}

func normalize(prob []float64) {
	var s float64
	for _, q := range prob {
		s += q
	}
	for i := range prob {
		prob[i] /= s
	}
}

// refSoftmax is softmax(l/T) in float64.
func refSoftmax(l []float32, T float64) []float64 {
	m := math.Inf(-1)
	for _, x := range l {
		m = math.Max(m, float64(x)/T)
	}
	prob := make([]float64, len(l))
	for i, x := range l {
		prob[i] = math.Exp(float64(x)/T - m)
	}
	normalize(prob)
	return prob
}

// refDist is the probability of each token under p, after the given
// prompt and previously generated tokens.
func refDist(p Params, prompt, out []int32, logits []float32) []float64 {
	l := refPenalized(p, prompt, out, logits)
	if p.IsGreedy() {
		prob := make([]float64, len(l))
		prob[Greedy(l)] = 1
		return prob
	}
	prob := refSoftmax(l, float64(min(p.Temperature, MaxTemperature)))
	if p.MinP > 0 {
		pmax := slices.Max(prob)
		for i, q := range prob {
			if q < float64(p.MinP)*pmax {
				prob[i] = 0
			}
		}
	}
	if k := p.TopK; k > 0 {
		for j, id := range refOrder(prob) {
			if j >= k {
				prob[id] = 0
			}
		}
	}
	normalize(prob)
	if p.TopP > 0 && p.TopP < 1 {
		var cum float64
		for _, id := range refOrder(prob) {
			if cum >= float64(p.TopP) {
				prob[id] = 0
			}
			cum += prob[id]
		}
		normalize(prob)
	}
	return prob
}

// refLogprobs is log_softmax of the distribution that mode reports.
func refLogprobs(p Params, prompt, out []int32, logits []float32) []float64 {
	var prob []float64
	switch {
	case p.LogprobsMode == LogprobsRaw:
		prob = refSoftmax(refPenalized(Params{}, nil, nil, logits), 1)
	case p.LogprobsMode == LogprobsProcessed && !p.IsGreedy():
		prob = refDist(p, prompt, out, logits)
	default:
		prob = refSoftmax(refPenalized(p, prompt, out, logits), 1)
	}
	lp := make([]float64, len(prob))
	for i, q := range prob {
		lp[i] = math.Log(q)
	}
	return lp
}

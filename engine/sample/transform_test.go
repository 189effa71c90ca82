package sample

import (
	"math"
	"slices"
	"testing"
)

var inf = float32(math.Inf(1))

func ln(x float64) float32 { return float32(math.Log(x)) }

// penalized runs the bias and penalty stage of s on logits.
func penalized(p Params, prompt, out []int32, logits []float32) []float32 {
	s := New(p, prompt)
	for _, id := range out {
		s.pen.record(id)
	}
	vals := make([]float32, len(logits))
	for i, l := range logits {
		vals[i] = clean(l)
	}
	s.bias.apply(vals)
	s.pen.apply(vals)
	return vals
}

// distOf is the distribution the sampler draws from, as token → probability.
func distOf(p Params, prompt, out []int32, logits []float32) map[int32]float64 {
	s := New(p, prompt)
	for _, id := range out {
		s.pen.record(id)
	}
	vals := penalized(p, prompt, out, logits)
	d := s.distribution(make([]cand, len(vals)), vals)
	if s.greedy || d.cands == nil {
		return map[int32]float64{d.argmax: 1}
	}
	m := map[int32]float64{}
	for _, c := range d.cands {
		m[c.id] = float64(c.w) / d.total
	}
	return m
}

func TestPenalties(t *testing.T) {
	type tc struct {
		name        string
		p           Params
		prompt, out []int32
		logits      []float32
		want        []float32
	}
	rep := func(r float32) Params { p := Defaults(); p.RepetitionPenalty = r; return p }
	with := func(f func(*Params)) Params { p := Defaults(); f(&p); return p }
	cases := []tc{
		{"no penalties", Defaults(), []int32{0, 1}, []int32{1}, []float32{1, -2, 3}, []float32{1, -2, 3}},
		{"bias adds", with(func(p *Params) { p.LogitBias = map[int32]float32{0: 5, 2: -1.5} }), nil, nil,
			[]float32{1, 2, 3}, []float32{6, 2, 1.5}},
		{"repetition divides positive, multiplies negative", rep(2), []int32{0, 1}, nil,
			[]float32{4, -1, 3}, []float32{2, -2, 3}},
		{"repetition below 1 encourages", rep(0.5), []int32{0, 1}, nil,
			[]float32{4, -1, 3}, []float32{8, -0.5, 3}},
		{"repetition counts output tokens", rep(2), []int32{0}, []int32{2},
			[]float32{4, -1, 3}, []float32{2, -1, 1.5}},
		{"repetition applies once per distinct token", rep(2), []int32{0, 0, 0}, []int32{0, 0},
			[]float32{4, 1}, []float32{2, 1}},
		{"repetition leaves zero alone", rep(2), []int32{0}, nil, []float32{0, 1}, []float32{0, 1}},
		{"frequency per occurrence", with(func(p *Params) { p.FrequencyPenalty = 0.5 }), nil, []int32{1, 1, 1},
			[]float32{0, 0}, []float32{0, -1.5}},
		{"presence once", with(func(p *Params) { p.PresencePenalty = 0.75 }), nil, []int32{1, 1},
			[]float32{0, 0}, []float32{0, -0.75}},
		{"frequency and presence ignore the prompt",
			with(func(p *Params) { p.FrequencyPenalty, p.PresencePenalty = 1, 1 }), []int32{0}, nil,
			[]float32{1, 1}, []float32{1, 1}},
		{"negative presence encourages", with(func(p *Params) { p.PresencePenalty = -1 }), nil, []int32{0},
			[]float32{1, 1}, []float32{2, 1}},
		{"bias comes before repetition (vLLM)", with(func(p *Params) {
			p.LogitBias = map[int32]float32{0: -3}
			p.RepetitionPenalty = 2
		}), []int32{0}, nil, []float32{1}, []float32{-4}},
		{"all three", with(func(p *Params) {
			p.RepetitionPenalty, p.FrequencyPenalty, p.PresencePenalty = 2, 0.5, 0.25
		}), []int32{0}, []int32{1, 1}, []float32{4, 2, 1}, []float32{2, -0.25, 1}},
		{"ids outside the vocabulary are ignored", rep(2), []int32{5, -1}, []int32{7},
			[]float32{1, 1}, []float32{1, 1}},
		{"NaN and +Inf are cleaned first", Defaults(), nil, nil,
			[]float32{float32(math.NaN()), inf}, []float32{-inf, math.MaxFloat32}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := penalized(c.p, c.prompt, c.out, c.logits)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestDistribution(t *testing.T) {
	with := func(f func(*Params)) Params { p := Defaults(); f(&p); return p }
	greedy := Params{TopP: 1, RepetitionPenalty: 1}
	probs4 := []float32{ln(0.5), ln(0.3), ln(0.15), ln(0.05)}
	cases := []struct {
		name   string
		p      Params
		logits []float32
		want   map[int32]float64
	}{
		{"temperature 0 is greedy", greedy, []float32{1, 3, 2}, map[int32]float64{1: 1}},
		{"greedy ties go to the lower id", greedy, []float32{3, 1, 3}, map[int32]float64{0: 1}},
		{"temperature below 1e-5 is greedy", with(func(p *Params) { p.Temperature = 1e-6 }),
			[]float32{1, 3, 2}, map[int32]float64{1: 1}},
		{"top_k 1 is greedy", with(func(p *Params) { p.TopK = 1 }), []float32{1, 3, 2}, map[int32]float64{1: 1}},
		{"temperature 1", Defaults(), []float32{0, ln(3)}, map[int32]float64{0: 0.25, 1: 0.75}},
		{"temperature 0.5 sharpens", with(func(p *Params) { p.Temperature = 0.5 }),
			[]float32{0, ln(2)}, map[int32]float64{0: 0.2, 1: 0.8}},
		{"temperature 2 flattens", with(func(p *Params) { p.Temperature = 2 }),
			[]float32{0, ln(4)}, map[int32]float64{0: 1.0 / 3, 1: 2.0 / 3}},
		{"min_p drops tokens below min_p·max", with(func(p *Params) { p.MinP = 0.2 }),
			[]float32{0, ln(0.5), ln(0.1), ln(0.05)}, map[int32]float64{0: 2.0 / 3, 1: 1.0 / 3}},
		{"min_p keeps tokens exactly at the threshold", with(func(p *Params) { p.MinP = 1 }),
			[]float32{3, 3, 1}, map[int32]float64{0: 0.5, 1: 0.5}},
		{"top_k keeps the k best", with(func(p *Params) { p.TopK = 2 }),
			[]float32{ln(4), 0, ln(3), ln(2)}, map[int32]float64{0: 4.0 / 7, 2: 3.0 / 7}},
		{"top_k ties keep the lower ids", with(func(p *Params) { p.TopK = 2 }),
			[]float32{0, 0, 0, 0}, map[int32]float64{0: 0.5, 1: 0.5}},
		{"top_k above the vocabulary is off", with(func(p *Params) { p.TopK = 5 }),
			[]float32{0, 0}, map[int32]float64{0: 0.5, 1: 0.5}},
		{"top_k -1 is off", with(func(p *Params) { p.TopK = -1 }),
			[]float32{0, 0}, map[int32]float64{0: 0.5, 1: 0.5}},
		{"top_p keeps the smallest set reaching p", with(func(p *Params) { p.TopP = 0.75 }),
			probs4, map[int32]float64{0: 0.5 / 0.8, 1: 0.3 / 0.8}},
		{"top_p keeps the token that crosses p", with(func(p *Params) { p.TopP = 0.85 }),
			probs4, map[int32]float64{0: 0.5 / 0.95, 1: 0.3 / 0.95, 2: 0.15 / 0.95}},
		{"tiny top_p keeps only the best", with(func(p *Params) { p.TopP = 1e-6 }),
			probs4, map[int32]float64{0: 1}},
		{"top_p renormalizes after top_k", with(func(p *Params) { p.TopK, p.TopP = 3, 0.8 }),
			probs4, map[int32]float64{0: 0.5 / 0.8, 1: 0.3 / 0.8}},
		{"top_p after min_p", with(func(p *Params) { p.MinP, p.TopP = 0.2, 0.9 }),
			probs4, map[int32]float64{0: 0.5 / 0.95, 1: 0.3 / 0.95, 2: 0.15 / 0.95}},
		{"-Inf tokens never survive", Defaults(), []float32{0, -inf, 0}, map[int32]float64{0: 0.5, 2: 0.5}},
		{"NaN counts as -Inf", Defaults(), []float32{float32(math.NaN()), 0}, map[int32]float64{1: 1}},
		{"+Inf takes all the mass", Defaults(), []float32{0, inf, 1}, map[int32]float64{1: 1}},
		{"vocabulary of one", Defaults(), []float32{5}, map[int32]float64{0: 1}},
		{"bias of 100 forces a token", with(func(p *Params) { p.LogitBias = map[int32]float32{2: 100} }),
			[]float32{0, 0, 0}, map[int32]float64{2: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := distOf(c.p, nil, nil, c.logits)
			if len(got) != len(c.want) {
				t.Fatalf("support %v, want %v", got, c.want)
			}
			for id, q := range c.want {
				if math.Abs(got[id]-q) > 1e-6 {
					t.Errorf("P(%d) = %v, want %v (all: %v)", id, got[id], q, got)
				}
			}
		})
	}
}

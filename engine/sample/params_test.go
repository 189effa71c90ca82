package sample

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	with := func(f func(*Params)) Params { p := Defaults(); f(&p); return p }
	nan := float32(math.NaN())
	cases := []struct {
		name  string
		p     Params
		param string // "" = valid
		value string // must appear in the message
	}{
		{"defaults", Defaults(), "", ""},
		{"everything on", with(func(p *Params) {
			p.Temperature, p.TopK, p.TopP, p.MinP = 0.7, 40, 0.9, 0.05
			p.RepetitionPenalty, p.PresencePenalty, p.FrequencyPenalty = 1.1, -2, 2
			p.LogitBias = map[int32]float32{0: -100, 99: 100}
			p.WantLogprobs, p.Logprobs, p.LogprobsMode = true, 20, LogprobsProcessed
		}), "", ""},
		{"greedy", with(func(p *Params) { p.Temperature = 0 }), "", ""},
		{"top_k -1", with(func(p *Params) { p.TopK = -1 }), "", ""},
		{"temperature above the cap", with(func(p *Params) { p.Temperature = 101 }), "temperature", "101"},
		{"negative temperature", with(func(p *Params) { p.Temperature = -0.5 }), "temperature", "-0.5"},
		{"NaN temperature", with(func(p *Params) { p.Temperature = nan }), "temperature", "NaN"},
		{"top_k -2", with(func(p *Params) { p.TopK = -2 }), "top_k", "-2"},
		{"top_p 0", with(func(p *Params) { p.TopP = 0 }), "top_p", "0"},
		{"top_p above 1", with(func(p *Params) { p.TopP = 1.5 }), "top_p", "1.5"},
		{"min_p above 1", with(func(p *Params) { p.MinP = 1.25 }), "min_p", "1.25"},
		{"negative min_p", with(func(p *Params) { p.MinP = -0.1 }), "min_p", "-0.1"},
		{"repetition 0", with(func(p *Params) { p.RepetitionPenalty = 0 }), "repetition_penalty", "0"},
		{"presence above 2", with(func(p *Params) { p.PresencePenalty = 2.5 }), "presence_penalty", "2.5"},
		{"frequency below -2", with(func(p *Params) { p.FrequencyPenalty = -3 }), "frequency_penalty", "-3"},
		{"infinite frequency", with(func(p *Params) { p.FrequencyPenalty = inf }), "frequency_penalty", "Inf"},
		{"bias id past the vocabulary", with(func(p *Params) { p.LogitBias = map[int32]float32{100: 1} }),
			"logit_bias", "100"},
		{"negative bias id", with(func(p *Params) { p.LogitBias = map[int32]float32{-1: 1} }), "logit_bias", "-1"},
		{"bias value above 100", with(func(p *Params) { p.LogitBias = map[int32]float32{3: 150} }),
			"logit_bias", "150"},
		{"NaN bias", with(func(p *Params) { p.LogitBias = map[int32]float32{3: nan} }), "logit_bias", "NaN"},
		{"first bad bias id is reported", with(func(p *Params) { p.LogitBias = map[int32]float32{500: 1, 200: 1} }),
			"logit_bias", "200"},
		{"too many logprobs", with(func(p *Params) { p.WantLogprobs, p.Logprobs = true, 21 }), "top_logprobs", "21"},
		{"negative logprobs", with(func(p *Params) { p.WantLogprobs, p.Logprobs = true, -1 }), "top_logprobs", "-1"},
		{"top logprobs without logprobs", with(func(p *Params) { p.Logprobs = 3 }), "top_logprobs", "3"},
		{"unknown logprobs mode", with(func(p *Params) { p.LogprobsMode = 9 }), "logprobs_mode", "9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Validate(100)
			if c.param == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParamError for %s", err, c.param)
			}
			if pe.Param != c.param || !strings.Contains(err.Error(), c.value) {
				t.Fatalf("got %q (param %q), want param %q and value %s", err, pe.Param, c.param, c.value)
			}
		})
	}
	if p := Defaults(); p.Validate(0) == nil {
		t.Error("Validate(0) accepted an empty vocabulary")
	}
}

func TestIsGreedy(t *testing.T) {
	cases := []struct {
		temp float32
		topK int
		want bool
	}{{0, 0, true}, {1e-6, 0, true}, {1e-5, 0, false}, {1, 1, true}, {1, 2, false}, {0.7, -1, false}}
	for _, c := range cases {
		p := Params{Temperature: c.temp, TopK: c.topK}
		if got := p.IsGreedy(); got != c.want {
			t.Errorf("temperature %v top_k %d: IsGreedy = %v, want %v", c.temp, c.topK, got, c.want)
		}
	}
}

func TestForChoice(t *testing.T) {
	seed := uint64(7)
	p := Defaults()
	p.Seed = &seed
	if c := p.ForChoice(0); *c.Seed != 7 {
		t.Errorf("choice 0 seed %d, want 7", *c.Seed)
	}
	if c := p.ForChoice(3); *c.Seed != 10 || *p.Seed != 7 {
		t.Errorf("choice 3 seed %d (original now %d), want 10 and 7 unchanged", *c.Seed, *p.Seed)
	}
	if c := Defaults().ForChoice(2); c.Seed != nil {
		t.Error("an unseeded request got a seed")
	}
	// Same logits, different choices: different draws.
	flat := make([]float32, 1000)
	a, b := New(p.ForChoice(0), nil), New(p.ForChoice(1), nil)
	same := true
	for range 20 {
		same = same && a.Sample(flat).Token == b.Sample(flat).Token
	}
	if same {
		t.Error("choices 0 and 1 drew the same 20 tokens")
	}
}

package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func seeded(p Params, seed uint64) Params {
	p.Seed = &seed
	return p
}

func TestGreedy(t *testing.T) {
	nan := float32(math.NaN())
	cases := []struct {
		name   string
		logits []float32
		want   int32
	}{
		{"single", []float32{-3}, 0},
		{"max in the middle", []float32{1, 5, 2}, 1},
		{"ties go to the lowest id", []float32{1, 5, 5, 2, 5}, 1},
		{"NaN is skipped", []float32{nan, 1, nan, 2}, 3},
		{"leading NaN does not win", []float32{nan, -1}, 1},
		{"all NaN", []float32{nan, nan}, 0},
		{"all -Inf", []float32{-inf, -inf}, 0},
		{"+Inf wins", []float32{1, inf, 2}, 1},
		{"empty", nil, 0},
	}
	for _, c := range cases {
		if got := Greedy(c.logits); got != c.want {
			t.Errorf("%s: Greedy(%v) = %d, want %d", c.name, c.logits, got, c.want)
		}
	}
}

// randomCase draws parameters and logits for the reference comparison:
// small vocabularies so the reference's full sorts stay cheap, every
// filter switched on or off at random.
func randomCase(r *rand.Rand) (Params, []int32, []int32, []float32) {
	v := 1 + r.IntN(300)
	p := Defaults()
	p.Temperature = []float32{0, 0.3, 0.7, 1, 1.5, 3}[r.IntN(6)]
	if r.IntN(2) == 0 {
		p.TopK = 1 + r.IntN(50)
	}
	if r.IntN(2) == 0 {
		p.TopP = 0.05 + 0.9*r.Float32()
	}
	if r.IntN(3) == 0 {
		p.MinP = 0.2 * r.Float32()
	}
	if r.IntN(3) == 0 {
		p.RepetitionPenalty = 0.5 + 1.5*r.Float32()
	}
	if r.IntN(3) == 0 {
		p.PresencePenalty, p.FrequencyPenalty = 4*r.Float32()-2, 4*r.Float32()-2
	}
	if r.IntN(3) == 0 {
		p.LogitBias = map[int32]float32{int32(r.IntN(v)): 20*r.Float32() - 10}
	}
	p.WantLogprobs, p.Logprobs = true, r.IntN(MaxTopLogprobs+1)
	p.LogprobsMode = LogprobsMode(r.IntN(3))
	ids := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(r.IntN(v))
		}
		return s
	}
	scale := []float64{0.5, 3, 15}[r.IntN(3)]
	logits := make([]float32, v)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * scale)
	}
	return p, ids(r.IntN(20)), ids(r.IntN(20)), logits
}

// TestMatchesReference compares the fast distribution and logprobs with the
// float64 full-sort reference on random inputs.
func TestMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		p, prompt, out, logits := randomCase(r)
		want := refDist(p, prompt, out, logits)
		got := distOf(p, prompt, out, logits)
		for id, q := range want {
			g, ok := got[int32(id)]
			if q > 1e-30 && !ok || q == 0 && ok {
				t.Fatalf("case %d %+v: token %d has reference prob %v, fast support has it: %v", i, p, id, q, ok)
			}
			if math.Abs(g-q) > 1e-5+1e-4*q {
				t.Fatalf("case %d: P(%d) = %v, reference %v", i, id, g, q)
			}
		}
		checkLogprobs(t, p, prompt, out, logits)
	}
}

// checkLogprobs samples once and compares the reported logprobs with the
// reference for the same mode.
func checkLogprobs(t *testing.T, p Params, prompt, out []int32, logits []float32) {
	t.Helper()
	s := New(seeded(p, 7), prompt)
	for _, id := range out {
		s.pen.record(id)
	}
	res := s.Sample(logits)
	ref := refLogprobs(p, prompt, out, logits)
	if d := math.Abs(float64(res.Logprob) - ref[res.Token]); !(d < 1e-4) {
		t.Fatalf("%v mode: logprob of %d = %v, reference %v", p.LogprobsMode, res.Token, res.Logprob, ref[res.Token])
	}
	// Weights below float32's normal range are flushed to 0 by the fast
	// path (see expNeg) and kept by the reference, so tokens of probability
	// below 1e-30 may or may not be listed, but only after all the others.
	strong := refOrder(expAll(ref, 1e-30))
	all := refOrder(expAll(ref, 0))
	if n := len(res.Top); n < min(p.Logprobs, len(strong)) || n > min(p.Logprobs, len(all)) {
		t.Fatalf("%v mode: %d top logprobs, want %d (or up to %d)", p.LogprobsMode, n,
			min(p.Logprobs, len(strong)), min(p.Logprobs, len(all)))
	}
	for j, e := range res.Top {
		if j >= len(strong) {
			if e.Logprob > -60 {
				t.Fatalf("%v mode: top[%d] = %+v, reference has only %d likely tokens", p.LogprobsMode, j, e, len(strong))
			}
			continue
		}
		if e.Token != int32(strong[j]) || math.Abs(float64(e.Logprob)-ref[e.Token]) > 1e-4 {
			t.Fatalf("%v mode: top[%d] = %+v, reference token %d logprob %v", p.LogprobsMode, j, e, strong[j], ref[strong[j]])
		}
	}
	var mass float64
	for _, e := range res.Top {
		mass += math.Exp(float64(e.Logprob))
	}
	if mass > 1+1e-5 {
		t.Fatalf("top logprobs sum to probability %v", mass)
	}
}

// expAll is exp of lp, with probabilities at or below floor set to 0.
func expAll(lp []float64, floor float64) []float64 {
	p := make([]float64, len(lp))
	for i, x := range lp {
		if q := math.Exp(x); q > floor {
			p[i] = q
		}
	}
	return p
}

// TestFrequencies draws 20000 tokens per configuration with a fixed seed and
// checks every token's frequency against the reference probability.
func TestFrequencies(t *testing.T) {
	logits := []float32{2, 1.5, 1, 0.5, 0, -0.5, -1, -3, -inf, 1.2}
	with := func(f func(*Params)) Params { p := Defaults(); f(&p); return p }
	cases := map[string]Params{
		"temperature 1":    Defaults(),
		"temperature 0.7":  with(func(p *Params) { p.Temperature = 0.7 }),
		"temperature 1.8":  with(func(p *Params) { p.Temperature = 1.8 }),
		"top_k 4":          with(func(p *Params) { p.TopK = 4 }),
		"top_p 0.8":        with(func(p *Params) { p.TopP = 0.8 }),
		"min_p 0.1":        with(func(p *Params) { p.MinP = 0.1 }),
		"top_k 6 top_p .9": with(func(p *Params) { p.TopK, p.TopP = 6, 0.9 }),
	}
	const n = 20000
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			want := refDist(p, nil, nil, logits)
			s := New(seeded(p, 42), nil)
			count := make([]int, len(logits))
			for range n {
				count[s.Sample(logits).Token]++
			}
			for id, q := range want {
				f := float64(count[id]) / n
				sigma := math.Sqrt(q * (1 - q) / n)
				if q == 0 && count[id] > 0 || math.Abs(f-q) > 5*sigma+1e-3 {
					t.Errorf("token %d: frequency %.4f, probability %.4f (5σ = %.4f)", id, f, q, 5*sigma)
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	steps := make([][]float32, 300)
	for i := range steps {
		steps[i] = make([]float32, 500)
		for j := range steps[i] {
			steps[i][j] = float32(r.NormFloat64() * 2)
		}
	}
	p := Defaults()
	p.TopP, p.TopK, p.FrequencyPenalty, p.RepetitionPenalty = 0.95, 100, 0.3, 1.1
	run := func(seed uint64, interleave bool) []int32 {
		a, b := New(seeded(p, seed), []int32{1, 2, 3}), New(seeded(p, seed+1), nil)
		var toks []int32
		for _, l := range steps {
			toks = append(toks, a.Sample(l).Token)
			if interleave {
				b.Sample(l)
			}
		}
		return toks
	}
	first := run(99, false)
	if again := run(99, true); !slices.Equal(first, again) {
		t.Fatalf("same seed, different tokens:\n%v\n%v", first, again)
	}
	if other := run(100, false); slices.Equal(first, other) {
		t.Fatalf("seeds 99 and 100 gave the same %d tokens", len(first))
	}
	// Unseeded samplers draw their seed from crypto/rand: 64 equally likely
	// tokens 50 times agree by chance with probability 64^-50.
	flat := make([]float32, 64)
	u1, u2 := New(Defaults(), nil), New(Defaults(), nil)
	same := true
	for range 50 {
		same = same && u1.Sample(flat).Token == u2.Sample(flat).Token
	}
	if same {
		t.Fatal("two unseeded samplers drew the same 50 tokens")
	}
}

// TestPenaltiesFollowSampledTokens checks that Sample records what it
// returns: a large frequency penalty makes greedy decoding alternate.
func TestPenaltiesFollowSampledTokens(t *testing.T) {
	p := Params{TopP: 1, RepetitionPenalty: 1, FrequencyPenalty: 2}
	s := New(p, nil)
	var got []int32
	for range 6 {
		got = append(got, s.Sample([]float32{1, 0.9}).Token)
	}
	if want := []int32{0, 1, 0, 1, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("tokens %v, want %v", got, want)
	}
}

func TestEdgeCases(t *testing.T) {
	lp := Defaults()
	lp.WantLogprobs, lp.Logprobs = true, 5
	cases := []struct {
		name    string
		p       Params
		logits  []float32
		token   int32
		logprob float32
		top     int
	}{
		{"one finite logit", lp, []float32{-inf, -inf, 3, -inf}, 2, 0, 1},
		{"every logit -Inf", lp, []float32{-inf, -inf}, 0, -inf, 0},
		{"every logit NaN", lp, []float32{float32(math.NaN())}, 0, -inf, 0},
		{"NaN beside one finite", lp, []float32{float32(math.NaN()), 1}, 1, 0, 1},
		{"vocabulary of one", lp, []float32{7}, 0, 0, 1},
		{"empty logits", lp, nil, 0, -inf, 0},
		{"tiny top_p is greedy", func() Params { p := lp; p.TopP = 1e-9; return p }(),
			[]float32{0, 0.1, 0.2}, 2, float32(0.2 - math.Log(math.Exp(0)+math.Exp(0.1)+math.Exp(0.2))), 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(20) {
				res := New(seeded(c.p, seed), nil).Sample(c.logits)
				if res.Token != c.token || !near(res.Logprob, c.logprob) || len(res.Top) != c.top {
					t.Fatalf("seed %d: %+v, want token %d logprob %v with %d top", seed, res, c.token, c.logprob, c.top)
				}
			}
		})
	}
}

func near(a, b float32) bool {
	if math.IsInf(float64(b), 0) {
		return a == b
	}
	return math.Abs(float64(a-b)) < 1e-5
}

func TestSampleLeavesInputAlone(t *testing.T) {
	p := Defaults()
	p.LogitBias = map[int32]float32{0: 50}
	p.RepetitionPenalty, p.TopK, p.WantLogprobs = 3, 2, true
	logits := []float32{1, float32(math.NaN()), inf, -2}
	before := slices.Clone(logits)
	New(p, []int32{0, 3}).Sample(logits)
	for i := range logits {
		if math.Float32bits(logits[i]) != math.Float32bits(before[i]) {
			t.Fatalf("logits changed: %v, was %v", logits, before)
		}
	}
}

func TestZeroParamsAreGreedy(t *testing.T) {
	var p Params
	res := New(p, []int32{1}).Sample([]float32{0, 2, 1})
	if res.Token != 1 || res.Logprob != 0 || res.Top != nil {
		t.Fatalf("zero Params: %+v, want token 1 and no logprobs", res)
	}
}

// TestConcurrentSamplers runs samplers on several goroutines at once (they
// share the scratch pool) and checks each matches a sequential run.
func TestConcurrentSamplers(t *testing.T) {
	logits := benchLogits(5000, true)
	p := Defaults()
	p.TopP, p.WantLogprobs, p.Logprobs = 0.9, true, 3
	run := func(seed uint64) []int32 {
		s := New(seeded(p, seed), nil)
		toks := make([]int32, 100)
		for i := range toks {
			toks[i] = s.Sample(logits).Token
		}
		return toks
	}
	want := make([][]int32, 8)
	for i := range want {
		want[i] = run(uint64(i))
	}
	got := make([][]int32, 8)
	done := make(chan int)
	for i := range got {
		go func() { got[i] = run(uint64(i)); done <- i }()
	}
	for range got {
		<-done
	}
	for i := range got {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("sampler %d differs when run concurrently", i)
		}
	}
}

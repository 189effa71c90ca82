package sample

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchLogits imitates a language model's logits: a bulk of N(0, 2²) and,
// when peaked, a head of 50 tokens 12 to 20 above it, so that top_p 0.95
// keeps a few dozen tokens (peaked) or most of the vocabulary (flat).
func benchLogits(v int, peaked bool) []float32 {
	r := rand.New(rand.NewPCG(uint64(v), 1))
	x := make([]float32, v)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 2)
	}
	if peaked {
		for j := range 50 {
			x[r.IntN(v)] += 20 - float32(j)*8/50
		}
	}
	return x
}

func BenchmarkSample(b *testing.B) {
	with := func(f func(*Params)) Params { p := seeded(Defaults(), 1); f(&p); return p }
	configs := []struct {
		name   string
		p      Params
		peaked bool
	}{
		{"greedy", with(func(p *Params) { p.Temperature = 0 }), true},
		{"temperature", Defaults(), true},
		{"top_k=40", with(func(p *Params) { p.TopK = 40 }), true},
		{"top_p=0.95", with(func(p *Params) { p.TopP = 0.95 }), true},
		{"top_p=0.95,flat", with(func(p *Params) { p.TopP = 0.95 }), false},
		{"top_k=40,top_p=0.95", with(func(p *Params) { p.TopK, p.TopP = 40, 0.95 }), true},
		{"min_p=0.05", with(func(p *Params) { p.MinP = 0.05 }), true},
		{"penalties", with(func(p *Params) { p.RepetitionPenalty, p.FrequencyPenalty = 1.1, 0.5 }), true},
		{"logprobs=5", with(func(p *Params) { p.WantLogprobs, p.Logprobs = true, 5 }), true},
	}
	for _, v := range []int{32000, 128256} {
		for _, c := range configs {
			b.Run(fmt.Sprintf("vocab=%d/%s", v, c.name), func(b *testing.B) {
				logits := benchLogits(v, c.peaked)
				prompt := make([]int32, 1000)
				for i := range prompt {
					prompt[i] = int32(i * 97 % v)
				}
				s := New(c.p, prompt)
				b.ReportAllocs()
				b.SetBytes(int64(4 * v))
				for b.Loop() {
					s.Sample(logits)
				}
			})
		}
	}
}

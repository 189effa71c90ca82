package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"spillway/engine"
)

// benchModel measures raw forward speed the way llama.cpp's llama-bench
// does, so the two can be run side by side on one GGUF file: pp<N> is one
// batch of N random tokens from an empty cache, tg<M> is M single-token
// decodes from an empty cache; each after a warm-up, mean ± std over -r runs.
func benchModel(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench model", stderr)
	var ef engineFlags
	ef.register(fs)
	pp := fs.Int("p", 512, "prompt-processing test: tokens in one batch (0 = skip)")
	tg := fs.Int("n", 128, "text-generation test: tokens decoded one at a time (0 = skip)")
	reps := fs.Int("r", 3, "repetitions")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *reps < 1 || *pp < 0 || *tg < 0 {
		return fmt.Errorf("-r must be ≥ 1 and -p, -n ≥ 0")
	}
	ef.maxTokens = max(ef.maxTokens, *pp)
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	fmt.Fprintf(stdout, "| model | backend | threads | test | t/s |\n|---|---|---|---|---|\n")
	tests := []struct {
		name string
		n    int
		run  func(*engine.Engine, int) error
	}{{fmt.Sprintf("pp%d", *pp), *pp, runPP}, {fmt.Sprintf("tg%d", *tg), *tg, runTG}}
	for _, t := range tests {
		if t.n == 0 {
			continue
		}
		if err := t.run(eng, t.n); err != nil { // warm-up
			return err
		}
		var rates []float64
		for i := 0; i < *reps; i++ {
			t0 := time.Now()
			if err := t.run(eng, t.n); err != nil {
				return err
			}
			rates = append(rates, float64(t.n)/time.Since(t0).Seconds())
		}
		m, s := meanStd(rates)
		fmt.Fprintf(stdout, "| %s | %s | %d | %s | %.2f ± %.2f |\n", eng.Desc.Config.Name, eng.Backend().Name(), ef.threads, t.name, m, s)
	}
	return nil
}

func randomTokens(eng *engine.Engine, n int) []int32 {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(r.IntN(eng.Model.Cfg.VocabSize))
	}
	return ids
}

func runPP(eng *engine.Engine, n int) error {
	_, err := eng.NewRunner().Eval(randomTokens(eng, n), false)
	return err
}

func runTG(eng *engine.Engine, n int) error {
	r := eng.NewRunner()
	tok := []int32{eng.Desc.Tokenizer.BOS()}
	if tok[0] < 0 {
		tok[0] = 0
	}
	for i := 0; i < n; i++ {
		if _, err := r.Eval(tok, false); err != nil {
			return err
		}
	}
	return nil
}

func meanStd(v []float64) (float64, float64) {
	var s, s2 float64
	for _, x := range v {
		s += x
	}
	m := s / float64(len(v))
	for _, x := range v {
		s2 += (x - m) * (x - m)
	}
	if len(v) < 2 {
		return m, 0
	}
	return m, math.Sqrt(s2 / float64(len(v)-1))
}

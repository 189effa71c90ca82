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
// decodes from an empty cache; each after a warm-up, mean ± std over -r
// runs. -npl adds batched decoding the way llama-batched-bench reports
// it: that many sequences at once through the scheduler serve runs.
func benchModel(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench model", stderr)
	var ef engineFlags
	ef.register(fs)
	pp, tg, npl := intList{512}, intList{128}, intList{}
	fs.Var(&pp, "p", "prompt-processing tests: tokens in one batch, comma-separated (0 = skip)")
	fs.Var(&tg, "n", "text-generation tests: tokens decoded one at a time, comma-separated (0 = skip)")
	fs.Var(&npl, "npl", "batched-decode tests: concurrent sequences, comma-separated, e.g. 1,8,32,128,256")
	nplPrompt := fs.Int("npl-prompt", 128, "batched-decode tests: prompt tokens per sequence")
	nplGen := fs.Int("npl-gen", 128, "batched-decode tests: tokens generated per sequence")
	reps := fs.Int("r", 3, "repetitions")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *reps < 1 || *nplPrompt < 1 || *nplGen < 2 {
		return fmt.Errorf("-r and --npl-prompt must be ≥ 1 and --npl-gen ≥ 2")
	}
	for _, n := range pp {
		ef.maxTokens = max(ef.maxTokens, n)
	}
	for _, n := range npl {
		ef.kvTokens = max(ef.kvTokens, n*(*nplPrompt+*nplGen))
	}
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	type test struct {
		name string
		n    int
		run  func(*engine.Engine, int) error
	}
	var tests []test
	for _, n := range pp {
		tests = append(tests, test{fmt.Sprintf("pp%d", n), n, runPP})
	}
	for _, n := range tg {
		tests = append(tests, test{fmt.Sprintf("tg%d", n), n, runTG})
	}
	if d, ok := eng.Backend().(interface{ Device() string }); ok {
		fmt.Fprintf(stdout, "device: %s\n\n", d.Device())
	}
	fmt.Fprintf(stdout, "| model | backend | threads | test | t/s |\n|---|---|---|---|---|\n")
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
	return benchBatched(stdout, eng, npl, *nplPrompt, *nplGen, *reps)
}

// benchBatched prints one row per sequence count: the aggregate decode
// rate once every sequence has its first token (S_TG), per sequence, and
// the rate over the whole run prefill included, mean over reps runs after
// a warm-up of the same size.
func benchBatched(stdout io.Writer, eng *engine.Engine, npl intList, prompt, gen, reps int) error {
	if len(npl) == 0 {
		return nil
	}
	fmt.Fprintf(stdout, "\n| sequences | prompt | generated | decode t/s (all sequences) | t/s per sequence | t/s with prefill | steps |\n|---|---|---|---|---|---|---|\n")
	for _, n := range npl {
		if n == 0 {
			continue
		}
		if _, err := runBatch(eng, n, prompt, gen); err != nil { // warm-up (and graph capture)
			return fmt.Errorf("%d sequences: %w", n, err)
		}
		var dec, all []float64
		steps := 0
		for i := 0; i < reps; i++ {
			r, err := runBatch(eng, n, prompt, gen)
			if err != nil {
				return fmt.Errorf("%d sequences: %w", n, err)
			}
			dec = append(dec, r.decodeRate())
			all = append(all, float64(n*gen)/r.total.Seconds())
			steps = r.steps
		}
		md, _ := meanStd(dec)
		ma, _ := meanStd(all)
		fmt.Fprintf(stdout, "| %d | %d | %d | %.1f | %.2f | %.1f | %d |\n", n, prompt, gen, md, md/float64(n), ma, steps)
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

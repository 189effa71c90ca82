package main

import (
	"fmt"
	"io"
	"time"

	"spillway/engine/sample"
	"spillway/engine/tokenizer"
)

func init() {
	register("generate", "generate text from a prompt and report tokens/s", runGenerate)
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", stderr)
	var ef engineFlags
	ef.register(fs)
	prompt := fs.String("prompt", "", "prompt text")
	n := fs.Int("n", 128, "tokens to generate")
	temp := fs.Float64("temp", 0, "temperature (0 = greedy)")
	topK := fs.Int("top-k", 0, "top-k (0 = off)")
	topP := fs.Float64("top-p", 1, "top-p (1 = off)")
	seed := fs.Uint64("seed", 0, "sampling seed (0 = random)")
	ignoreEOS := fs.Bool("ignore-eos", false, "keep generating past end-of-generation tokens")
	if err := parse(fs, args); err != nil {
		return err
	}
	p := sample.Params{Temperature: float32(*temp), TopK: *topK, TopP: float32(*topP), RepetitionPenalty: 1}
	if *seed != 0 {
		p.Seed = seed
	}
	eng, err := ef.open()
	if err != nil {
		return err
	}
	defer eng.Close()
	tok := eng.Desc.Tokenizer
	if err := p.Validate(tok.VocabSize()); err != nil {
		return err
	}
	ids := tok.Encode(*prompt, tokenizer.EncodeOptions{AddSpecial: true})
	if len(ids)+*n > eng.Model.Cfg.ContextLen {
		return fmt.Errorf("prompt of %d tokens plus %d new tokens exceeds the context of %d", len(ids), *n, eng.Model.Cfg.ContextLen)
	}
	r := eng.NewRunner()
	t0 := time.Now()
	logits, err := r.Eval(ids, false)
	if err != nil {
		return err
	}
	tPrompt := time.Since(t0)
	s := sample.New(p, ids)
	dt := tok.NewDetokenizer(ids)
	fmt.Fprint(stdout, *prompt)
	t1, gen := time.Now(), 0
	for gen < *n {
		id := s.Sample(logits).Token
		gen++
		if tok.IsEOG(id) && !*ignoreEOS {
			break
		}
		fmt.Fprint(stdout, dt.Add(id))
		if gen == *n {
			break
		}
		if logits, err = r.Eval([]int32{id}, false); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, dt.Flush())
	tGen := time.Since(t1)
	fmt.Fprintf(stderr, "\nprompt: %d tokens in %.3fs (%.2f tok/s); generation: %d tokens in %.3fs (%.2f tok/s); backend %s\n",
		len(ids), tPrompt.Seconds(), float64(len(ids))/tPrompt.Seconds(), gen, tGen.Seconds(),
		float64(gen)/tGen.Seconds(), eng.Backend().Name())
	return nil
}

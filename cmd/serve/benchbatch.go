package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"spillway/batching"
	"spillway/engine"
	"spillway/engine/sample"
	"spillway/scheduler"
)

// intList is a flag of comma-separated positive integers ("512,4096"), as
// llama-bench's -p, -n and -npl take them.
type intList []int

func (l *intList) String() string {
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(v string) error {
	var out intList
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("%q is not a comma-separated list of counts ≥ 0", v)
		}
		out = append(out, n)
	}
	*l = out
	return nil
}

// batchRun is one batched-decode measurement: npl sequences of prompt
// tokens each, every one generating gen tokens, through the scheduler
// that serve runs (continuous batching over the paged cache).
type batchRun struct {
	npl, prompt, gen int
	total, decode    time.Duration // whole run; from the last first token to the end
	steps            int
}

// decodeRate is the aggregate decode rate once every sequence has its
// first token: what vLLM's and llama-batched-bench's S_TG report.
func (r batchRun) decodeRate() float64 {
	return float64(r.npl*(r.gen-1)) / r.decode.Seconds()
}

// runBatch submits npl requests at once and steps the scheduler until all
// finish. The prompts are random tokens, distinct per sequence, and the
// prefix cache is off, so every run computes every prompt.
func runBatch(eng *engine.Engine, npl, prompt, gen int) (batchRun, error) {
	spec := eng.KV.Spec
	s, err := scheduler.New(eng, tokVocab{eng.Desc.Tokenizer}, scheduler.Options{
		MaxNumSeqs: npl, MaxNumBatchedTokens: eng.Model.MaxTokens(), ContextLen: eng.Model.Cfg.ContextLen,
		Blocks: batching.Config{NumBlocks: eng.NumBlocks(), BlockSize: spec.BlockSize, DisablePrefixCaching: true},
	})
	if err != nil {
		return batchRun{}, err
	}
	chans := make([]<-chan scheduler.Event, npl)
	for i := range chans {
		p := sample.Defaults()
		p.Temperature = 0
		ids := randomTokens(eng, prompt+i) // distinct prompts, one length
		ids = ids[i:]
		r := &scheduler.Request{Prompt: ids, Sampling: p, MaxTokens: gen, IgnoreEOS: true}
		if chans[i], err = s.Submit(context.Background(), r); err != nil {
			return batchRun{}, err
		}
	}
	run := batchRun{npl: npl, prompt: prompt, gen: gen}
	first := make([]bool, npl)
	open, waiting := npl, npl
	t0 := time.Now()
	var td time.Time
	for open > 0 {
		s.Step()
		run.steps++
		for i, ch := range chans {
			for ch != nil {
				select {
				case ev, ok := <-ch:
					if !ok {
						chans[i], ch = nil, nil
						open--
						break
					}
					if ev.Err != nil {
						return run, ev.Err
					}
					if ev.Token >= 0 && !first[i] {
						first[i] = true
						waiting--
					}
				default:
					ch = nil
				}
			}
		}
		if waiting == 0 && td.IsZero() {
			td = time.Now()
		}
	}
	end := time.Now()
	run.total, run.decode = end.Sub(t0), end.Sub(td)
	return run, nil
}

package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"spillway/batching"
	"spillway/bench/synth"
	"spillway/engine"
	"spillway/engine/sample"
	"spillway/internal/testenv"
	"spillway/scheduler"
)

// benchModel is SPILLWAY_BENCH_MODEL, or a synthetic TinyLlama-1.1B Q4_0
// written once to models/ (about 600 MiB, 30 s).
func benchModel(b *testing.B) string {
	if p := os.Getenv("SPILLWAY_BENCH_MODEL"); p != "" {
		return p
	}
	path := filepath.Join(testenv.RepoRoot(), "models", "tinyllama-1.1b-q4_0.gguf")
	if _, err := os.Stat(path); err == nil {
		return path
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	m, _ := synth.ParseMix("q4_0")
	if err := synth.WriteFile(path, synth.Options{Preset: synth.Presets["tinyllama-1.1b"], Mix: m, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return path
}

// schedRun drives a scheduler step by step until its requests end. It
// returns the whole run's time, the decode phase's time (from the step in
// which the last request got its first token to the end) and the final
// snapshot.
func schedRun(b *testing.B, e *engine.Engine, reqs []*scheduler.Request, caching bool) (time.Duration, time.Duration, scheduler.Snapshot) {
	s, err := scheduler.New(e, vocab{e.Desc.Tokenizer}, scheduler.Options{
		MaxNumSeqs: 64, MaxNumBatchedTokens: e.Model.MaxTokens(), ContextLen: e.Model.Cfg.ContextLen,
		Blocks: batching.Config{NumBlocks: e.NumBlocks(), BlockSize: e.KV.Spec.BlockSize, DisablePrefixCaching: !caching},
	})
	if err != nil {
		b.Fatal(err)
	}
	var chans []<-chan scheduler.Event
	for _, r := range reqs {
		ch, err := s.Submit(context.Background(), r)
		if err != nil {
			b.Fatal(err)
		}
		chans = append(chans, ch)
	}
	started := make([]bool, len(chans))
	closed := make([]bool, len(chans))
	t0 := time.Now()
	var decodeStart time.Time
	for open := len(chans); open > 0; {
		s.Step()
		open = 0
		for i, ch := range chans {
			for !closed[i] {
				ev, ok, more := poll(ch)
				if !more {
					break
				}
				if !ok {
					closed[i] = true
					break
				}
				started[i] = started[i] || ev.Token >= 0
			}
			if !closed[i] {
				open++
			}
		}
		if decodeStart.IsZero() && !slices.Contains(started, false) {
			decodeStart = time.Now()
		}
	}
	end := time.Now()
	s.Step() // publish the last step's timings
	return end.Sub(t0), end.Sub(decodeStart), s.Snapshot()
}

// poll reads one event without blocking: more is false when none is ready.
func poll(ch <-chan scheduler.Event) (ev scheduler.Event, ok, more bool) {
	select {
	case ev, ok = <-ch:
		return ev, ok, true
	default:
		return ev, false, false
	}
}

func decodeReqs(n, prompt, gen int, seed uint64) []*scheduler.Request {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []*scheduler.Request
	for i := 0; i < n; i++ {
		p := sample.Defaults()
		p.Temperature = 0
		out = append(out, &scheduler.Request{Prompt: randTokens(r, prompt), Sampling: p, MaxTokens: gen, IgnoreEOS: true})
	}
	return out
}

// BenchmarkDecodeThroughput: aggregate decode tokens/s of 1, 4, 16 and 64
// concurrent sequences (TinyLlama-1.1B Q4_0 by default) once every sequence
// has its first token (prefill excluded), the rate including prefill, and
// the share of step time spent outside the forward pass; then the 16 ÷ 1
// scaling, with the two runs alternated so that both see the same machine.
// Each metric sums all b.N runs (-benchtime 3x: three of each).
// Run: go test -run XXX -bench DecodeThroughput -benchtime 3x ./engine/
func BenchmarkDecodeThroughput(b *testing.B) {
	e := openEngine(b, benchModel(b), 512)
	defer e.Close()
	for _, n := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("seqs=%d", n), func(b *testing.B) {
			var r decodeRate
			for i := 0; i < b.N; i++ {
				r.run(b, e, n, uint64(i))
			}
			b.ReportMetric(r.decodeRate(), "decode-tok/s")
			b.ReportMetric(float64(r.all)/r.total.Seconds(), "all-tok/s")
			b.ReportMetric(100*(1-r.exec/r.step), "sched-overhead-%")
			b.ReportMetric(float64(r.steps)/float64(b.N), "steps")
		})
	}
	b.Run("scaling=16/1", func(b *testing.B) {
		var one, sixteen decodeRate
		for i := 0; i < b.N; i++ {
			one.run(b, e, 1, uint64(i))
			sixteen.run(b, e, 16, uint64(i))
		}
		b.ReportMetric(one.decodeRate(), "1seq-tok/s")
		b.ReportMetric(sixteen.decodeRate(), "16seq-tok/s")
		b.ReportMetric(sixteen.decodeRate()/one.decodeRate(), "x")
	})
}

// decodeRate sums decode runs of decodeReqs: tokens and times.
type decodeRate struct {
	dec, all    int // tokens after each sequence's first; all tokens
	decT, total time.Duration
	exec, step  float64 // seconds in the forward pass; in whole steps
	steps       int
}

func (r *decodeRate) run(b *testing.B, e *engine.Engine, n int, seed uint64) {
	const prompt, gen = 16, 32
	d, dec, snap := schedRun(b, e, decodeReqs(n, prompt, gen, seed), true)
	r.dec += n * (gen - 1)
	r.all += n * gen
	r.decT += dec
	r.total += d
	r.exec += snap.ExecSeconds
	r.step += snap.StepSeconds
	r.steps += int(snap.Steps)
}

func (r *decodeRate) decodeRate() float64 { return float64(r.dec) / r.decT.Seconds() }

// BenchmarkPrefixCacheTTFT: time to first token of a request whose first
// 1,000 tokens are cached by an earlier request, against the same request
// with caching off.
// Run: go test -run XXX -bench PrefixCacheTTFT -benchtime 1x ./engine/
func BenchmarkPrefixCacheTTFT(b *testing.B) {
	e := openEngine(b, benchModel(b), 512)
	defer e.Close()
	r := rand.New(rand.NewPCG(7, 7))
	prefix := randTokens(r, 1000)
	mk := func(tail int) *scheduler.Request {
		p := sample.Defaults()
		p.Temperature = 0
		return &scheduler.Request{Prompt: append(append([]int32{1}, prefix...), randTokens(r, tail)...), Sampling: p, MaxTokens: 1}
	}
	for _, caching := range []bool{false, true} {
		b.Run(fmt.Sprintf("caching=%v", caching), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s0 := time.Now()
				_, first := schedRunKeep(b, e, caching, mk(20), mk(30))
				b.ReportMetric(first.Seconds()*1000, "second-ttft-ms")
				b.ReportMetric(float64(time.Since(s0).Milliseconds()), "total-ms")
			}
		})
	}
}

// schedRunKeep runs two requests one after the other on one scheduler (so
// the second may hit the first's cached prefix) and returns both TTFTs.
func schedRunKeep(b *testing.B, e *engine.Engine, caching bool, a, c *scheduler.Request) (time.Duration, time.Duration) {
	s, err := scheduler.New(e, vocab{e.Desc.Tokenizer}, scheduler.Options{
		MaxNumSeqs: 4, MaxNumBatchedTokens: e.Model.MaxTokens(), ContextLen: e.Model.Cfg.ContextLen,
		Blocks: batching.Config{NumBlocks: e.NumBlocks(), BlockSize: e.KV.Spec.BlockSize, DisablePrefixCaching: !caching},
	})
	if err != nil {
		b.Fatal(err)
	}
	ttft := func(r *scheduler.Request) time.Duration {
		ch, err := s.Submit(context.Background(), r)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		var first time.Duration
		for {
			s.Step()
			select {
			case ev, ok := <-ch:
				if first == 0 && ok {
					first = time.Since(t0)
				}
				if !ok || ev.Stats != nil {
					return first
				}
			default:
			}
		}
	}
	return ttft(a), ttft(c)
}

package engine_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"spillway/batching"
	"spillway/bench/synth"
	"spillway/engine"
	"spillway/engine/model"
	"spillway/engine/sample"
	"spillway/engine/tokenizer"
	"spillway/scheduler"
)

type vocab struct{ t *tokenizer.Tokenizer }

func (v vocab) NewDecoder(p []int32) scheduler.Decoder { return v.t.NewDetokenizer(p) }
func (v vocab) IsEOG(id int32) bool                    { return v.t.IsEOG(id) }

var (
	tinyOnce sync.Once
	tinyPath string
	tinyErr  error
)

// tinyModel writes the synthetic tiny preset (Q8_0) once per test binary.
func tinyModel(t testing.TB) string {
	tinyOnce.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			tinyErr = err
			return
		}
		p := synth.Presets["tiny"]
		p.Layers = 2
		m, _ := synth.ParseMix("q8_0")
		tinyPath = filepath.Join(dir, "tiny.gguf")
		tinyErr = synth.WriteFile(tinyPath, synth.Options{Preset: p, Mix: m, Seed: 3})
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyPath
}

func openEngine(t testing.TB, path string, kvMiB int64) *engine.Engine {
	t.Helper()
	return openEngineBytes(t, path, kvMiB<<20)
}

// openEngineBytes is openEngine with a KV budget in bytes (0 = one context).
func openEngineBytes(t testing.TB, path string, kvBytes int64) *engine.Engine {
	t.Helper()
	d, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(d, engine.Options{Backend: testBackend(), MaxTokens: 256, KVCacheMemory: kvBytes})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	return e
}

// soloGreedy is what one request produces alone: prefill, then one-token
// decodes, through the single-sequence runner.
func soloGreedy(t testing.TB, e *engine.Engine, prompt []int32, n int) []int32 {
	r := e.NewRunner()
	logits, err := r.Eval(prompt, false)
	if err != nil {
		t.Fatal(err)
	}
	var out []int32
	for len(out) < n {
		tok := sample.Greedy(logits)
		out = append(out, tok)
		if e.Desc.Tokenizer.IsEOG(tok) || len(out) == n {
			break
		}
		if logits, err = r.Eval([]int32{tok}, false); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestBatchedEqualsSolo: 64 concurrent greedy requests of varied lengths,
// many sharing long prefixes, give token for token what each gives alone —
// with prefix caching on and off, and with a pool small enough to preempt
// (one 2,048-token context of the test model, 2 MiB, plus the 16 KiB block
// that graph batches pad into on a GPU).
func TestBatchedEqualsSolo(t *testing.T) {
	if testing.Short() && testBackend() == "ref" {
		t.Skip("skipping: minutes on the pure-Go reference backend in -short mode")
	}
	path := tinyModel(t)
	solo := openEngine(t, path, 0)
	defer solo.Close()
	r := rand.New(rand.NewPCG(21, 22))
	prefixes := [][]int32{randTokens(r, 300), randTokens(r, 120)}
	var prompts [][]int32
	var maxTok []int
	for i := 0; i < 64; i++ {
		p := []int32{1}
		if i%4 != 0 {
			p = append(p, prefixes[i%2]...)
		}
		p = append(p, randTokens(r, 1+r.IntN(40))...)
		prompts = append(prompts, p)
		maxTok = append(maxTok, 4+r.IntN(24))
	}
	want := make([][]int32, len(prompts))
	for i := range prompts {
		want[i] = soloGreedy(t, solo, prompts[i], maxTok[i])
	}
	cases := []struct {
		name    string
		kvBytes int64
		caching bool
	}{{"caching", 64 << 20, true}, {"no caching", 64 << 20, false}, {"tight pool", 2<<20 + 16<<10, false}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := openEngineBytes(t, path, c.kvBytes)
			defer e.Close()
			got, snap := runBatched(t, e, prompts, maxTok, c.caching)
			ties := 0
			for i := range prompts {
				if slices.Equal(got[i], want[i]) {
					continue
				}
				if m, ok := nearTie(t, solo, prompts[i], got[i], want[i]); ok {
					ties++
					t.Logf("request %d: departs at a near-tie (margin %.4f alone, FP16 tolerance %.2f)", i, m, fp16Margin)
					continue
				}
				t.Errorf("request %d: batched %v, alone %v", i, got[i], want[i])
			}
			t.Logf("%d blocks, steps %d, preemptions %d, prefix hits %d/%d tokens, near-tie departures %d of %d requests",
				e.NumBlocks(), snap.Steps, snap.Preemptions, snap.PrefixCacheHits, snap.PrefixCacheQueries, ties, len(prompts))
			if c.name == "tight pool" && snap.Preemptions == 0 {
				t.Error("the tight pool forced no preemption")
			}
		})
	}
}

// fp16Margin is the oracle README's margin for float (F16) files: a
// greedy choice between logits closer than this is a near-tie that F16
// activations may decide either way.
const fp16Margin = 0.25

// nearTie says whether a batched run that departs from the solo one did
// so where the solo logits left the two tokens within fp16Margin, on a
// backend that rounds activations to 16 bits (CUDA): its batched steps
// take other kernels (the tensor-core GEMM) than a lone sequence's GEMV,
// so only bit-exact backends (cpu, ref) must agree at every near-tie.
func nearTie(t *testing.T, e *engine.Engine, prompt, got, want []int32) (float32, bool) {
	t.Helper()
	if b := testBackend(); b == "cpu" || b == "ref" {
		return 0, false
	}
	j := 0
	for j < len(got) && j < len(want) && got[j] == want[j] {
		j++
	}
	if j == len(got) || j == len(want) {
		return 0, false // one stopped early: not a choice between two tokens
	}
	// The solo run's own logits at step j: prefill, then one-token decodes.
	r := e.NewRunner()
	logits, err := r.Eval(prompt, false)
	for k := 0; k < j && err == nil; k++ {
		logits, err = r.Eval(want[k:k+1], false)
	}
	if err != nil {
		t.Fatal(err)
	}
	m := logits[want[j]] - logits[got[j]]
	return m, m <= fp16Margin
}

func randTokens(r *rand.Rand, n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(300 + r.IntN(3000))
	}
	return out
}

func runBatched(t *testing.T, e *engine.Engine, prompts [][]int32, maxTok []int, caching bool) ([][]int32, scheduler.Snapshot) {
	s, err := scheduler.New(e, vocab{e.Desc.Tokenizer}, scheduler.Options{
		MaxNumSeqs: 64, MaxNumBatchedTokens: 256, ContextLen: e.Model.Cfg.ContextLen,
		Blocks: batching.Config{NumBlocks: e.NumBlocks(), BlockSize: e.KV.Spec.BlockSize, DisablePrefixCaching: !caching},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	got := make([][]int32, len(prompts))
	var wg sync.WaitGroup
	for i := range prompts {
		p := sample.Defaults()
		p.Temperature = 0
		ch, err := s.Submit(ctx, &scheduler.Request{Prompt: prompts[i], Sampling: p, MaxTokens: maxTok[i]})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for ev := range ch {
				if ev.Err != nil {
					t.Errorf("request %d: %v", i, ev.Err)
				}
				if ev.Token >= 0 {
					got[i] = append(got[i], ev.Token)
				}
			}
		}(i)
	}
	wg.Wait()
	return got, s.Snapshot()
}

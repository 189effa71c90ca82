package engine_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"spillway/engine"
	"spillway/engine/model"
	"spillway/kernels"
)

// graphBackend stands in for the CUDA backend's graphs on any backend:
// CaptureGraph records each op with the arguments it was given (the same
// slices, the same *AttnBatch) instead of running it, and a replay runs
// the record. So, as on a GPU, a replay sees what the engine wrote into
// those inputs since, and an engine that handed the ops fresh slices
// instead would replay stale ones and fail the comparisons below.
type graphBackend struct {
	kernels.Backend
	rec               *[]func() // the recording in progress
	misuse            error     // an op a recording may not hold
	captures, replays int
	failReplays       int // replays to fail before running them
}

var _ model.GraphCapturer = (*graphBackend)(nil)

func (b *graphBackend) op(f func()) {
	if b.rec != nil {
		*b.rec = append(*b.rec, f)
		return
	}
	f()
}

// host notes a call that must not happen inside a recording.
func (b *graphBackend) host(name string) {
	if b.rec != nil && b.misuse == nil {
		b.misuse = fmt.Errorf("%s inside a graph recording", name)
	}
}

func (b *graphBackend) CaptureGraph(step func() error) (func() error, func() error, error) {
	var ops []func()
	b.rec, b.misuse = &ops, nil
	err := step()
	b.rec = nil
	if err = errors.Join(err, b.misuse); err != nil {
		return nil, nil, err
	}
	b.captures++
	live := true
	replay := func() error {
		if !live {
			return errors.New("replay of a released graph")
		}
		if b.failReplays > 0 {
			b.failReplays--
			return errors.New("injected replay failure")
		}
		for _, f := range ops {
			f()
		}
		b.replays++
		return nil
	}
	return replay, func() error { live = false; return nil }, nil
}

func (b *graphBackend) Embed(o, t kernels.Tensor, ids []int32) {
	b.op(func() { b.Backend.Embed(o, t, ids) })
}
func (b *graphBackend) RMSNorm(o, x, w kernels.Tensor, e float32) {
	b.op(func() { b.Backend.RMSNorm(o, x, w, e) })
}
func (b *graphBackend) MatMul(o, x, w kernels.Tensor) { b.op(func() { b.Backend.MatMul(o, x, w) }) }
func (b *graphBackend) Add(o, x, y kernels.Tensor)    { b.op(func() { b.Backend.Add(o, x, y) }) }
func (b *graphBackend) SiLUMul(o, g, u kernels.Tensor) {
	b.op(func() { b.Backend.SiLUMul(o, g, u) })
}
func (b *graphBackend) RoPE(x kernels.Tensor, pos []int32, p kernels.RoPEParams) {
	b.op(func() { b.Backend.RoPE(x, pos, p) })
}
func (b *graphBackend) StoreKV(c *kernels.KVCache, l int, k, v kernels.Tensor, s []int32) {
	b.op(func() { b.Backend.StoreKV(c, l, k, v, s) })
}
func (b *graphBackend) Attention(o, q kernels.Tensor, c *kernels.KVCache, l int, ab *kernels.AttnBatch) {
	b.op(func() { b.Backend.Attention(o, q, c, l, ab) })
}
func (b *graphBackend) Download(dst []byte, src kernels.Tensor) error {
	b.host("Download")
	return b.Backend.Download(dst, src)
}
func (b *graphBackend) Upload(dst kernels.Tensor, src []byte) error {
	b.host("Upload")
	return b.Backend.Upload(dst, src)
}
func (b *graphBackend) Alloc(dt kernels.DType, rows, cols int) (kernels.Tensor, error) {
	b.host("Alloc")
	return b.Backend.Alloc(dt, rows, cols)
}
func (b *graphBackend) Sync() error {
	b.host("Sync")
	return b.Backend.Sync()
}

var (
	graphOnce sync.Once
	graphLast *graphBackend // the "graphs" backend built last
)

// openGraphEngine opens the tiny model (Q8_0) on the graph stand-in over
// the test backend. A padded batch runs other rows beside the real ones;
// both the reference and the cpu backend give a row of quantized weights
// the same bits whatever its batch (cpu.TestRowsIndependentOfBatch), so
// the tokens must match exactly.
func openGraphEngine(t *testing.T, kvBytes int64, eager bool) (*engine.Engine, *graphBackend) {
	t.Helper()
	graphOnce.Do(func() {
		kernels.Register("graphs", func(ko kernels.Options) (kernels.Backend, error) {
			be, err := kernels.New(testBackend(), ko)
			if err != nil {
				return nil, err
			}
			graphLast = &graphBackend{Backend: be}
			return graphLast, nil
		})
	})
	d, err := model.Load(tinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(d, engine.Options{Backend: "graphs", MaxTokens: 256, KVCacheMemory: kvBytes, EnforceEager: eager})
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	return e, graphLast
}

// TestDecodeGraphs: with graphs, decode steps of every batch size replay
// their bucket's recording (padded) and give the tokens each request gives
// alone; prefill and mixed steps stay eager. One block is kept for the
// padding rows; --enforce-eager keeps it and records nothing.
func TestDecodeGraphs(t *testing.T) {
	if testing.Short() && testBackend() == "ref" {
		t.Skip("skipping: about 15 s on the pure-Go reference backend in -short mode")
	}
	solo, _ := openGraphEngine(t, 0, true) // a pool of one context
	defer solo.Close()
	block := solo.KV.Spec.Bytes() / int64(solo.KV.Spec.NumBlocks)
	prompts, maxTok := graphPrompts()
	want := make([][]int32, len(prompts))
	for i := range prompts {
		want[i] = soloGreedy(t, solo, prompts[i], maxTok[i])
	}
	for _, c := range []struct {
		name    string
		kvBytes int64
		caching bool
		fail    int // replays that fail: those steps run eagerly
	}{{"caching", 64 << 20, true, 0}, {"tight pool", solo.KV.Spec.Bytes() + block, false, 0}, {"failed replays", 64 << 20, true, 5}} {
		t.Run(c.name, func(t *testing.T) {
			e, gb := openGraphEngine(t, c.kvBytes, false)
			defer e.Close()
			gb.failReplays = c.fail
			if e.NumBlocks() != e.KV.Spec.NumBlocks-1 {
				t.Errorf("sequences may own %d of %d blocks, want all but the scratch block", e.NumBlocks(), e.KV.Spec.NumBlocks)
			}
			got, snap := runBatched(t, e, prompts, maxTok, c.caching)
			for i := range prompts {
				if !slices.Equal(got[i], want[i]) {
					t.Errorf("request %d: with graphs %v, alone %v", i, got[i], want[i])
				}
			}
			buckets := e.Model.GraphBuckets()
			slices.Sort(buckets)
			t.Logf("buckets %v, %d recordings, %d replays in %d steps, %d preemptions", buckets, gb.captures, gb.replays, snap.Steps, snap.Preemptions)
			// A failed replay drops its recording, made anew on next use.
			if gb.captures < len(buckets) || gb.captures > len(buckets)+c.fail || gb.replays == 0 || gb.replays >= int(snap.Steps) {
				t.Errorf("%d recordings of %d buckets (%d failed replays), %d replays in %d steps: want one per bucket "+
					"and failure and eager prefills", gb.captures, len(buckets), c.fail, gb.replays, snap.Steps)
			}
			if len(buckets) < 3 { // the batch shrinks from 40 through sizes no bucket fits
				t.Errorf("graphs of %v sequences only", buckets)
			}
			if c.name == "tight pool" && snap.Preemptions == 0 {
				t.Error("the tight pool forced no preemption")
			}
		})
	}
	t.Run("enforce eager", func(t *testing.T) {
		e, gb := openGraphEngine(t, 64<<20, true)
		defer e.Close()
		got, _ := runBatched(t, e, prompts[:8], maxTok[:8], true)
		for i := range got {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("request %d: eager %v, alone %v", i, got[i], want[i])
			}
		}
		if gb.captures != 0 || len(e.Model.GraphBuckets()) != 0 || e.NumBlocks() != e.KV.Spec.NumBlocks {
			t.Errorf("--enforce-eager: %d recordings, %d of %d blocks usable", gb.captures, e.NumBlocks(), e.KV.Spec.NumBlocks)
		}
	})
}

// graphPrompts are 40 requests of 2–111 tokens, half sharing a prefix,
// with 3–40 tokens to generate: the running batch shrinks through most
// sizes, and at its peak it holds more than one context (2,048 tokens).
func graphPrompts() ([][]int32, []int) {
	r := rand.New(rand.NewPCG(31, 32))
	prefix := randTokens(r, 100)
	var prompts [][]int32
	var maxTok []int
	for i := 0; i < 40; i++ {
		p := []int32{1}
		if i%2 == 0 {
			p = append(p, prefix...)
		}
		prompts = append(prompts, append(p, randTokens(r, 1+r.IntN(10))...))
		maxTok = append(maxTok, 3+r.IntN(38))
	}
	return prompts, maxTok
}

// TestGraphPoolTooSmall: the scratch block counts against the budget, and
// the error says so and how to get it back.
func TestGraphPoolTooSmall(t *testing.T) {
	probe, _ := openGraphEngine(t, 0, true) // a pool of exactly one context
	one := probe.KV.Spec.Bytes()
	probe.Close()
	d, err := model.Load(tinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(d, engine.Options{Backend: "graphs", MaxTokens: 256, KVCacheMemory: one})
	if err == nil {
		e.Close()
		t.Fatal("a pool of one context took graphs and their scratch block")
	}
	defer d.Close()
	if !strings.Contains(err.Error(), "--enforce-eager") {
		t.Fatalf("a pool of one context with graphs on: %v, want an error naming --enforce-eager", err)
	}
}

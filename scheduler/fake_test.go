package scheduler

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"spillway/batching"
	"spillway/engine/sample"
)

// fakeExec is a deterministic stand-in model: the next token of a sequence
// is a hash of its whole context, read back through the KV slots the batch
// names. A wrong block table, slot mapping, prefix hit or fork therefore
// changes the output, exactly as with a real model.
type fakeExec struct {
	V     int
	eos   int32
	kv    map[int32]int32 // slot -> token stored there
	steps int
	fail  bool
	sizes []int // tokens per step
}

func newFake(v int) *fakeExec { return &fakeExec{V: v, eos: 2, kv: map[int32]int32{}} }

func (f *fakeExec) VocabSize() int { return f.V }

func (f *fakeExec) Execute(b *batching.Batch, logits []float32) error {
	f.steps++
	f.sizes = append(f.sizes, b.NumTokens())
	if f.fail {
		return fmt.Errorf("fake device error")
	}
	for t, tok := range b.Tokens {
		f.kv[b.Slots[t]] = tok
	}
	bs := int32(b.BlockSize)
	for j, i := range b.SampleSeqs {
		ctx := b.ContextLens[i]
		table := b.BlockTables[i]
		toks := make([]int32, ctx)
		for p := int32(0); p < ctx; p++ {
			tok, ok := f.kv[table[p/bs]*bs+p%bs]
			if !ok {
				return fmt.Errorf("fake: slot of position %d never written", p)
			}
			toks[p] = tok
		}
		row := logits[j*f.V : (j+1)*f.V]
		clear(row)
		row[f.next(toks)] = 10
	}
	return nil
}

// next is the fake model: a hash of the context, never the EOS unless the
// hash lands on it.
func (f *fakeExec) next(ctx []int32) int32 {
	h := fnv.New64a()
	for _, t := range ctx {
		fmt.Fprintf(h, "%d,", t)
	}
	return int32(h.Sum64() % uint64(f.V))
}

// solo is what a request produces alone: the fake model run greedily.
func (f *fakeExec) solo(prompt []int32, maxTokens int) []int32 {
	ctx := append([]int32(nil), prompt...)
	var out []int32
	for len(out) < maxTokens {
		t := f.next(ctx)
		out = append(out, t)
		if t == f.eos {
			break
		}
		ctx = append(ctx, t)
	}
	return out
}

type fakeVocab struct{ eos int32 }

type fakeDec struct{}

func (fakeDec) Add(id int32) string { return fmt.Sprintf("<%d>", id) }
func (fakeDec) Flush() string       { return "" }

func (v fakeVocab) NewDecoder([]int32) Decoder { return fakeDec{} }
func (v fakeVocab) IsEOG(id int32) bool        { return id == v.eos }

// fakeClock advances by a fixed step each time it is read.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { c.t = c.t.Add(time.Millisecond); return c.t }

func newTestScheduler(t testing.TB, f *fakeExec, o Options) *Scheduler {
	t.Helper()
	if o.ContextLen == 0 {
		o.ContextLen = 256
	}
	if o.Blocks.NumBlocks == 0 {
		o.Blocks.NumBlocks = 256
	}
	c := &fakeClock{t: time.Unix(0, 0)}
	o.Now = c.now
	s, err := New(f, fakeVocab{eos: f.eos}, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain steps the scheduler until every stream is closed, collecting each
// request's tokens per choice and finish reasons; it fails on a stall.
type result struct {
	tokens  [][]int32
	text    []string
	finish  []FinishReason
	stats   *Stats
	events  int
	closed  bool
	choices int
}

func greedyReq(prompt []int32, maxTokens int) *Request {
	p := sample.Defaults()
	p.Temperature = 0
	return &Request{Prompt: prompt, Sampling: p, MaxTokens: maxTokens}
}

func submitAll(t testing.TB, s *Scheduler, reqs []*Request, ctxs []context.Context) []<-chan Event {
	t.Helper()
	chans := make([]<-chan Event, len(reqs))
	for i, r := range reqs {
		ctx := context.Background()
		if ctxs != nil && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		ch, err := s.Submit(ctx, r)
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		chans[i] = ch
	}
	return chans
}

// runUntilDone steps until all channels are closed (or maxSteps).
func runUntilDone(t testing.TB, s *Scheduler, chans []<-chan Event, ns []int, maxSteps int) []*result {
	t.Helper()
	res := make([]*result, len(chans))
	for i := range res {
		n := max(ns[i], 1)
		res[i] = &result{tokens: make([][]int32, n), text: make([]string, n), finish: make([]FinishReason, n), choices: n}
	}
	for step := 0; step < maxSteps; step++ {
		s.Step()
		all := true
		for i, ch := range chans {
			collect(res[i], ch)
			all = all && res[i].closed
		}
		if all {
			return res
		}
	}
	t.Fatalf("requests still open after %d steps", maxSteps)
	return nil
}

func collect(r *result, ch <-chan Event) {
	for !r.closed {
		select {
		case ev, ok := <-ch:
			if !ok {
				r.closed = true
				return
			}
			r.events++
			if ev.Token >= 0 {
				r.tokens[ev.Choice] = append(r.tokens[ev.Choice], ev.Token)
			}
			r.text[ev.Choice] += ev.Text
			if ev.Finish != FinishNone {
				r.finish[ev.Choice] = ev.Finish
			}
			if ev.Stats != nil {
				r.stats = ev.Stats
			}
		default:
			return
		}
	}
}

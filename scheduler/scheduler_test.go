package scheduler

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"spillway/batching"
	"spillway/engine/sample"
)

func randPrompt(r *rand.Rand, shared []int32, n int, v int) []int32 {
	p := append([]int32{1}, shared...)
	for len(p) < n {
		p = append(p, int32(3+r.IntN(v-3)))
	}
	return p
}

// TestEquivalence: 64 concurrent greedy requests of varied lengths, many
// sharing long prefixes, produce what each produces alone — with prefix
// caching on and off, and with a pool small enough to force preemptions.
func TestEquivalence(t *testing.T) {
	cases := []struct {
		name      string
		blocks    int
		noCaching bool
		preempts  bool
	}{
		{"caching", 1024, false, false},
		{"no caching", 1024, true, false},
		{"tight pool", 48, false, true},
		{"tight pool no caching", 48, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(500)
			s := newTestScheduler(t, f, Options{MaxNumSeqs: 32, MaxNumBatchedTokens: 128, ContextLen: 512,
				Blocks: batching.Config{NumBlocks: c.blocks, BlockSize: 16, DisablePrefixCaching: c.noCaching}})
			r := rand.New(rand.NewPCG(1, 2))
			shared := [][]int32{randPrompt(r, nil, 200, 500)[1:], randPrompt(r, nil, 90, 500)[1:]}
			var reqs []*Request
			for i := 0; i < 64; i++ {
				var pre []int32
				if i%3 != 0 {
					pre = shared[i%2]
				}
				reqs = append(reqs, greedyReq(randPrompt(r, pre, len(pre)+1+r.IntN(60), 500), 5+r.IntN(40)))
			}
			res := runUntilDone(t, s, submitAll(t, s, reqs, nil), make([]int, len(reqs)), 5000)
			for i, rq := range reqs {
				want := f.solo(rq.Prompt, rq.MaxTokens)
				if !slices.Equal(res[i].tokens[0], want) {
					t.Fatalf("request %d: got %v, want %v", i, res[i].tokens[0], want)
				}
			}
			snap := s.Snapshot()
			if c.preempts && snap.Preemptions == 0 {
				t.Error("expected preemptions with a tight pool")
			}
			if !c.noCaching && snap.PrefixCacheHits == 0 {
				t.Error("expected prefix-cache hits")
			}
			t.Logf("steps %d, preemptions %d, prefix hits %d of %d tokens", snap.Steps, snap.Preemptions,
				snap.PrefixCacheHits, snap.PrefixCacheQueries)
			checkNoBlocksHeld(t, s)
		})
	}
}

func checkNoBlocksHeld(t *testing.T, s *Scheduler) {
	t.Helper()
	st := s.bm.Stats()
	if st.Used != 0 || st.Free+st.Cached != st.NumBlocks {
		t.Errorf("blocks leaked: %+v", st)
	}
	if len(s.running) != 0 || s.waiting.len() != 0 || len(s.byID) != 0 || s.queued.Load() != 0 {
		t.Errorf("state left: running %d waiting %d byID %d queued %d", len(s.running), s.waiting.len(), len(s.byID), s.queued.Load())
	}
}

// TestPrefixCacheComputesOnlyTail: a second request sharing a 1,000-token
// prefix computes only the tokens past the last shared full block.
func TestPrefixCacheComputesOnlyTail(t *testing.T) {
	f := newFake(500)
	s := newTestScheduler(t, f, Options{MaxNumSeqs: 4, MaxNumBatchedTokens: 2048, ContextLen: 2048,
		Blocks: batching.Config{NumBlocks: 512, BlockSize: 16}})
	r := rand.New(rand.NewPCG(3, 4))
	prefix := randPrompt(r, nil, 1000, 500)
	a := append(slices.Clone(prefix), 7, 8, 9)
	b := append(slices.Clone(prefix), 10, 11, 12, 13)
	runUntilDone(t, s, submitAll(t, s, []*Request{greedyReq(a, 1)}, nil), []int{1}, 100)
	before := s.Snapshot()
	f.sizes = nil
	res := runUntilDone(t, s, submitAll(t, s, []*Request{greedyReq(b, 1)}, nil), []int{1}, 100)
	after := s.Snapshot()
	hit := after.PrefixCacheHits - before.PrefixCacheHits
	if want := int64(1000 / 16 * 16); hit != want {
		t.Errorf("prefix hits %d tokens, want %d", hit, want)
	}
	if computed := f.sizes[0]; computed != len(b)-1000/16*16 {
		t.Errorf("second request computed %d tokens, want %d", computed, len(b)-1000/16*16)
	}
	if res[0].stats.CachedTokens != 992 {
		t.Errorf("stats cached %d", res[0].stats.CachedTokens)
	}
}

// TestNChoicesShareThePrompt: n > 1 choices fork from one prefill and each
// finishes.
func TestNChoicesShareThePrompt(t *testing.T) {
	f := newFake(500)
	s := newTestScheduler(t, f, Options{MaxNumSeqs: 8, MaxNumBatchedTokens: 256, ContextLen: 512})
	p := sample.Defaults()
	seed := uint64(9)
	p.Seed = &seed
	prompt := randPrompt(rand.New(rand.NewPCG(5, 6)), nil, 100, 500)
	req := &Request{Prompt: prompt, Sampling: p, MaxTokens: 8, N: 4}
	res := runUntilDone(t, s, submitAll(t, s, []*Request{req}, nil), []int{4}, 200)
	for c := 0; c < 4; c++ {
		if res[0].finish[c] == FinishNone || len(res[0].tokens[c]) == 0 {
			t.Errorf("choice %d: finish %q, %d tokens", c, res[0].finish[c], len(res[0].tokens[c]))
		}
	}
	if f.sizes[0] != 100 {
		t.Errorf("first step computed %d tokens, want the prompt once (100)", f.sizes[0])
	}
	if res[0].stats.CompletionTokens != len(res[0].tokens[0])+len(res[0].tokens[1])+len(res[0].tokens[2])+len(res[0].tokens[3]) {
		t.Errorf("completion tokens %d do not add up", res[0].stats.CompletionTokens)
	}
	checkNoBlocksHeld(t, s)
}

// TestStopConditions: stop strings cut the text before the match, stop
// tokens and max_tokens end choices with the right reason.
func TestStopConditions(t *testing.T) {
	f := newFake(500)
	prompt := []int32{1, 50, 60, 70}
	want := f.solo(prompt, 20)
	third := "<" + itoa(want[2]) + ">"
	cases := []struct {
		name   string
		edit   func(*Request)
		finish FinishReason
		text   string
		ntok   int
	}{
		{"max tokens", func(r *Request) {}, FinishLength, "", 20},
		{"stop token", func(r *Request) { r.StopTokens = []int32{want[3]} }, FinishStop, "", 4},
		{"stop string", func(r *Request) { r.StopStrings = []string{third} }, FinishStop,
			"<" + itoa(want[0]) + "><" + itoa(want[1]) + ">", 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newTestScheduler(t, f, Options{MaxNumSeqs: 4, MaxNumBatchedTokens: 64})
			r := greedyReq(prompt, 20)
			c.edit(r)
			res := runUntilDone(t, s, submitAll(t, s, []*Request{r}, nil), []int{1}, 100)
			if res[0].finish[0] != c.finish || len(res[0].tokens[0]) != c.ntok {
				t.Errorf("finish %q after %d tokens, want %q after %d", res[0].finish[0], len(res[0].tokens[0]), c.finish, c.ntok)
			}
			if c.text != "" && res[0].text[0] != c.text {
				t.Errorf("text %q, want %q", res[0].text[0], c.text)
			}
		})
	}
}

func itoa(v int32) string { return strconv.Itoa(int(v)) }

// TestCancelFreesBlocks: a cancelled request ends with "abort" and its
// blocks come back at the next step.
func TestCancelFreesBlocks(t *testing.T) {
	f := newFake(500)
	s := newTestScheduler(t, f, Options{MaxNumSeqs: 4, MaxNumBatchedTokens: 64})
	ctx, cancel := context.WithCancel(context.Background())
	chans := submitAll(t, s, []*Request{greedyReq(randPrompt(rand.New(rand.NewPCG(1, 1)), nil, 40, 500), 100)}, []context.Context{ctx})
	s.Step()
	s.Step()
	if s.bm.Stats().Used == 0 {
		t.Fatal("running request holds no blocks")
	}
	cancel()
	res := runUntilDone(t, s, chans, []int{1}, 5)
	if res[0].finish[0] != FinishAbort {
		t.Errorf("finish %q, want abort", res[0].finish[0])
	}
	checkNoBlocksHeld(t, s)
}

// TestPriorities: with one sequence slot, lower priority values run first.
func TestPriorities(t *testing.T) {
	f := newFake(500)
	s := newTestScheduler(t, f, Options{MaxNumSeqs: 1, MaxNumBatchedTokens: 64})
	var reqs []*Request
	for i, pr := range []int{5, 0, 9, 0} {
		r := greedyReq([]int32{1, int32(10 + i)}, 3)
		r.Priority = pr
		reqs = append(reqs, r)
	}
	chans := submitAll(t, s, reqs, nil)
	var order []int
	res := make([]*result, 4)
	for i := range res {
		res[i] = &result{tokens: make([][]int32, 1), text: make([]string, 1), finish: make([]FinishReason, 1)}
	}
	for step := 0; step < 100 && len(order) < 4; step++ {
		s.Step()
		for i, ch := range chans {
			was := res[i].closed
			collect(res[i], ch)
			if !was && res[i].closed {
				order = append(order, i)
			}
		}
	}
	if !slices.Equal(order, []int{1, 3, 0, 2}) {
		t.Errorf("completion order %v, want [1 3 0 2]", order)
	}
}

// TestSubmitErrors: bad requests are refused up front with clear errors.
func TestSubmitErrors(t *testing.T) {
	f := newFake(500)
	s := newTestScheduler(t, f, Options{MaxNumSeqs: 4, MaxNumBatchedTokens: 64, ContextLen: 100, MaxQueue: 2})
	var tl *TooLongError
	if _, err := s.Submit(context.Background(), greedyReq(make([]int32, 90), 20)); !errors.As(err, &tl) || tl.ContextLen != 100 {
		t.Errorf("too long: %v", err)
	}
	if _, err := s.Submit(context.Background(), greedyReq(nil, 5)); err == nil {
		t.Error("empty prompt accepted")
	}
	if _, err := s.Submit(context.Background(), greedyReq([]int32{1, 999}, 5)); err == nil {
		t.Error("out-of-vocabulary token accepted")
	}
	for i := 0; i < 2; i++ {
		if _, err := s.Submit(context.Background(), greedyReq([]int32{1}, 5)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Submit(context.Background(), greedyReq([]int32{1}, 5)); !errors.Is(err, ErrSaturated) {
		t.Errorf("queue over limit: %v", err)
	}
}

// TestExecutorFailure: a failing step ends its requests with an error and
// the scheduler keeps serving.
func TestExecutorFailure(t *testing.T) {
	f := newFake(500)
	s := newTestScheduler(t, f, Options{MaxNumSeqs: 4, MaxNumBatchedTokens: 64})
	f.fail = true
	res := runUntilDone(t, s, submitAll(t, s, []*Request{greedyReq([]int32{1, 5, 6}, 4)}, nil), []int{1}, 5)
	if res[0].finish[0] != FinishError {
		t.Fatalf("finish %q, want error", res[0].finish[0])
	}
	f.fail = false
	res = runUntilDone(t, s, submitAll(t, s, []*Request{greedyReq([]int32{1, 5, 6}, 4)}, nil), []int{1}, 50)
	if res[0].finish[0] != FinishLength {
		t.Fatalf("after recovery: finish %q", res[0].finish[0])
	}
	checkNoBlocksHeld(t, s)
}

package scheduler

import (
	"context"
	"math/rand/v2"
	"testing"

	"spillway/batching"
)

// TestChurn runs tens of thousands of random submit/cancel/step operations
// over a small pool and checks after every step that the blocks held are
// exactly those the running sequences' tables name, and at the end that
// every request ended and every block came back.
func TestChurn(t *testing.T) {
	ops := 20000
	if testing.Short() {
		ops = 3000
	}
	f := newFake(300)
	s := newTestScheduler(t, f, Options{MaxNumSeqs: 16, MaxNumBatchedTokens: 96, ContextLen: 160, MaxQueue: 64,
		Blocks: batching.Config{NumBlocks: 40, BlockSize: 8}})
	r := rand.New(rand.NewPCG(11, 12))
	type live struct {
		ch     <-chan Event
		cancel context.CancelFunc
		res    *result
	}
	var reqs []*live
	shared := randPrompt(r, nil, 64, 300)[1:]
	for op := 0; op < ops; op++ {
		switch x := r.IntN(10); {
		case x < 3:
			pre := shared[:r.IntN(len(shared))]
			req := greedyReq(randPrompt(r, pre, len(pre)+1+r.IntN(40), 300), 1+r.IntN(30))
			req.N = 1 + r.IntN(3)
			req.Priority = r.IntN(3)
			if r.IntN(4) == 0 {
				req.StopStrings = []string{"<1"}
			}
			ctx, cancel := context.WithCancel(context.Background())
			ch, err := s.Submit(ctx, req)
			if err != nil {
				cancel()
				continue // saturated: fine
			}
			reqs = append(reqs, &live{ch, cancel, &result{tokens: make([][]int32, req.N), text: make([]string, req.N),
				finish: make([]FinishReason, req.N), choices: req.N}})
		case x < 4 && len(reqs) > 0:
			reqs[r.IntN(len(reqs))].cancel()
		default:
			s.Step()
			checkTables(t, s)
		}
		for _, l := range reqs {
			collect(l.res, l.ch)
		}
	}
	for _, l := range reqs {
		l.cancel()
	}
	for i := 0; i < 10; i++ {
		s.Step()
	}
	for i, l := range reqs {
		collect(l.res, l.ch)
		if !l.res.closed {
			t.Fatalf("request %d never closed", i)
		}
		for c, fin := range l.res.finish {
			if fin == FinishNone {
				t.Fatalf("request %d choice %d has no finish event", i, c)
			}
		}
	}
	checkNoBlocksHeld(t, s)
	t.Logf("%d requests, %d steps, %d preemptions", len(reqs), s.Snapshot().Steps, s.Snapshot().Preemptions)
}

// checkTables: the manager's used count equals the distinct blocks that
// running sequences name, and no block appears twice in one table.
func checkTables(t *testing.T, s *Scheduler) {
	t.Helper()
	held := map[int32]bool{}
	for _, st := range s.running {
		seen := map[int32]bool{}
		for _, b := range st.seq.BlockTable {
			if seen[b] {
				t.Fatalf("sequence %d names block %d twice", st.seq.ID, b)
			}
			seen[b] = true
			held[b] = true
		}
	}
	for _, st := range s.waiting.items {
		if len(st.seq.BlockTable) != 0 {
			t.Fatalf("waiting sequence %d holds %d blocks", st.seq.ID, len(st.seq.BlockTable))
		}
	}
	if used := s.bm.Stats().Used; used != len(held) {
		t.Fatalf("manager counts %d used blocks, running tables name %d", used, len(held))
	}
}

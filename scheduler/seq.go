package scheduler

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"spillway/batching"
	"spillway/engine/sample"
)

type seqStatus uint8

const (
	stWaiting seqStatus = iota
	stRunning
	stDone
)

// seqState is one choice of a request: its sequence, sampler and decoder.
type seqState struct {
	seq      *batching.Sequence
	req      *request
	choice   int
	state    seqStatus
	sampler  *sample.Sampler
	dec      Decoder
	held     string // decoded text held back while it may start a stop string
	stopHit  bool   // a stop string ended the choice: the text after it is dropped
	admitted uint64 // admission order, for preemption
}

// request is one submitted Request and its choices.
type request struct {
	r        *Request
	ctx      context.Context
	out      chan Event
	arrival  uint64 // submission order
	seqs     []*seqState
	live     int // choices not finished
	forked   bool
	arrived  time.Time
	started  time.Time // first admitted
	firstTok time.Time
	cached   int
	gen      int
}

// sampleAll samples the next token of every sequence whose logits the
// step produced, and handles what follows: n > 1 forks, stop conditions,
// streaming.
func (s *Scheduler) sampleAll(logits []float32) {
	V := s.exec.VocabSize()
	b := s.batch
	for j, si := range b.SampleSeqs {
		st := s.byID[b.SeqIDs[si]]
		if st == nil || st.state != stRunning {
			continue
		}
		row := logits[j*V : (j+1)*V]
		if !st.req.forked && st.req.r.N > 1 {
			s.forkChoices(st, row)
		}
		s.accept(st, st.sampler.Sample(row))
	}
	s.compactRunning()
}

// forkChoices starts choices 1..n-1 from the first choice's prompt logits:
// each samples its own first token from the same row and shares the
// prompt's full KV blocks through Fork; without free blocks or sequence
// slots a choice waits and recomputes its prompt instead.
func (s *Scheduler) forkChoices(parent *seqState, row []float32) {
	rq := parent.req
	rq.forked = true
	for c := 1; c < rq.r.N; c++ {
		child := s.newSeq(rq, c, rq.r.Prompt, parent.seq.Salt)
		res := child.sampler.Sample(row)
		if s.stops(child, res) {
			continue
		}
		child.seq.AppendToken(res.Token)
		if len(s.running) < s.o.MaxNumSeqs && s.bm.CanFork(parent.seq, child.seq) {
			if err := s.bm.Fork(parent.seq, child.seq); err == nil {
				s.markRunning(child)
				continue
			}
		}
		s.waiting.push(child)
	}
}

// accept appends a sampled token to a sequence unless it ends it.
func (s *Scheduler) accept(st *seqState, res sample.Result) {
	if s.stops(st, res) {
		return
	}
	st.seq.AppendToken(res.Token)
	if st.seq.NumGenerated() >= st.req.r.MaxTokens || st.seq.Len() >= s.o.ContextLen {
		s.finish(st, FinishLength, nil)
	}
}

// stops emits the token and reports whether the choice ended with it:
// end of generation, a stop token, or a stop string in the text.
func (s *Scheduler) stops(st *seqState, res sample.Result) bool {
	rq := st.req
	if rq.firstTok.IsZero() {
		rq.firstTok = s.o.Now()
	}
	rq.gen++
	s.ctr.generated++
	ev := Event{Choice: st.choice, Token: res.Token}
	if rq.r.Sampling.WantLogprobs {
		r := res
		ev.Logprob = &r
	}
	if (!rq.r.IgnoreEOS && s.vocab.IsEOG(res.Token)) || containsID(rq.r.StopTokens, res.Token) {
		s.emit(st, ev)
		s.finish(st, FinishStop, nil)
		return true
	}
	text, hit := s.scanStops(st, st.dec.Add(res.Token))
	ev.Text = text
	s.emit(st, ev)
	if hit {
		st.stopHit = true
		s.finish(st, FinishStop, nil)
		return true
	}
	return false
}

// scanStops adds a text delta to what the choice holds back and returns
// what can be released: everything before a stop string (hit), or all but
// the longest tail that could still begin one.
func (s *Scheduler) scanStops(st *seqState, delta string) (string, bool) {
	stops := st.req.r.StopStrings
	if len(stops) == 0 {
		return delta, false
	}
	st.held += delta
	cut, hit := -1, false
	for _, p := range stops {
		if i := strings.Index(st.held, p); i >= 0 && (cut < 0 || i < cut) {
			cut, hit = i, true
		}
	}
	if hit {
		out := st.held[:cut]
		st.held = ""
		return out, true
	}
	keep := 0
	for _, p := range stops {
		for k := min(len(p)-1, len(st.held)); k > keep; k-- {
			if strings.HasSuffix(st.held, p[:k]) {
				keep = k
				break
			}
		}
	}
	n := len(st.held) - keep
	for n > 0 && n < len(st.held) && !utf8.RuneStart(st.held[n]) {
		n--
	}
	out := st.held[:n]
	st.held = st.held[n:]
	return out, false
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// emit sends an event; the channel is sized so this never blocks.
func (s *Scheduler) emit(st *seqState, ev Event) { st.req.out <- ev }

// finish ends a choice: frees its blocks, flushes held text and sends the
// finish event. A first choice that ends before its siblings forked ends
// them too, with the same reason.
func (s *Scheduler) finish(st *seqState, why FinishReason, err error) {
	if st.state == stDone {
		return
	}
	if st.state == stRunning {
		s.bm.Free(st.seq)
		delete(s.byID, st.seq.ID)
	}
	st.state = stDone
	rq := st.req
	ev := Event{Choice: st.choice, Token: -1, Finish: why, Err: err}
	if (why == FinishLength || why == FinishStop) && !st.stopHit {
		ev.Text = st.held + st.dec.Flush()
	}
	st.held = ""
	s.endChoice(rq, ev)
	if !rq.forked && st.choice == 0 {
		for c := 1; c < max(rq.r.N, 1); c++ {
			s.endChoice(rq, Event{Choice: c, Token: -1, Finish: why, Err: err})
		}
	}
}

// endChoice sends a choice's finish event; the request's last one carries
// Stats and closes the stream.
func (s *Scheduler) endChoice(rq *request, ev Event) {
	rq.live--
	last := rq.live == 0
	if last {
		ev.Stats = s.stats(rq)
	}
	rq.out <- ev
	if last {
		close(rq.out)
		s.queued.Add(-1)
	}
}

func (s *Scheduler) stats(rq *request) *Stats {
	now := s.o.Now()
	st := &Stats{PromptTokens: len(rq.r.Prompt), CompletionTokens: rq.gen, CachedTokens: rq.cached, E2E: now.Sub(rq.arrived)}
	if !rq.started.IsZero() {
		st.QueueTime = rq.started.Sub(rq.arrived)
	}
	if !rq.firstTok.IsZero() {
		st.TTFT = rq.firstTok.Sub(rq.arrived)
	}
	return st
}

package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"spillway/batching"
	"spillway/engine/sample"
)

// Scheduler runs continuous batching over one engine. Submit may be called
// from any goroutine; everything else happens on the goroutine of Run,
// which owns the executor, the block manager and every sequence.
type Scheduler struct {
	exec  Executor
	vocab Vocab
	o     Options
	bm    *batching.BlockManager

	in      chan *request
	queued  atomic.Int64 // submitted requests not yet finished
	closed  atomic.Bool
	wake    chan struct{}
	snap    atomic.Pointer[Snapshot]
	stopped chan struct{}
	runOnce sync.Once

	// Owned by Run's goroutine.
	waiting waitQueue
	running []*seqState
	byID    map[uint64]*seqState
	nextSeq uint64
	nextArr uint64
	nextAdm uint64
	batch   *batching.Batch
	logits  []float32
	ctr     counters
}

// New builds a scheduler over exec. Call Run to start it.
func New(exec Executor, vocab Vocab, o Options) (*Scheduler, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	bm, err := batching.NewBlockManager(o.Blocks)
	if err != nil {
		return nil, err
	}
	if need := (o.ContextLen + bm.BlockSize() - 1) / bm.BlockSize(); bm.NumBlocks() < need {
		return nil, fmt.Errorf("scheduler: %d KV blocks of %d tokens cannot hold one %d-token context; give the KV cache more memory",
			bm.NumBlocks(), bm.BlockSize(), o.ContextLen)
	}
	s := &Scheduler{
		exec: exec, vocab: vocab, o: o, bm: bm,
		in:      make(chan *request, o.MaxQueue),
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		byID:    map[uint64]*seqState{},
		batch:   batching.NewBatch(bm.BlockSize()),
	}
	s.publish()
	return s, nil
}

// Submit queues a request and returns its event stream: one or more
// events per choice, the last of the request carrying Stats, then the
// channel is closed. Cancelling ctx aborts the request at the next step
// and frees its KV blocks.
func (s *Scheduler) Submit(ctx context.Context, r *Request) (<-chan Event, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if err := s.validate(r); err != nil {
		return nil, err
	}
	if s.queued.Add(1) > int64(s.o.MaxQueue) {
		s.queued.Add(-1)
		return nil, ErrSaturated
	}
	n := max(r.N, 1)
	rq := &request{r: r, ctx: ctx, out: make(chan Event, n*(r.MaxTokens+2)+1), live: n, arrived: r.Arrival}
	if rq.arrived.IsZero() {
		rq.arrived = s.o.Now()
	}
	select {
	case s.in <- rq:
	default:
		s.queued.Add(-1)
		return nil, ErrSaturated
	}
	s.poke()
	return rq.out, nil
}

func (s *Scheduler) validate(r *Request) error {
	switch {
	case len(r.Prompt) == 0:
		return errors.New("scheduler: empty prompt")
	case r.MaxTokens <= 0:
		return fmt.Errorf("scheduler: max_tokens %d must be positive", r.MaxTokens)
	case r.N > s.o.MaxNumSeqs:
		return fmt.Errorf("scheduler: n = %d exceeds --max-num-seqs %d", r.N, s.o.MaxNumSeqs)
	case len(r.Prompt)+r.MaxTokens > s.o.ContextLen:
		return &TooLongError{PromptTokens: len(r.Prompt), MaxTokens: r.MaxTokens, ContextLen: s.o.ContextLen}
	}
	for _, id := range r.Prompt {
		if id < 0 || int(id) >= s.exec.VocabSize() {
			return fmt.Errorf("scheduler: prompt token %d outside the vocabulary of %d", id, s.exec.VocabSize())
		}
	}
	return r.Sampling.Validate(s.exec.VocabSize())
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Snapshot returns the state published after the latest step.
func (s *Scheduler) Snapshot() Snapshot { return *s.snap.Load() }

// Run steps until ctx is cancelled, then aborts every request and returns.
// It returns an error if the executor fails; requests in that step end
// with FinishError and the scheduler keeps serving the others.
func (s *Scheduler) Run(ctx context.Context) error {
	defer close(s.stopped)
	for {
		s.admitSubmissions()
		if s.idle() {
			select {
			case <-ctx.Done():
				s.shutdown()
				return nil
			case <-s.wake:
			case rq := <-s.in:
				s.enqueue(rq)
			}
			continue
		}
		if ctx.Err() != nil {
			s.shutdown()
			return nil
		}
		s.Step()
	}
}

// Close stops accepting requests; Run's context ends the loop.
func (s *Scheduler) Close() { s.closed.Store(true) }

func (s *Scheduler) idle() bool { return len(s.running) == 0 && s.waiting.len() == 0 }

func (s *Scheduler) admitSubmissions() {
	for {
		select {
		case rq := <-s.in:
			s.enqueue(rq)
		default:
			return
		}
	}
}

// enqueue makes the request's first choice a waiting sequence; the other
// choices fork from it once its prompt is computed.
func (s *Scheduler) enqueue(rq *request) {
	rq.arrival = s.nextArr
	s.nextArr++
	salt := batching.TenantSalt(rq.r.Tenant)
	st := s.newSeq(rq, 0, rq.r.Prompt, salt)
	s.waiting.push(st)
}

func (s *Scheduler) newSeq(rq *request, choice int, tokens []int32, salt uint64) *seqState {
	s.nextSeq++
	p := rq.r.Sampling.ForChoice(choice) // seeded choices must still differ
	st := &seqState{
		seq:     batching.NewSequence(s.nextSeq, tokens, salt, nil),
		req:     rq,
		choice:  choice,
		sampler: sample.New(p, rq.r.Prompt),
		dec:     s.vocab.NewDecoder(rq.r.Prompt),
	}
	st.seq.NumPrompt = len(rq.r.Prompt)
	rq.seqs = append(rq.seqs, st)
	return st
}

// shutdown aborts everything still queued or running.
func (s *Scheduler) shutdown() {
	s.closed.Store(true)
	s.admitSubmissions()
	for _, st := range append(append([]*seqState(nil), s.running...), s.waiting.items...) {
		s.finish(st, FinishAbort, nil)
	}
	s.running, s.waiting.items = nil, nil
	s.publish()
}

// Done is closed when Run has returned.
func (s *Scheduler) Done() <-chan struct{} { return s.stopped }

// waitTime is how long a request has been in the system.
func (s *Scheduler) since(t time.Time) time.Duration { return s.o.Now().Sub(t) }

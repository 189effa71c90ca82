package federation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Complete executes a non-streamed request along the decision. It
// returns ErrServeLocally (test with errors.Is) when the local engine
// is to serve it, and the request's accounting Record in every case.
func (s *Spiller) Complete(ctx context.Context, call Call) (*ChatResponse, Record, error) {
	rec := s.newRecord(call, false)
	if err := s.precheck(call); err != nil {
		rec.Outcome = outcomeOf(err) // not a spill: not accounted
		return nil, rec, err
	}
	key, cacheable := s.cacheLookupKey(call)
	if cacheable {
		if r, ok := s.cache.get(key); ok {
			s.m.cacheHits.Inc()
			rec.Provider, rec.Outcome = "cache", OutcomeCached
			return r, s.finish(&rec, r.Usage, nil), nil
		}
		s.m.cacheMisses.Inc()
	}
	start := time.Now()
	var resp *ChatResponse
	err := s.run(ctx, call, &rec, func(ctx context.Context, ps *provState) error {
		r, err := ps.p.Chat(ctx, call.Req)
		resp = r
		return err
	})
	rec.LatencySeconds = time.Since(start).Seconds()
	rec.TTFTSeconds = rec.LatencySeconds // the first token reaches the client with the last
	if err != nil {
		return nil, s.finish(&rec, nil, err), err
	}
	usage := resp.Usage
	if usage == nil {
		usage = estimateUsage(&rec, call.Req, (len(responseText(resp))+3)/4)
	}
	if cacheable {
		s.cache.put(key, resp)
	}
	return resp, s.finish(&rec, usage, nil), nil
}

// Stream executes a streamed request along the decision, passing chunks
// to emit. Until the first chunk reaches emit, failures are retried and
// failed over; after it, a failure ends the stream with an explicit
// error chunk (ErrorChunk) and a *StreamError, and nothing is re-sent.
// An error from emit means the client is gone: the upstream request is
// cancelled and Stream returns an error wrapping ErrClientGone.
func (s *Spiller) Stream(ctx context.Context, call Call, emit func(*ChatChunk) error) (Record, error) {
	rec := s.newRecord(call, true)
	if err := s.precheck(call); err != nil {
		rec.Outcome = outcomeOf(err) // not a spill: not accounted
		return rec, err
	}
	key, cacheable := s.cacheLookupKey(call)
	if cacheable {
		if r, ok := s.cache.get(key); ok {
			s.m.cacheHits.Inc()
			rec.Provider, rec.Outcome = "cache", OutcomeCached
			for _, ch := range replayChunks(r, call.Req.WantsUsage()) {
				if err := emit(ch); err != nil {
					err = fmt.Errorf("%w: %v", ErrClientGone, err)
					return s.finish(&rec, r.Usage, err), err
				}
			}
			return s.finish(&rec, r.Usage, nil), nil
		}
		s.m.cacheMisses.Inc()
	}
	st := &streamState{start: time.Now(), emit: emit, wantUsage: call.Req.WantsUsage()}
	if cacheable {
		st.asm = newAssembler(s.cfg.Cache.MaxEntryBytes)
	}
	err := s.run(ctx, call, &rec, func(ctx context.Context, ps *provState) error {
		st.reset()
		return st.once(ctx, ps, call.Req)
	})
	rec.LatencySeconds = time.Since(st.start).Seconds()
	rec.TTFTSeconds = st.ttft.Seconds()
	usage := st.usage
	if usage == nil && rec.Attempts > 0 && (err == nil || st.delivered > 0) {
		usage = estimateUsage(&rec, call.Req, st.tokens) // a chunk is about a token
	}
	if err == nil && cacheable {
		if r := st.asm.response(); r != nil {
			s.cache.put(key, r)
		}
	}
	return s.finish(&rec, usage, err), err
}

// streamState follows one streamed request across its attempts.
type streamState struct {
	start     time.Time
	emit      func(*ChatChunk) error
	wantUsage bool
	asm       *assembler

	delivered int // chunks that reached the client: > 0 means no more retries
	ttft      time.Duration
	usage     *Usage
	tokens    int // content chunks seen, the estimate when usage is missing
}

// maxPreamble bounds the token-less chunks held back before the first
// token; more than a few means a misbehaving upstream.
const maxPreamble = 64

func (st *streamState) reset() {
	st.usage, st.tokens = nil, 0
	if st.asm != nil {
		st.asm = newAssembler(st.asm.limit)
	}
}

// once runs one attempt. Token-less preamble chunks (the role chunk)
// are held back until the first token so that an upstream that accepts
// the request and then stalls can still be retried: the client has not
// seen a byte yet.
func (st *streamState) once(parent context.Context, ps *provState, req *ChatRequest) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	str, err := ps.p.ChatStream(ctx, req)
	if err != nil {
		return err
	}
	defer str.Close()
	var held []*ChatChunk
	for {
		ch, err := str.Recv()
		if err == io.EOF {
			if st.delivered == 0 {
				return st.send(held...)
			}
			return nil
		}
		if err != nil {
			if st.delivered == 0 || parent.Err() != nil { // not started, or the caller left
				return err
			}
			_ = st.emit(ErrorChunk(err)) // the client may be gone too; nothing more to do
			return &StreamError{Provider: ps.cfg.Name, Delivered: st.delivered, Err: err}
		}
		st.observe(ch)
		if st.delivered == 0 && !ch.hasToken() {
			if len(held) >= maxPreamble {
				return &UpstreamError{Provider: ps.cfg.Name, Err: fmt.Errorf("%w: %d chunks without a token", ErrMalformed, len(held))}
			}
			held = append(held, ch)
			continue
		}
		if st.delivered == 0 {
			st.ttft = time.Since(st.start)
			if err := st.send(held...); err != nil {
				return err
			}
		}
		if err := st.send(ch); err != nil {
			return err
		}
	}
}

func (st *streamState) observe(ch *ChatChunk) {
	if ch.Usage != nil {
		st.usage = ch.Usage
	}
	if ch.hasToken() {
		st.tokens++
	}
	if st.asm != nil {
		st.asm.add(ch)
	}
}

// send passes chunks to the client, dropping the usage-only chunk the
// client did not ask for (it was requested upstream for accounting).
func (st *streamState) send(chs ...*ChatChunk) error {
	for _, ch := range chs {
		if len(ch.Choices) == 0 && ch.Usage != nil && !st.wantUsage {
			continue
		}
		if err := st.emit(ch); err != nil {
			return fmt.Errorf("%w: %v", ErrClientGone, err)
		}
		st.delivered++
	}
	return nil
}

// precheck refuses calls that must not reach a provider.
func (s *Spiller) precheck(call Call) error {
	switch {
	case call.Req == nil:
		return errors.New("federation: call without a request")
	case len(call.Decision.Targets) == 0:
		return fmt.Errorf("%w: empty decision", ErrNoTarget)
	case call.Decision.Local():
		return ErrServeLocally
	}
	return nil
}

func (s *Spiller) cacheLookupKey(call Call) (cacheKeyT, bool) {
	if s.cache == nil {
		return cacheKeyT{}, false
	}
	return cacheKey(call.Tenant, call.Req)
}

func (s *Spiller) newRecord(call Call, stream bool) Record {
	r := Record{Time: s.clock.Now(), Tenant: call.Tenant, Stream: stream}
	if call.Req != nil {
		r.Model = call.Req.Model
	}
	return r
}

// estimateUsage stands in for upstreams that report no usage (or a
// stream that broke before its usage chunk): the provider still bills.
func estimateUsage(rec *Record, req *ChatRequest, completion int) *Usage {
	rec.Estimated = true
	p, _ := estimateTokens(req)
	return &Usage{PromptTokens: p, CompletionTokens: completion, TotalTokens: p + completion}
}

func responseText(r *ChatResponse) string {
	n := 0
	for _, c := range r.Choices {
		n += len(c.Message.Content)
	}
	b := make([]byte, 0, n)
	for _, c := range r.Choices {
		b = append(b, c.Message.Content...)
	}
	return string(b)
}

// finish completes the record: outcome, tokens, cost (charged to the
// tenant's budget), metrics and aggregates.
func (s *Spiller) finish(rec *Record, u *Usage, err error) Record {
	if rec.Outcome == "" {
		rec.Outcome = outcomeOf(err)
	}
	if err != nil {
		rec.Error = err.Error()
	}
	if u != nil && rec.Outcome != OutcomeCached {
		rec.PromptTokens, rec.CompletionTokens = u.PromptTokens, u.CompletionTokens
		if ps := s.provs[rec.Provider]; ps != nil {
			rec.CostUSD = ps.cfg.cost(u.PromptTokens, u.CompletionTokens)
			s.ledger.charge(rec.Tenant, rec.CostUSD)
		}
	}
	s.acct.add(*rec)
	s.m.record(rec)
	return *rec
}

func outcomeOf(err error) string {
	var se *StreamError
	switch {
	case err == nil:
		return OutcomeOK
	case errors.As(err, &se):
		return OutcomeBroken
	case errors.Is(err, ErrServeLocally):
		return OutcomeLocal
	case errors.Is(err, ErrClientGone), errors.Is(err, context.Canceled):
		return OutcomeCanceled
	case errors.Is(err, ErrBudgetExceeded):
		return OutcomeBudget
	}
	return OutcomeError
}

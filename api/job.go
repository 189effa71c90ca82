package api

import (
	"context"
	"sync"

	"github.com/valyala/fasthttp"

	"spillway/scheduler"
)

type jobKind int

const (
	kindChat jobKind = iota
	kindCompletion
)

// job is one validated API request: one scheduler request per prompt (a
// chat has one; a batched completion may have several), n choices each.
type job struct {
	kind        jobKind
	id          string // chatcmpl-… or cmpl-…
	created     int64
	fingerprint string
	model       *Model
	tenant      *tenantState
	reqs        []*scheduler.Request
	n           int
	stream      bool
	usage       bool // stream_options.include_usage
	logprobs    bool
	route       string // "local" when a federation routes the model: responses say so; "" otherwise
}

// choices is the number of choices across all prompts.
func (j *job) choices() int { return len(j.reqs) * j.n }

func (j *job) promptTokens() int {
	n := 0
	for _, r := range j.reqs {
		n += len(r.Prompt)
	}
	return n
}

// jobEvent is a scheduler event with its choice index across prompts
// (prompt p, choice c → p·n + c, OpenAI's numbering for batched prompts).
type jobEvent struct {
	index int
	ev    scheduler.Event
}

// run submits j and answers it, as a stream or as one JSON document.
func (s *Server) run(rc *fasthttp.RequestCtx, j *job) error {
	if s.draining.Load() {
		return unavailable("the server is shutting down", "shutting_down")
	}
	if err := j.tenant.admitTokens(j.promptTokens()); err != nil {
		return err
	}

	ctx, cancel := s.requestContext()
	evs, err := s.start(ctx, j)
	if err != nil {
		cancel()
		j.tenant.refundTokens(j.promptTokens())
		return err
	}
	if j.stream {
		s.startStream(rc, ctx, cancel, j, evs)
		return nil
	}
	defer cancel()
	p := startProbe(rc.Conn(), cancel)
	body, err := s.collect(ctx, j, evs)
	if p.stop() {
		rc.SetConnectionClose()
	}
	if err != nil {
		return err
	}
	if j.route != "" {
		body = withRoute(body, j.route)
	}
	s.writeJSON(rc, body)
	return nil
}

// requestContext is the context a generation runs under: cancelled by
// the hard end of a shutdown, by the request timeout, by the client
// leaving (the probe) or when the handler is done.
func (s *Server) requestContext() (context.Context, context.CancelFunc) {
	if s.cfg.RequestTimeout > 0 {
		return context.WithTimeout(s.base, s.cfg.RequestTimeout)
	}
	return context.WithCancel(s.base)
}

// start submits every request of j and merges their events; the merged
// channel is closed after the last request's last event. On a Submit
// error the requests already admitted are left to the caller's cancel.
func (s *Server) start(ctx context.Context, j *job) (<-chan jobEvent, error) {
	out := make(chan jobEvent, 16)
	var wg sync.WaitGroup
	s.inflight.Add(1)
	defer func() {
		go func() {
			wg.Wait()
			close(out)
			s.inflight.Add(-1)
		}()
	}()
	for p, r := range j.reqs {
		evs, err := j.model.Gen.Submit(ctx, r)
		if err != nil {
			go drain(out)
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.forward(j, p, evs, out)
		}()
	}
	return out, nil
}

// forward copies one request's events to out, queueing them so that the
// generator is never held up by a slow client: the queue is bounded by
// the request's max_tokens × n events, and WriteTimeout bounds how long a
// client that reads nothing keeps it.
func (s *Server) forward(j *job, p int, in <-chan scheduler.Event, out chan<- jobEvent) {
	obs := s.metrics.observe(j.model.Name, j.n)
	var queue []jobEvent
	for in != nil || len(queue) > 0 {
		var send chan<- jobEvent
		var head jobEvent
		if len(queue) > 0 {
			send, head = out, queue[0]
		}
		select {
		case ev, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if ev.Choice < 0 || ev.Choice >= j.n {
				s.log.Error("generator sent an event for a choice out of range", "model", j.model.Name, "choice", ev.Choice, "n", j.n)
				continue
			}
			obs.event(&ev)
			queue = append(queue, jobEvent{index: p*j.n + ev.Choice, ev: ev})
		case send <- head:
			queue[0] = jobEvent{}
			queue = queue[1:]
		}
	}
}

// drain empties a merged channel whose reader gave up, so the forwarders
// can finish once the generator has seen the cancellation.
func drain(ch <-chan jobEvent) {
	for range ch {
	}
}

package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"spillway/scheduler"
)

// startStream answers j as server-sent events, exactly as OpenAI sends
// them: "data: {json}\n\n" per chunk and "data: [DONE]\n\n" at the end.
// fasthttp runs the writer in its own goroutine and copies what it writes
// through a pipe to the connection; when the client is gone the pipe
// breaks and the writer's next flush fails.
func (s *Server) startStream(rc *fasthttp.RequestCtx, ctx context.Context, cancel context.CancelFunc, j *job, evs <-chan jobEvent) {
	rc.SetContentType("text/event-stream; charset=utf-8")
	rc.Response.Header.Set("Cache-Control", "no-cache")
	rc.Response.Header.Set("X-Accel-Buffering", "no") // proxies must not buffer tokens
	conn := rc.Conn()
	rc.SetBodyStreamWriter(func(w *bufio.Writer) {
		p := startProbe(conn, cancel)
		sw := newSSE(w, conn, s.cfg.WriteTimeout, j)
		sw.run(ctx, cancel, evs)
		cancel()
		j.tenant.chargeTokens(sw.completionTokens())
		// Bytes of a pipelined request the probe consumed are lost: that
		// request then fails to parse and gets a 400 on this connection.
		// Closing it instead could cut this stream's last bytes, which are
		// still in fasthttp's pipe.
		p.stop()
	})
}

// sse writes one job's chunks.
type sse struct {
	w       *bufio.Writer
	conn    net.Conn
	timeout time.Duration
	j       *job
	head    []byte // {"id":…,"object":…,"created":…,"model":…,"system_fingerprint":…,"choices":[
	tail    []byte // ]} or ],"usage":null}
	runes   []int  // per choice: characters sent, for text_offset
	tokens  int
	usage   usage
	stats   int
	err     error // first write error: the client is gone
}

func newSSE(w *bufio.Writer, conn net.Conn, timeout time.Duration, j *job) *sse {
	obj := "chat.completion.chunk"
	if j.kind == kindCompletion {
		obj = "text_completion"
	}
	head := []byte(`{"id":`)
	head = appendJSON(head, j.id)
	head = append(head, `,"object":`...)
	head = appendJSON(head, obj)
	head = append(head, `,"created":`...)
	head = strconv.AppendInt(head, j.created, 10)
	head = append(head, `,"model":`...)
	head = appendJSON(head, j.model.Name)
	head = append(head, `,"system_fingerprint":`...)
	head = appendJSON(head, j.fingerprint)
	head = append(head, `,"choices":[`...)
	if j.route != "" {
		head = withRoute(head, j.route)
	}
	tail := []byte("]}")
	if j.usage {
		tail = []byte(`],"usage":null}`)
	}
	return &sse{w: w, conn: conn, timeout: timeout, j: j, head: head, tail: tail, runes: make([]int, j.choices())}
}

func appendJSON(dst []byte, v any) []byte {
	b, _ := json.Marshal(v) // strings and plain structs: cannot fail
	return append(dst, b...)
}

// run writes every event, then the usage chunk when asked and [DONE]. A
// choice that ends in an abort or an engine error ends the whole stream
// with an error event, never with silent truncation.
func (s *sse) run(ctx context.Context, cancel context.CancelFunc, evs <-chan jobEvent) {
	defer func() { go drain(evs) }()
	if s.j.kind == kindChat {
		for i := range s.runes {
			s.chatChunk(i, chatDelta{Role: "assistant", Content: new(string)}, nil, nil)
		}
		s.flush()
	}
	var failed error
	for open := true; open && failed == nil && s.err == nil; {
		var e jobEvent
		if e, open = <-evs; !open {
			break
		}
		failed = s.event(ctx, e)
		failed, open = s.ready(ctx, evs, failed)
		s.flush()
	}
	if s.err != nil {
		return
	}
	if failed != nil {
		cancel()
		s.data(sseError(failed))
	} else if s.j.usage {
		s.usageChunk()
	}
	s.data([]byte("[DONE]"))
	s.flush()
}

// ready writes the events already waiting, so that a burst costs one
// flush; it reports whether evs is still open.
func (s *sse) ready(ctx context.Context, evs <-chan jobEvent, failed error) (error, bool) {
	for failed == nil {
		select {
		case e, ok := <-evs:
			if !ok {
				return nil, false
			}
			failed = s.event(ctx, e)
		default:
			return nil, true
		}
	}
	return failed, true
}

// event writes the chunks of one event; a non-nil result ends the stream.
func (s *sse) event(ctx context.Context, e jobEvent) error {
	ev := &e.ev
	if ev.Token >= 0 {
		s.tokens++
	}
	if st := ev.Stats; st != nil {
		s.stats++
		s.usage.PromptTokens += st.PromptTokens
		s.usage.CompletionTokens += st.CompletionTokens
		s.usage.PromptTokensDetails.CachedTokens += st.CachedTokens
	}
	if ev.Text != "" || (ev.Logprob != nil && s.j.logprobs) {
		s.content(e.index, ev)
	}
	switch ev.Finish {
	case scheduler.FinishNone:
		return nil
	case scheduler.FinishStop, scheduler.FinishLength:
		s.finishChunk(e.index, string(ev.Finish))
		return nil
	case scheduler.FinishError:
		msg := "the engine failed"
		if ev.Err != nil {
			msg += ": " + ev.Err.Error()
		}
		return serverError(msg)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return unavailable("the generation was aborted", "aborted")
}

func (s *sse) content(i int, ev *scheduler.Event) {
	offset := s.runes[i]
	s.runes[i] += utf8.RuneCountInString(ev.Text)
	if s.j.kind == kindChat {
		var lp *chatLogprobs
		if ev.Logprob != nil && s.j.logprobs {
			lp = &chatLogprobs{Content: []tokenLogprob{s.j.model.chatLogprob(ev.Logprob)}}
		}
		text := ev.Text
		s.chatChunk(i, chatDelta{Content: &text}, lp, nil)
		return
	}
	var lp *completionLogprobs
	if ev.Logprob != nil && s.j.logprobs {
		lp = newCompletionLogprobs()
		s.j.model.addCompletionLogprob(lp, ev.Logprob, offset)
	}
	s.chunk(completionChoice{Text: ev.Text, Index: i, Logprobs: lp})
}

func (s *sse) finishChunk(i int, reason string) {
	if s.j.kind == kindChat {
		s.chatChunk(i, chatDelta{}, nil, &reason)
		return
	}
	s.chunk(completionChoice{Index: i, FinishReason: &reason})
}

func (s *sse) chatChunk(i int, d chatDelta, lp *chatLogprobs, finish *string) {
	s.chunk(chatChunkChoice{Index: i, Delta: d, Logprobs: lp, FinishReason: finish})
}

// chunk writes one chunk holding one choice.
func (s *sse) chunk(choice any) {
	b := append([]byte(nil), s.head...)
	b = appendJSON(b, choice)
	b = append(b, s.tail...)
	s.data(b)
}

// usageChunk is the extra chunk of stream_options.include_usage: no
// choices, the request's usage.
func (s *sse) usageChunk() {
	u := s.usage
	if s.stats < len(s.j.reqs) {
		u = usage{CompletionTokens: s.tokens, PromptTokens: s.j.promptTokens()}
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	b := append([]byte(nil), s.head...)
	b = append(b, `],"usage":`...)
	b = appendJSON(b, u)
	b = append(b, '}')
	s.data(b)
}

func (s *sse) completionTokens() int {
	if s.stats == len(s.j.reqs) {
		return s.usage.CompletionTokens
	}
	return s.tokens
}

func (s *sse) data(payload []byte) {
	if s.err != nil {
		return
	}
	_, _ = s.w.WriteString("data: ")
	_, _ = s.w.Write(payload)
	_, s.err = s.w.WriteString("\n\n")
}

// flush sends what is buffered. Each flush gets a fresh write deadline, so
// WriteTimeout bounds a client that stops reading, not the stream's length.
func (s *sse) flush() {
	if s.err != nil {
		return
	}
	if s.conn != nil && s.timeout > 0 {
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	}
	s.err = s.w.Flush()
}

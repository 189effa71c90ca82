package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"

	"spillway/federation"
)

// spillChunk is one upstream chunk, marshalled, with the provider it came
// from.
type spillChunk struct {
	payload  []byte
	provider string
}

// spillStream relays a spilled stream. The response is committed only
// when the first chunk arrives: until then a failure (every target down,
// a budget refusal) is an ordinary error status, and a fall back to the
// local engine (ErrServeLocally) is still possible. After it, federation
// ends a broken upstream with an explicit error chunk, and this relay
// always ends with [DONE].
func (s *Server) spillStream(rc *fasthttp.RequestCtx, call federation.Call) error {
	ctx, cancel := s.requestContext()
	chunks := make(chan spillChunk, 16)
	result := make(chan error, 1)
	provider := ""
	call.Attempt = func(p string) { provider = p } // same goroutine as emit below
	go func() {
		defer close(chunks)
		_, err := s.fed.sp.Stream(ctx, call, func(ch *federation.ChatChunk) error {
			b, err := json.Marshal(ch)
			if err != nil {
				return err
			}
			if ch.Error == nil {
				b = withRoute(b, provider)
			}
			select {
			case chunks <- spillChunk{payload: b, provider: provider}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		result <- err
	}()
	p := startProbe(rc.Conn(), cancel)
	first, ok := <-chunks
	if !ok {
		stray := p.stop()
		cancel()
		if stray {
			rc.SetConnectionClose()
		}
		err := <-result
		if errors.Is(err, federation.ErrServeLocally) {
			return err
		}
		return fedError(err)
	}
	rc.SetContentType("text/event-stream; charset=utf-8")
	rc.Response.Header.Set("Cache-Control", "no-cache")
	rc.Response.Header.Set("X-Accel-Buffering", "no")
	rc.Response.Header.Set(routeHeader, first.provider)
	conn := rc.Conn()
	timeout := s.cfg.WriteTimeout
	rc.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer p.stop()
		defer cancel()
		sw := &sse{w: w, conn: conn, timeout: timeout}
		relay(sw, first, chunks, cancel)
		err := <-result
		if sw.err != nil {
			return // the client is gone: nobody to tell
		}
		var se *federation.StreamError
		if err != nil && !errors.As(err, &se) {
			// Ended by us (shutdown, request timeout), not by the
			// upstream: federation sent no error chunk, so we do.
			sw.data(sseError(streamEndError(ctx, err)))
		}
		sw.data([]byte("[DONE]"))
		sw.flush()
	})
	return nil
}

// relay writes chunks as they come, one flush per burst. When the client
// is gone it cancels the upstream and lets the producer finish.
func relay(sw *sse, first spillChunk, chunks <-chan spillChunk, cancel context.CancelFunc) {
	sw.data(first.payload)
	for {
		select {
		case ch, ok := <-chunks:
			if !ok {
				return
			}
			sw.data(ch.payload)
			continue
		default:
		}
		sw.flush()
		if sw.err != nil {
			cancel()
			for range chunks {
			}
			return
		}
		ch, ok := <-chunks
		if !ok {
			return
		}
		sw.data(ch.payload)
	}
}

// streamEndError says why a relayed stream ended early.
func streamEndError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fedError(err)
}

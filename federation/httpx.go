package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// maxResponseBytes bounds a non-streamed upstream body; maxErrorBytes the
// part of an error body we read to explain a failure.
const (
	maxResponseBytes = 32 << 20
	maxErrorBytes    = 64 << 10
)

// DialFunc opens connections; Options.Dial replaces net.Dialer with it.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// upstream is the HTTP side shared by both wire formats: one keep-alive
// pool per provider, the connect timeout in the dialer, and the
// first-token/idle/request timeouts in a watchdog per request.
type upstream struct {
	name   string
	client *http.Client
	t      Timeouts
	clock  Clock
}

func newUpstream(name string, t Timeouts, dial DialFunc, clock Clock) *upstream {
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	connect := t.Connect
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dctx, cancel := context.WithTimeoutCause(ctx, connect, ErrConnectTimeout)
			defer cancel()
			c, err := dial(dctx, network, addr)
			if err != nil && errors.Is(context.Cause(dctx), ErrConnectTimeout) && ctx.Err() == nil {
				return nil, fmt.Errorf("%w (%v) dialing %s: %v", ErrConnectTimeout, connect, addr, err)
			}
			return c, err
		},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: connect,
		ForceAttemptHTTP2:   true,
	}
	return &upstream{name: name, client: &http.Client{Transport: tr}, t: t, clock: clock}
}

// watchdog cancels a request that waits too long: until the first token
// with ErrFirstTokenTimeout, then between events with ErrIdleTimeout.
type watchdog struct {
	timer  *time.Timer
	idle   time.Duration
	tokens atomic.Bool
}

func startWatchdog(parent context.Context, first, idle time.Duration, firstCause error) (context.Context, *watchdog, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{idle: idle}
	w.timer = time.AfterFunc(first, func() {
		if w.tokens.Load() {
			cancel(ErrIdleTimeout)
		} else {
			cancel(firstCause)
		}
	})
	return ctx, w, func() { w.timer.Stop(); cancel(context.Canceled) }
}

// token records output: from now on only idleness is bounded.
func (w *watchdog) token() {
	w.tokens.Store(true)
	w.timer.Reset(w.idle)
}

// alive records a non-output event (ping, role preamble). Before the
// first token it changes nothing: keep-alives must not defeat the
// first-token bound.
func (w *watchdog) alive() {
	if w.tokens.Load() {
		w.timer.Reset(w.idle)
	}
}

// exchange is one in-flight upstream request.
type exchange struct {
	resp   *http.Response
	ctx    context.Context // the watchdog's context
	parent context.Context
	wd     *watchdog
	stop   context.CancelFunc
}

// post sends body and returns the 2xx response, or the UpstreamError the
// upstream answered with. stream selects the timeouts.
func (u *upstream) post(ctx context.Context, url string, hdr http.Header, body []byte, stream bool) (*exchange, error) {
	first, cause := u.t.Request, ErrRequestTimeout
	if stream {
		first, cause = u.t.FirstToken, ErrFirstTokenTimeout
	}
	wctx, wd, stop := startWatchdog(ctx, first, u.t.Idle, cause)
	req, err := http.NewRequestWithContext(wctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		stop()
		return nil, &UpstreamError{Provider: u.name, Err: err}
	}
	req.Header = hdr
	resp, err := u.client.Do(req)
	x := &exchange{resp: resp, ctx: wctx, parent: ctx, wd: wd, stop: stop}
	if err != nil {
		err = x.cause(u.name, err)
		stop()
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		x.close()
		return nil, errorFromResponse(u.name, resp, b, u.clock.Now())
	}
	return x, nil
}

// cause replaces the context error an aborted read or write reports by
// the reason the watchdog (or the caller) aborted it.
func (x *exchange) cause(provider string, err error) error {
	if x.parent.Err() != nil {
		return context.Cause(x.parent)
	}
	if c := context.Cause(x.ctx); c != nil && !errors.Is(c, context.Canceled) {
		return &UpstreamError{Provider: provider, Err: c}
	}
	return wrapTransport(provider, err)
}

// readAll reads a non-streamed body within maxResponseBytes.
func (x *exchange) readAll(provider string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(x.resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, x.cause(provider, err)
	}
	if len(b) > maxResponseBytes {
		return nil, &UpstreamError{Provider: provider,
			Err: fmt.Errorf("%w: response exceeds %d bytes", ErrMalformed, maxResponseBytes)}
	}
	return b, nil
}

// close releases the exchange. A finished body is drained briefly so
// its keep-alive connection returns to the pool (a TLS handshake per
// spilled request would cost more than the drain); an abandoned one is
// cancelled first so a stalled upstream cannot block the close.
func (x *exchange) close() {
	x.stop()
	_ = x.resp.Body.Close()
}

func (x *exchange) closeFinished() {
	x.wd.timer.Reset(drainTimeout)
	_, _ = io.CopyN(io.Discard, x.resp.Body, 64<<10)
	x.close()
}

const drainTimeout = 50 * time.Millisecond

// decoder turns one wire format's events into chat chunks.
type decoder interface {
	// decode returns a chunk (or nil for events with nothing to forward)
	// and done when the event is the stream's terminal one.
	decode(ev sseEvent) (ch *ChatChunk, done bool, err error)
	// eof is called when the body ends without the terminal event and
	// decides whether that is a truncation.
	eof() error
}

// sseStream is a Stream over an SSE body.
type sseStream struct {
	provider string
	x        *exchange
	sse      *sseReader
	dec      decoder
	done     bool
	closed   bool
}

func newSSEStream(provider string, x *exchange, dec decoder) *sseStream {
	return &sseStream{provider: provider, x: x, sse: newSSEReader(x.resp.Body), dec: dec}
}

func (s *sseStream) Recv() (*ChatChunk, error) {
	for !s.done {
		ev, err := s.sse.next()
		if err == io.EOF {
			s.done = true
			if err := s.dec.eof(); err != nil {
				return nil, &UpstreamError{Provider: s.provider, Err: err}
			}
			break
		}
		if err != nil {
			return nil, s.x.cause(s.provider, err)
		}
		ch, done, err := s.dec.decode(ev)
		if err != nil {
			return nil, wrapTransport(s.provider, err)
		}
		s.done = done
		if ch == nil {
			s.x.wd.alive()
			continue
		}
		if ch.hasToken() {
			s.x.wd.token()
		} else {
			s.x.wd.alive()
		}
		return ch, nil
	}
	return nil, io.EOF
}

func (s *sseStream) Close() error {
	if !s.closed {
		s.closed = true
		if s.done {
			s.x.closeFinished()
		} else {
			s.x.close()
		}
	}
	return nil
}

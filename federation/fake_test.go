package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when told to; Sleep advances it and records the
// wait, so backoff schedules are checked without sleeping.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.sleeps = append(c.sleeps, d)
	return nil
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

type wire int

const (
	wireOpenAI wire = iota
	wireAnthropic
)

func (w wire) String() string { return [...]string{"openai", "anthropic"}[w] }

type faultKind int

const (
	fkNone           faultKind = iota
	fkStatus                   // answer status (with retryAfter) and an error body
	fkStallFirst               // stream: preamble, then nothing; non-stream: nothing
	fkBreakMid                 // stream: `after` tokens, then cut the TCP connection
	fkStallMid                 // stream: `after` tokens, then nothing
	fkMalformed                // non-stream: truncated JSON; stream: a data line that is not JSON
	fkErrorEvent               // stream: `after` tokens, then the format's error event
	fkNoTerminator             // stream: `after` tokens, then a clean close without the end event
	fkGarbageFraming           // stream: bytes that are not SSE at all
)

// fault is what the fake does to one request.
type fault struct {
	kind       faultKind
	status     int
	retryAfter string
	after      int
}

// fakeUpstream is a real HTTP server speaking one wire format, with a
// script of faults consumed one per request (then it answers normally).
type fakeUpstream struct {
	t      testing.TB
	wire   wire
	srv    *httptest.Server
	tokens []string
	stop   chan struct{}
	once   sync.Once
	// arrivals receives a value per request (dropped when full), so
	// tests wait for a request instead of polling.
	arrivals chan struct{}

	mu      sync.Mutex
	script  []fault
	calls   int
	bodies  [][]byte
	headers []http.Header
}

func newFake(t testing.TB, w wire, tokens ...string) *fakeUpstream {
	if len(tokens) == 0 {
		tokens = []string{"Hello", ",", " world", "!"}
	}
	f := &fakeUpstream{t: t, wire: w, tokens: tokens, stop: make(chan struct{}), arrivals: make(chan struct{}, 64)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.release) // runs first: releases stalled handlers
	return f
}

// release ends every stall, now and later.
func (f *fakeUpstream) release() { f.once.Do(func() { close(f.stop) }) }

// url is the base URL in each vendor's convention.
func (f *fakeUpstream) url() string {
	if f.wire == wireOpenAI {
		return f.srv.URL + "/v1"
	}
	return f.srv.URL
}

func (f *fakeUpstream) push(fs ...fault) {
	f.mu.Lock()
	f.script = append(f.script, fs...)
	f.mu.Unlock()
}

func (f *fakeUpstream) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeUpstream) lastBody() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.bodies) == 0 {
		return nil
	}
	return f.bodies[len(f.bodies)-1]
}

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls++
	f.bodies = append(f.bodies, body)
	f.headers = append(f.headers, r.Header.Clone())
	ft := fault{}
	if len(f.script) > 0 {
		ft, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	select {
	case f.arrivals <- struct{}{}:
	default:
	}
	var req struct {
		Model         string         `json:"model"`
		Stream        bool           `json:"stream"`
		StreamOptions *StreamOptions `json:"stream_options"`
	}
	_ = json.Unmarshal(body, &req)
	switch {
	case ft.kind == fkStatus:
		f.writeStatus(w, ft)
	case ft.kind == fkStallFirst && !req.Stream:
		f.stall(r)
	case req.Stream:
		f.writeStream(w, r, ft, req.Model, req.StreamOptions != nil && req.StreamOptions.IncludeUsage)
	case ft.kind == fkMalformed:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","choices":[{"index":0,`)
	default:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(f.response(req.Model))
	}
}

func (f *fakeUpstream) stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-f.stop:
	}
}

func (f *fakeUpstream) writeStatus(w http.ResponseWriter, ft fault) {
	if ft.retryAfter != "" {
		w.Header().Set("Retry-After", ft.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ft.status)
	if f.wire == wireAnthropic {
		fmt.Fprintf(w, `{"type":"error","error":{"type":"api_error","message":"injected %d"}}`, ft.status)
		return
	}
	fmt.Fprintf(w, `{"error":{"message":"injected %d","type":"server_error","param":null,"code":null}}`, ft.status)
}

func (f *fakeUpstream) text() string { return strings.Join(f.tokens, "") }

func (f *fakeUpstream) response(model string) []byte {
	n := len(f.tokens)
	if f.wire == wireAnthropic {
		return fmt.Appendf(nil, `{"id":"msg_fake","type":"message","role":"assistant","content":[{"type":"text","text":%q}],`+
			`"model":%q,"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":%d}}`,
			f.text(), model, n)
	}
	return fmt.Appendf(nil, `{"id":"chatcmpl-fake","object":"chat.completion","created":1700000000,"model":%q,`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":%q},"logprobs":null,"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":10,"completion_tokens":%d,"total_tokens":%d}}`, model, f.text(), n, 10+n)
}

// sseWriter writes events and flushes each, as real servers do.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s sseWriter) event(name, data string) {
	if name != "" {
		fmt.Fprintf(s.w, "event: %s\n", name)
	}
	fmt.Fprintf(s.w, "data: %s\n\n", data)
	_ = s.rc.Flush()
}

func (f *fakeUpstream) writeStream(w http.ResponseWriter, r *http.Request, ft fault, model string, usage bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	sw := sseWriter{w: w, rc: http.NewResponseController(w)}
	enc := streamEncoder(f.wire, model)
	if ft.kind == fkGarbageFraming {
		_, _ = io.WriteString(w, "<html>this is not an event stream</html>\n")
		return
	}
	if ft.kind == fkMalformed {
		sw.event("", `{"id": "x", "choices": [`)
		return
	}
	enc.start(sw)
	if ft.kind == fkStallFirst {
		f.stall(r)
		return
	}
	for i, tok := range f.tokens {
		if i == ft.after && f.interrupt(sw, r, ft, enc) {
			return
		}
		enc.token(sw, tok)
	}
	if ft.kind == fkNoTerminator {
		return
	}
	enc.end(sw, len(f.tokens), usage)
}

// interrupt applies a mid-stream fault; true when the stream is over.
func (f *fakeUpstream) interrupt(sw sseWriter, r *http.Request, ft fault, enc encoder) bool {
	switch ft.kind {
	case fkBreakMid:
		conn, _, err := sw.rc.Hijack()
		if err != nil {
			f.t.Errorf("hijack: %v", err)
			return true
		}
		_ = conn.Close() // no terminating chunk: the client sees a broken body
		return true
	case fkStallMid:
		f.stall(r)
		return true
	case fkErrorEvent:
		enc.fail(sw)
		return true
	case fkNoTerminator:
		return true
	}
	return false
}

// encoder writes one wire format's stream.
type encoder interface {
	start(sseWriter)
	token(sseWriter, string)
	end(sw sseWriter, n int, usage bool)
	fail(sseWriter)
}

func streamEncoder(w wire, model string) encoder {
	if w == wireAnthropic {
		return anthEncoder{model: model}
	}
	return openAIEncoder{model: model}
}

type openAIEncoder struct{ model string }

func (e openAIEncoder) chunk(choices string) string {
	return fmt.Sprintf(`{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":%s}`, e.model, choices)
}

func (e openAIEncoder) start(sw sseWriter) {
	sw.event("", e.chunk(`[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`))
}

func (e openAIEncoder) token(sw sseWriter, tok string) {
	sw.event("", e.chunk(fmt.Sprintf(`[{"index":0,"delta":{"content":%q},"logprobs":null,"finish_reason":null}]`, tok)))
}

func (e openAIEncoder) end(sw sseWriter, n int, usage bool) {
	sw.event("", e.chunk(`[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]`))
	if usage {
		sw.event("", fmt.Sprintf(`{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":[],`+
			`"usage":{"prompt_tokens":10,"completion_tokens":%d,"total_tokens":%d}}`, e.model, n, 10+n))
	}
	sw.event("", "[DONE]")
}

func (e openAIEncoder) fail(sw sseWriter) {
	sw.event("", `{"error":{"message":"injected mid-stream failure","type":"server_error","param":null,"code":null}}`)
}

type anthEncoder struct{ model string }

func (e anthEncoder) start(sw sseWriter) {
	sw.event("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_fake","type":"message","role":"assistant",`+
		`"content":[],"model":%q,"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}`, e.model))
	sw.event("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	sw.event("ping", `{"type": "ping"}`)
}

func (e anthEncoder) token(sw sseWriter, tok string) {
	sw.event("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%q}}`, tok))
}

func (e anthEncoder) end(sw sseWriter, n int, _ bool) {
	sw.event("content_block_stop", `{"type":"content_block_stop","index":0}`)
	sw.event("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":%d}}`, n))
	sw.event("message_stop", `{"type":"message_stop"}`)
}

func (e anthEncoder) fail(sw sseWriter) {
	sw.event("error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
}

// closedPort returns an address nobody listens on: connection refused.
func closedPort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// silentListener accepts TCP connections in the kernel (the handshake
// completes) but never reads or answers: the request waits forever.
func silentListener(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.Addr().String()
}

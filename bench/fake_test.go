package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Behaviours of the fake server, per request.
const (
	fakeOK         = "ok"
	fake500        = "500"
	fakeAbort      = "abort"    // connection dropped mid-stream
	fakeNoDone     = "no-done"  // clean end of body without [DONE]
	fakeHang       = "hang"     // never answers until the client goes away
	fakeErrorEvent = "err-evt"  // an error event mid-stream
	fakeNoUsage    = "no-usage" // ignores stream_options.include_usage
)

// fakeServer is an OpenAI-compatible streaming server on loopback whose
// timing and failures the test controls.
type fakeServer struct {
	srv      *httptest.Server
	ttft     time.Duration // before the first content chunk
	itl      time.Duration // between content chunks
	behave   func(i int) string
	slowTTFT func(i int) time.Duration // extra delay before the first chunk

	n        atomic.Int64 // requests received
	inflight atomic.Int64

	mu      sync.Mutex
	peak    int64                // most requests in flight at once
	spans   map[int][2]time.Time // request index → when it arrived and when [DONE] was sent
	bodies  []fakeBody
	metrics string // the /metrics page
}

type fakeBody struct {
	Model         string            `json:"model"`
	Prompt        string            `json:"prompt"`
	Messages      []json.RawMessage `json:"messages"`
	MaxTokens     int               `json:"max_tokens"`
	IgnoreEOS     bool              `json:"ignore_eos"`
	Stream        bool              `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func newFake(t *testing.T) *fakeServer {
	f, mux := newFakeHandler()
	f.srv = httptest.NewServer(mux) // loopback only
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeHandler is the fake's routes, for httptest or a child process.
func newFakeHandler() (*fakeServer, http.Handler) {
	f := &fakeServer{behave: func(int) string { return fakeOK }}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, false) })
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { f.serve(w, r, true) })
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"object":"list","data":[{"id":"fake-model","object":"model"}]}`)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.metrics == "" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, f.metrics)
	})
	return f, mux
}

func (f *fakeServer) client() *Client {
	return &Client{BaseURL: f.srv.URL, Model: "fake-model", Endpoint: EndpointCompletions,
		Timeout: 10 * time.Second, HTTP: NewHTTPClient(64)}
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request, chat bool) {
	i := int(f.n.Add(1) - 1)
	cur := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	f.mu.Lock()
	f.peak = max(f.peak, cur)
	if f.spans == nil {
		f.spans = map[int][2]time.Time{}
	}
	f.spans[i] = [2]time.Time{time.Now()}
	f.mu.Unlock()
	var b fakeBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, b)
	f.mu.Unlock()
	kind := f.behave(i)
	switch kind {
	case fake500:
		http.Error(w, `{"error":{"message":"boom"}}`, http.StatusInternalServerError)
		return
	case fakeHang:
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second): // bounded even if the client never leaves
		}
		return
	}
	f.stream(w, r, b, i, kind, chat)
}

// stream sends max_tokens content chunks, failing half-way as kind says.
func (f *fakeServer) stream(w http.ResponseWriter, r *http.Request, b fakeBody, i int, kind string, chat bool) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	send := func(v any) {
		js, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", js)
		fl.Flush()
	}
	if chat {
		send(map[string]any{"choices": []any{map[string]any{"delta": map[string]string{"role": "assistant"}}}})
	}
	delay := f.ttft
	if f.slowTTFT != nil {
		delay += f.slowTTFT(i)
	}
	for k := range b.MaxTokens {
		if !sleepCtx(r, delay) {
			return
		}
		delay = f.itl
		if k == b.MaxTokens/2 {
			switch kind {
			case fakeAbort:
				panic(http.ErrAbortHandler) // drops the connection without the final chunk
			case fakeNoDone:
				return
			case fakeErrorEvent:
				send(map[string]any{"error": map[string]string{"message": "engine failed"}})
				return
			}
		}
		if chat {
			send(map[string]any{"choices": []any{map[string]any{"delta": map[string]string{"content": " tok"}}}})
		} else {
			send(map[string]any{"choices": []any{map[string]string{"text": " tok"}}})
		}
	}
	if b.StreamOptions.IncludeUsage && kind != fakeNoUsage {
		prompt := len(strings.Fields(b.Prompt)) + 1
		send(map[string]any{"choices": []any{}, "usage": map[string]int{"prompt_tokens": prompt,
			"completion_tokens": b.MaxTokens, "total_tokens": prompt + b.MaxTokens}})
	}
	f.mu.Lock()
	f.spans[i] = [2]time.Time{f.spans[i][0], time.Now()} // before the client can see the end
	f.mu.Unlock()
	io.WriteString(w, "data: [DONE]\n\n")
}

// sleepCtx waits d unless the client went away.
func sleepCtx(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// reqs builds n completions requests of the given lengths.
func reqs(n, in, out int) []Request {
	s := Synthetic{N: n, Input: LenDist{Kind: DistFixed, Mean: in}, Output: LenDist{Kind: DistFixed, Mean: out}, Seed: 7}
	r, err := s.Generate()
	if err != nil {
		panic(err)
	}
	return r
}

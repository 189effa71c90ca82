package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"spillway/engine/chat"
	"spillway/scheduler"
)

// testServer is a Server with fake models on a loopback TCP port.
type testServer struct {
	t      testing.TB
	s      *Server
	gen    *fakeGen
	url    string
	client *http.Client
	done   chan error
}

type serverOpt func(*Config)

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// strictTemplate refuses system messages, as Mistral's and Gemma's do.
const strictTemplate = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" + chatmlBOS

// newTestServer serves on 127.0.0.1 the models "fake" (a fakeGen),
// "busy" (always saturated) and "strict" (its template refuses system
// messages).
func newTestServer(t testing.TB, opts ...serverOpt) *testServer {
	t.Helper()
	cfg := Config{Logger: quietLogger(), Fingerprint: "fp_test"}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.fs.MaxIdleWorkerDuration = 50 * time.Millisecond // idle fasthttp workers go away fast, for leak checks
	gen := newFakeGen(t)
	busy := newFakeGen(t)
	busy.err = scheduler.ErrSaturated
	strict := fakeModel(t, "strict", gen)
	tmpl, err := chat.New(strictTemplate, "<s>", "</s>")
	if err != nil {
		t.Fatal(err)
	}
	strict.Template = tmpl
	for _, m := range []*Model{fakeModel(t, "fake", gen), fakeModel(t, "busy", busy), strict} {
		if err := s.AddModel(m); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, s: s, gen: gen, url: "http://" + ln.Addr().String(), done: make(chan error, 1),
		client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableCompression: true}}}
	go func() { ts.done <- s.Serve(ln) }()
	t.Cleanup(ts.close)
	return ts
}

func (ts *testServer) close() {
	ts.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.s.Shutdown(ctx); err != nil {
		ts.t.Errorf("shutdown: %v", err)
	}
	if err := <-ts.done; err != nil {
		ts.t.Errorf("serve: %v", err)
	}
}

// do sends a request and returns the response with its body read.
func (ts *testServer) do(method, path, body string, header ...string) (*http.Response, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, b
}

func (ts *testServer) post(path, body string, header ...string) (*http.Response, []byte) {
	ts.t.Helper()
	return ts.do("POST", path, body, header...)
}

// decodeJSON unmarshals b into a generic map, failing the test if it is
// not a JSON object.
func decodeJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, b)
	}
	return m
}

// errorOf checks an OpenAI error document and returns its fields.
func errorOf(t testing.TB, b []byte) map[string]any {
	t.Helper()
	m := decodeJSON(t, b)
	e, ok := m["error"].(map[string]any)
	if !ok || len(m) != 1 {
		t.Fatalf("not an OpenAI error document: %s", b)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := e[k]; !ok {
			t.Fatalf("error document lacks %q: %s", k, b)
		}
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error message is empty: %s", b)
	}
	return e
}

// sseEvents splits an SSE body into its data payloads, checking the
// framing byte for byte: every event is "data: <payload>\n\n".
func sseEvents(t testing.TB, body []byte) []string {
	t.Helper()
	var out []string
	rest := body
	for len(rest) > 0 {
		if !bytes.HasPrefix(rest, []byte("data: ")) {
			t.Fatalf("SSE event does not start with %q: %q", "data: ", rest[:min(len(rest), 60)])
		}
		end := bytes.Index(rest, []byte("\n\n"))
		if end < 0 {
			t.Fatalf("SSE event not terminated by a blank line: %q", rest)
		}
		payload := rest[len("data: "):end]
		if bytes.ContainsAny(payload, "\r\n") {
			t.Fatalf("SSE payload spans lines: %q", payload)
		}
		out = append(out, string(payload))
		rest = rest[end+2:]
	}
	if len(out) == 0 || out[len(out)-1] != "[DONE]" {
		t.Fatalf("stream does not end with data: [DONE]: %q", out)
	}
	return out
}

// chunks decodes the JSON payloads of an SSE stream, [DONE] excluded.
func chunks(t testing.TB, body []byte) []map[string]any {
	t.Helper()
	evs := sseEvents(t, body)
	var out []map[string]any
	for _, e := range evs[:len(evs)-1] {
		out = append(out, decodeJSON(t, []byte(e)))
	}
	return out
}

// settle waits until cond holds, polling; tests never sleep a fixed time.
func settle(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(5 * time.Millisecond)
	}
}

// apiGoroutines counts goroutines running this package's request code.
func apiGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("spillway/api.(*Server).forward")) || bytes.Contains(g, []byte("spillway/api.drain")) ||
			bytes.Contains(g, []byte("spillway/api.startProbe")) || bytes.Contains(g, []byte("spillway/api.(*Server).startStream")) || bytes.Contains(g, []byte("spillway/api.(*fakeGen).run")) {
			count++
		}
	}
	return count
}

// rawRequest writes raw bytes on a fresh connection and returns what the
// server answers before closing or timing out.
func (ts *testServer) rawRequest(raw string) string {
	ts.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		ts.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		ts.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		ts.t.Fatalf("reading response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status + "\n" + string(b)
}

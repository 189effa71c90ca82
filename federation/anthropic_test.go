package federation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "anthropic", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with the golden file field by field, or rewrites
// it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "anthropic", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := fixture(t, name)
	if filepath.Ext(name) != ".jsonl" {
		for _, d := range jsonDiff(t, got, want) {
			t.Errorf("%s: %s", name, d)
		}
		return
	}
	gl, wl := bytes.Split(bytes.TrimSpace(got), []byte("\n")), bytes.Split(bytes.TrimSpace(want), []byte("\n"))
	if len(gl) != len(wl) {
		t.Errorf("%s: %d chunks, want %d\n%s", name, len(gl), len(wl), got)
		return
	}
	for i := range wl {
		for _, d := range jsonDiff(t, gl[i], wl[i]) {
			t.Errorf("%s line %d: %s", name, i+1, d)
		}
	}
}

// fixtureServer answers every request with one recorded body and keeps
// what it was sent.
type fixtureServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	body   []byte
	header http.Header
}

func newFixtureServer(t *testing.T, status int, contentType string, payload []byte) *fixtureServer {
	f := &fixtureServer{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.body, f.header = b, r.Header.Clone()
		f.mu.Unlock()
		if r.URL.Path != "/v1/messages" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write(payload)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func anthropicProviderFor(t *testing.T, url string) Provider {
	t.Helper()
	cfg := provCfg("claude", wireAnthropic, url)
	cfg.APIKeyEnv = "TEST_ANTHROPIC_KEY"
	cfg.Models = map[string]string{"claude-alias": "claude-sonnet-4-20250514"}
	getenv := func(k string) string {
		if k == "TEST_ANTHROPIC_KEY" {
			return "sk-ant-test"
		}
		return ""
	}
	p, err := NewProvider(cfg, getenv, nil, newFakeClock())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func basicRequest(t *testing.T) *ChatRequest {
	req, err := ParseChatRequest(fixture(t, "request_basic.openai.json"))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestAnthropicNonStreaming round-trips a request through a real HTTP
// exchange: the body we send and the response we return are both
// checked field by field against the fixtures.
func TestAnthropicNonStreaming(t *testing.T) {
	fs := newFixtureServer(t, 200, "application/json", fixture(t, "response_basic.anthropic.json"))
	p := anthropicProviderFor(t, fs.srv.URL)
	resp, err := p.Chat(bg, basicRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "request_basic.anthropic.json", fs.body)
	golden(t, "response_basic.openai.json", mustJSON(t, resp))
	checkAnthropicHeaders(t, fs.header, "application/json")
}

func checkAnthropicHeaders(t *testing.T, h http.Header, accept string) {
	t.Helper()
	for k, want := range map[string]string{
		"X-Api-Key": "sk-ant-test", "Anthropic-Version": "2023-06-01",
		"Content-Type": "application/json", "Accept": accept,
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if h.Get("Authorization") != "" {
		t.Errorf("Anthropic must not receive a Bearer token")
	}
}

// TestAnthropicStreaming does the same for streams: each recorded event
// stream must translate into the golden chunk sequence, and end as the
// fixture says (cleanly, or with the upstream's error).
func TestAnthropicStreaming(t *testing.T) {
	cases := []struct {
		sse, golden string
		wantErr     string // upstream error type; "" for a clean end
	}{
		{"stream_basic.anthropic.sse", "stream_basic.openai.jsonl", ""},
		{"stream_extended.anthropic.sse", "stream_extended.openai.jsonl", ""},
		{"stream_error.anthropic.sse", "stream_error.openai.jsonl", "overloaded_error"},
	}
	for _, tc := range cases {
		t.Run(tc.sse, func(t *testing.T) {
			fs := newFixtureServer(t, 200, "text/event-stream", fixture(t, tc.sse))
			p := anthropicProviderFor(t, fs.srv.URL)
			st, err := p.ChatStream(bg, basicRequest(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var out bytes.Buffer
			for {
				ch, err := st.Recv()
				if err == io.EOF {
					if tc.wantErr != "" {
						t.Errorf("clean end, want error %s", tc.wantErr)
					}
					break
				}
				if err != nil {
					var ue *UpstreamError
					if !errors.As(err, &ue) || ue.Type != tc.wantErr || ue.Provider != "claude" {
						t.Errorf("stream error %v, want upstream %q", err, tc.wantErr)
					}
					break
				}
				out.Write(mustJSON(t, ch))
				out.WriteByte('\n')
			}
			golden(t, tc.golden, out.Bytes())
			golden(t, "request_stream.anthropic.json", fs.body)
			checkAnthropicHeaders(t, fs.header, "text/event-stream")
		})
	}
}

// TestAnthropicStreamThroughSpiller: the client-visible stream of the
// basic fixture, including the usage chunk only when asked for.
func TestAnthropicStreamThroughSpiller(t *testing.T) {
	for _, wantUsage := range []bool{false, true} {
		fs := newFixtureServer(t, 200, "text/event-stream", fixture(t, "stream_basic.anthropic.sse"))
		cfg := provCfg("claude", wireAnthropic, fs.srv.URL)
		env := newTestSpiller(t, Config{Providers: []ProviderConfig{cfg}}, Options{})
		req := chatReq("claude-sonnet-4-20250514", true)
		if wantUsage {
			req.StreamOptions = &StreamOptions{IncludeUsage: true}
		}
		var col collector
		rec, err := env.s.Stream(bg, Call{Tenant: "t", Decision: remote(req.Model, "claude"), Req: req}, col.emit)
		if err != nil {
			t.Fatal(err)
		}
		want := 4 // role, "Hello", "!", finish
		if wantUsage {
			want = 5
		}
		if len(col.chunks) != want || col.text() != "Hello!" {
			t.Errorf("include_usage=%v: %d chunks %q, want %d chunks \"Hello!\"", wantUsage, len(col.chunks), col.text(), want)
		}
		if rec.PromptTokens != 25 || rec.CompletionTokens != 15 || rec.Estimated {
			t.Errorf("record tokens %d/%d estimated=%v, want 25/15 from the upstream", rec.PromptTokens, rec.CompletionTokens, rec.Estimated)
		}
	}
}

// TestAnthropicErrorBody: an HTTP error is read in Anthropic's shape.
func TestAnthropicErrorBody(t *testing.T) {
	fs := newFixtureServer(t, 529, "application/json", fixture(t, "error_overloaded.anthropic.json"))
	_, err := anthropicProviderFor(t, fs.srv.URL).Chat(bg, basicRequest(t))
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != 529 || ue.Type != "overloaded_error" || ue.Message != "Overloaded" {
		t.Fatalf("err = %#v", err)
	}
	if classify(err) != classTransient {
		t.Errorf("overloaded classified %v, want transient", classify(err))
	}
}

func TestAnthropicStopReasons(t *testing.T) {
	for in, want := range map[string]string{
		"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
		"refusal": "content_filter", "pause_turn": "stop", "model_context_window_exceeded": "length", "new_reason": "stop",
	} {
		if got := finishReason(&in); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	if finishReason(nil) != "stop" {
		t.Error("null stop_reason")
	}
}

// TestAnthropicRefusesUntranslatable: features the translation cannot
// honour are refused (ErrUnsupported), and the Spiller moves to the
// next target without touching the breaker.
func TestAnthropicRefusesUntranslatable(t *testing.T) {
	n2 := 2
	cases := map[string]func(r *ChatRequest){
		"n=2":      func(r *ChatRequest) { r.N = &n2 },
		"logprobs": func(r *ChatRequest) { r.Logprobs = true },
		"tools":    func(r *ChatRequest) { r.Extra = map[string]json.RawMessage{"tools": json.RawMessage(`[]`)} },
		"tool turn": func(r *ChatRequest) {
			r.Messages = append(r.Messages, Message{Role: "tool", ToolCallID: "x", Content: TextContent("{}")})
		},
		"image part": func(r *ChatRequest) {
			var c Content
			_ = json.Unmarshal([]byte(`[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]`), &c)
			r.Messages[0].Content = c
		},
		"system only": func(r *ChatRequest) { r.Messages = []Message{{Role: "system", Content: TextContent("x")}} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			req := chatReq("m", false)
			mutate(req)
			if _, err := toAnthropic(req, "m", 10, false); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("err = %v, want ErrUnsupported", err)
			}
			claude, other := newFake(t, wireAnthropic), newFake(t, wireOpenAI)
			env := newTestSpiller(t, Config{Providers: []ProviderConfig{
				provCfg("claude", wireAnthropic, claude.url()), provCfg("other", wireOpenAI, other.url())}}, Options{})
			_, rec, err := env.s.Complete(bg, Call{Decision: remote("m", "claude", "other"), Req: req})
			if err != nil || rec.Provider != "other" || claude.Calls() != 0 {
				t.Fatalf("err %v provider %q claude calls %d: want a skip to other", err, rec.Provider, claude.Calls())
			}
		})
	}
}

// sseLines is a helper for tests feeding raw streams to decoders.
func sseEvents(t testing.TB, raw []byte) []sseEvent {
	t.Helper()
	r := newSSEReader(bufio.NewReader(bytes.NewReader(raw)))
	var out []sseEvent
	for {
		ev, err := r.next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sseEvent{name: ev.name, data: bytes.Clone(ev.data)})
	}
}

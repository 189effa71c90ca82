package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"spillway/federation"
)

// fedChatBody is a chat request for model with extra JSON members.
func fedChatBody(model, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"model":"` + model + `","messages":[{"role":"user","content":"Hi"}],"max_tokens":3` + extra + `}`
}

// provider is an OpenAI-compatible provider at base (".../v1") with no
// retries worth waiting for.
func provider(name, base string, models map[string]string) federation.ProviderConfig {
	return federation.ProviderConfig{Name: name, Kind: federation.KindOpenAI, BaseURL: base, Models: models}
}

// localFirst routes model to local, then the providers.
func localFirst(model string, spill federation.Thresholds, provs ...string) federation.RouteConfig {
	r := federation.RouteConfig{Model: model, Policy: federation.PolicyLocalFirst, Spill: spill,
		Targets: []federation.Target{{Name: federation.Local}}}
	for _, p := range provs {
		r.Targets = append(r.Targets, federation.Target{Name: p})
	}
	return r
}

// newSpiller builds a federation with one attempt per provider, so tests
// count upstream requests exactly.
func newSpiller(t testing.TB, cfg federation.Config) *federation.Spiller {
	t.Helper()
	cfg.Retry.MaxAttempts = 1
	sp, err := federation.New(cfg, federation.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func withFederation(sp *federation.Spiller) serverOpt {
	return func(c *Config) { c.Federation = sp }
}

// relaxed never saturates on the fake generator's constant signal.
var relaxed = federation.Thresholds{MaxWaiting: 8, MaxKVUsage: -1, MaxQueueWait: -1}

// fakeOpenAI is an OpenAI-compatible upstream that counts requests and
// can break its streams after a number of content chunks.
type fakeOpenAI struct {
	srv        *httptest.Server
	requests   atomic.Int64
	breakAfter int // > 0: streams end abruptly after this many content chunks
}

func newFakeOpenAI(t testing.TB, breakAfter int) *fakeOpenAI {
	f := &fakeOpenAI{breakAfter: breakAfter}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) base() string { return f.srv.URL + "/v1" }

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad json","type":"invalid_request_error"}}`, http.StatusBadRequest)
		return
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","created":1,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`, req.Model)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(delta string) {
		fmt.Fprintf(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":null}]}\n\n", req.Model, delta)
	}
	chunk(`{"role":"assistant","content":""}`)
	for i := 0; i < max(f.breakAfter, 2); i++ {
		chunk(fmt.Sprintf(`{"content":"w%d "}`, i))
	}
	w.(http.Flusher).Flush()
	if f.breakAfter > 0 {
		panic(http.ErrAbortHandler) // cut the connection mid-stream
	}
	fmt.Fprintf(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n", req.Model)
}

// streamText reads an SSE body: the concatenated content deltas, the
// error events' messages, and whether it ended with [DONE]; every chunk
// must carry spillway_route == route.
func streamText(t testing.TB, body []byte, route string) (text string, errs []string) {
	t.Helper()
	for _, c := range chunks(t, body) {
		if e, ok := c["error"].(map[string]any); ok {
			errs = append(errs, fmt.Sprint(e["message"]))
			continue
		}
		if got := c["spillway_route"]; got != route {
			t.Errorf("chunk spillway_route = %v, want %q: %v", got, route, c)
		}
		for _, ch := range c["choices"].([]any) {
			d, _ := ch.(map[string]any)["delta"].(map[string]any)
			if s, ok := d["content"].(string); ok {
				text += s
			}
		}
	}
	return text, errs
}

// sseLines calls fn with each data payload of a streamed response as it
// arrives.
func sseLines(resp *http.Response, fn func(payload string)) error {
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			fn(p)
		}
	}
	return sc.Err()
}

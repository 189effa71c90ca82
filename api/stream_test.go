package api

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// normalize replaces the parts of a stream that change per request (id,
// created) with fixed text, leaving every other byte as sent.
func normalize(b []byte) []byte {
	b = regexp.MustCompile(`"id":"(chatcmpl|cmpl)-[0-9A-Za-z]{24}"`).ReplaceAll(b, []byte(`"id":"$1-ID"`))
	return regexp.MustCompile(`"created":\d+`).ReplaceAll(b, []byte(`"created":0`))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestSSEGolden checks streams byte for byte against golden files.
func TestSSEGolden(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct{ name, path, body string }{
		{"chat_stream", "/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":3,"stream":true}`},
		{"chat_stream_usage_n2", "/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":2,"n":2,"stream":true,"stream_options":{"include_usage":true}}`},
		{"chat_stream_logprobs", "/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":2,"stream":true,"logprobs":true,"top_logprobs":1}`},
		{"chat_stream_stop", "/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":9,"stream":true,"stop":"cat"}`},
		{"completion_stream", "/v1/completions", `{"model":"fake","prompt":"Once","max_tokens":3,"stream":true,"logprobs":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.post(tt.path, tt.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if resp.Header.Get("X-Spillway-Route") != "local" || resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("headers: %v", resp.Header)
			}
			sseEvents(t, body) // framing
			golden(t, tt.name, normalize(body))
		})
	}
}

// TestSSESemantics checks what the golden files encode, independently.
func TestSSESemantics(t *testing.T) {
	ts := newTestServer(t)
	_, body := ts.post("/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":3,"n":2,"stream":true,"stream_options":{"include_usage":true}}`)
	cs := chunks(t, body)
	id := cs[0]["id"].(string)
	if !strings.HasPrefix(id, "chatcmpl-") {
		t.Fatalf("id %q", id)
	}
	text := map[float64]string{}
	finished := map[float64]string{}
	for i, c := range cs {
		if c["id"] != id || c["object"] != "chat.completion.chunk" || c["system_fingerprint"] != "fp_test" || c["model"] != "fake" {
			t.Fatalf("chunk %d envelope: %v", i, c)
		}
		u, hasUsage := c["usage"]
		if !hasUsage {
			t.Fatalf("chunk %d lacks usage (include_usage asks for null on every chunk)", i)
		}
		choices := c["choices"].([]any)
		if i == len(cs)-1 {
			um := u.(map[string]any)
			if len(choices) != 0 || um["completion_tokens"].(float64) != 6 {
				t.Fatalf("last chunk should be usage only: %v", c)
			}
			continue
		}
		if u != nil || len(choices) != 1 {
			t.Fatalf("chunk %d: %v", i, c)
		}
		ch := choices[0].(map[string]any)
		idx := ch["index"].(float64)
		if _, done := finished[idx]; done {
			t.Fatalf("chunk %d after choice %v finished", i, idx)
		}
		d := ch["delta"].(map[string]any)
		if r, ok := d["role"]; ok && (r != "assistant" || text[idx] != "") {
			t.Fatalf("role must come first: chunk %d %v", i, c)
		}
		if s, ok := d["content"].(string); ok {
			text[idx] += s
		}
		if f, ok := ch["finish_reason"].(string); ok {
			if len(d) != 0 {
				t.Fatalf("finish chunk has a non-empty delta: %v", c)
			}
			finished[idx] = f
		}
	}
	if text[0] != " Hello world!" || text[1] != " world! the" || finished[0] != "length" || finished[1] != "length" {
		t.Errorf("texts %v, finish %v", text, finished)
	}
}

func TestSSEEngineErrorEndsStream(t *testing.T) {
	ts := newTestServer(t)
	ts.gen.failAt = 2
	_, body := ts.post("/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":5,"stream":true}`)
	evs := sseEvents(t, body)
	last := evs[len(evs)-2]
	e := errorOf(t, []byte(last))
	if e["type"] != "server_error" || !strings.Contains(e["message"].(string), "device lost") {
		t.Errorf("error event %s", last)
	}
	_, body = ts.post("/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":5}`)
	if e := errorOf(t, body); !strings.Contains(e["message"].(string), "device lost") {
		t.Errorf("non-streaming engine error: %s", body)
	}
}

// TestSSEBatchedPrompts checks a batched completion stream: events of the
// prompts interleave in any order, each choice is numbered p·n + c.
func TestSSEBatchedPrompts(t *testing.T) {
	ts := newTestServer(t)
	_, body := ts.post("/v1/completions", `{"model":"fake","prompt":[[262,263],[264]],"max_tokens":2,"n":2,"stream":true,"stream_options":{"include_usage":true}}`)
	cs := chunks(t, body)
	text := map[float64]string{}
	finish := map[float64]string{}
	for _, c := range cs[:len(cs)-1] {
		ch := c["choices"].([]any)[0].(map[string]any)
		text[ch["index"].(float64)] += ch["text"].(string)
		if f, ok := ch["finish_reason"].(string); ok {
			finish[ch["index"].(float64)] = f
		}
	}
	want := map[float64]string{0: " Hello world", 1: " world!", 2: " Hello world", 3: " world!"}
	for i, w := range want {
		if text[i] != w || finish[i] != "length" {
			t.Errorf("choice %v: %q %q, want %q length", i, text[i], finish[i], w)
		}
	}
	u := cs[len(cs)-1]["usage"].(map[string]any)
	if u["prompt_tokens"].(float64) != 3 || u["completion_tokens"].(float64) != 8 || u["total_tokens"].(float64) != 11 {
		t.Errorf("usage %v", u)
	}
}

func TestForceStreamUsage(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.ForceStreamUsage = true })
	_, body := ts.post(chatPath, chatBody(`"stream":true`))
	cs := chunks(t, body)
	last := cs[len(cs)-1]
	if u, ok := last["usage"].(map[string]any); !ok || u["completion_tokens"].(float64) != 2 || len(last["choices"].([]any)) != 0 {
		t.Errorf("last chunk %v", last)
	}
}

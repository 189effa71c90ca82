package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"spillway/internal/testenv"
)

// startTestServe runs 'spillway serve' in-process on a free port. stop
// cancels it and returns run's error; wait only waits for run to return.
func startTestServe(t *testing.T, args ...string) (base string, stop, wait func() error) {
	t.Helper()
	c, err := parseServe(append([]string{"--port", "0", "--host", "127.0.0.1", "--log-level", "warn"}, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	app, err := startServe(ctx, c, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	finished := make(chan struct{})
	var runErr error
	go func() {
		runErr = app.run(ctx)
		close(finished)
	}()
	wait = func() error {
		select {
		case <-finished:
			return runErr
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
			return nil
		}
	}
	stop = func() error {
		cancel()
		return wait()
	}
	t.Cleanup(func() { stop() })
	return "http://" + app.Addr().String(), stop, wait
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy in time (last: %v %v)", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func postJSON(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestServeEndToEnd serves a real tiny model through engine, scheduler
// and API: greedy completions match llama.cpp's, streams end with
// [DONE], and a shutdown returns cleanly.
func TestServeEndToEnd(t *testing.T) {
	path := testenv.Shared(t, "models/stories260K.gguf")
	base, stop, _ := startTestServe(t, "--model", path, "--served-model-name", "stories", "--max-num-seqs", "4")
	waitHealthy(t, base)

	code, body := postJSON(t, base+"/v1/completions", `{"model":"stories","prompt":"Once upon a time","max_tokens":12,"temperature":0}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var r struct {
		Choices []struct{ Text, FinishReason string }
		Usage   struct{ PromptTokens, CompletionTokens int } `json:"usage"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	// llama.cpp's greedy continuation (../shared/models/MANIFEST.md).
	if !strings.HasPrefix(r.Choices[0].Text, ", there was a little girl named Lily") {
		t.Errorf("greedy text %q", r.Choices[0].Text)
	}
	if !strings.Contains(string(body), `"prompt_tokens":5,"completion_tokens":12`) {
		t.Errorf("usage: %s", body)
	}
	code, body = postJSON(t, base+"/v1/chat/completions", `{"model":"stories","messages":[{"role":"user","content":"Tell a story"}],"max_tokens":8,"stream":true,"n":2}`)
	if code != 200 || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) || bytes.Count(body, []byte(`"finish_reason":"length"`)) != 2 {
		t.Errorf("stream: %d %s", code, body)
	}
	code, body = postJSON(t, base+"/v1/completions", `{"model":"stories","prompt":"x","max_tokens":5000}`)
	if code != 400 || !strings.Contains(string(body), "context_length_exceeded") {
		t.Errorf("over the context: %d %s", code, body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`spillway:generation_tokens_total{model_name="stories"}`)) {
		t.Errorf("metrics lack the scheduler's counters")
	}
	if err := stop(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestServeModelLoadFails: a model that cannot be loaded is reported, and a
// server with no loadable model exits with the reason.
func TestServeModelLoadFails(t *testing.T) {
	bad := writeFile(t, "broken.gguf", "GGUF but not really")
	base, _, wait := startTestServe(t, "--model", bad)
	resp, err := http.Get(base + "/health")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Errorf("health with no loadable model: %d", resp.StatusCode)
		}
	}
	if err := wait(); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("want the load error, got %v", err)
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"spillway/internal/testenv"
)

// streamResult is what one streaming client saw.
type streamResult struct {
	text       string
	finish     string
	completion int
	done       bool // saw data: [DONE]
	err        error
}

// streamCompletion posts a streaming completion and reads it, closing the
// connection after cancelAfter chunks when cancelAfter > 0.
func streamCompletion(base, prompt string, maxTokens, cancelAfter int) streamResult {
	body := fmt.Sprintf(`{"model":"stories260K","prompt":%q,"max_tokens":%d,"temperature":0,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`,
		prompt, maxTokens)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return streamResult{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return streamResult{err: fmt.Errorf("status %d: %s", resp.StatusCode, b)}
	}
	var r streamResult
	sc := bufio.NewScanner(resp.Body)
	chunks := 0
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			r.done = true
			break
		}
		var c struct {
			Choices []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return streamResult{err: fmt.Errorf("bad chunk %q: %v", line, err)}
		}
		for _, ch := range c.Choices {
			r.text += ch.Text
			if ch.FinishReason != nil {
				r.finish = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			r.completion = c.Usage.CompletionTokens
		}
		if chunks++; cancelAfter > 0 && chunks == cancelAfter {
			return r // the deferred cancel closes the connection mid-stream
		}
	}
	return r
}

// metricValue reads one unlabelled-by-reason series of /metrics.
func metricValue(t *testing.T, base, name string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") || (strings.Contains(name, "{") && strings.HasPrefix(line, name)) {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			return v
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// TestConcurrentStreams256: 256 concurrent streaming clients against the
// tiny real model all get complete, correct streams; then cancelling half
// of them mid-stream frees their KV blocks (the metrics go back to zero).
func TestConcurrentStreams256(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping 256-client load test in -short mode")
	}
	model := testenv.Shared(t, "models/stories260K.gguf")
	base, _, _ := startTestServe(t, "--model", model, "--max-num-seqs", "128", "--kv-cache-memory", "64MiB")
	waitHealthy(t, base)
	prompts := []string{"Once upon a time", "Lily and Tom", "The dog ran", "One day"}
	want := map[string]string{}
	for _, p := range prompts {
		r := streamCompletion(base, p, 24, 0)
		if r.err != nil || !r.done {
			t.Fatalf("solo %q: %+v", p, r)
		}
		want[p] = r.text
	}
	const clients = 256
	run := func(cancelHalf bool) []streamResult {
		res := make([]streamResult, clients)
		var wg sync.WaitGroup
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				cut, n := 0, 24
				if cancelHalf && i%2 == 1 {
					cut, n = 3, 1500 // long enough to be cut while generating
				}
				res[i] = streamCompletion(base, prompts[i%len(prompts)], n, cut)
			}(i)
		}
		wg.Wait()
		return res
	}
	for i, r := range run(false) {
		p := prompts[i%len(prompts)]
		if r.err != nil || !r.done || r.finish != "length" || r.completion != 24 || r.text != want[p] {
			t.Fatalf("client %d: err %v done %v finish %q tokens %d text %q (want %q)", i, r.err, r.done, r.finish, r.completion, r.text, want[p])
		}
	}
	for i, r := range run(true) {
		if i%2 == 0 && (r.err != nil || !r.done || r.text != want[prompts[i%len(prompts)]]) {
			t.Fatalf("uncancelled client %d: %+v", i, r)
		}
	}
	if aborted := metricValue(t, base, `spillway:request_success_total{finished_reason="abort",model_name="stories260K"}`); aborted < clients/2 {
		t.Errorf("%v requests aborted, want %d (every cancelled stream)", aborted, clients/2)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		running := metricValue(t, base, "spillway:num_requests_running")
		kv := metricValue(t, base, "spillway:kv_cache_usage_perc")
		if running == 0 && kv == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after cancelling, %v requests still running and KV usage %v", running, kv)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

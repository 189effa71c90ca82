package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestCompletion(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.post(complPath, `{"model":"fake","prompt":"Once upon","max_tokens":3,"logprobs":2,"echo":false,"suffix":null}`)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var r completionResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "cmpl-") || r.Object != "text_completion" || r.SystemFingerprint != "fp_test" {
		t.Errorf("envelope %+v", r)
	}
	c := r.Choices[0]
	if c.Text != " Hello world!" || *c.FinishReason != "length" {
		t.Errorf("choice %+v", c)
	}
	lp := c.Logprobs
	if lp == nil || len(lp.Tokens) != 3 || len(lp.TokenLogprobs) != 3 || len(lp.TopLogprobs) != 3 || len(lp.TextOffset) != 3 {
		t.Fatalf("logprobs %+v", lp)
	}
	if fmt.Sprint(lp.Tokens, lp.TextOffset) != "[ Hello  world !] [0 6 12]" || len(lp.TopLogprobs[2]) != 3 || lp.TopLogprobs[2]["!"] != -0.5 {
		t.Errorf("logprobs %+v", lp)
	}
	if r.Usage.CompletionTokens != 3 || r.Usage.TotalTokens != r.Usage.PromptTokens+3 {
		t.Errorf("usage %+v", r.Usage)
	}
	// A prompt starting with the BOS text gets no second BOS.
	ts.post(complPath, `{"model":"fake","prompt":"<s>Hi","max_tokens":1}`)
	reqs := ts.gen.requests()
	if p := reqs[len(reqs)-1].Prompt; p[0] != tokBOS || p[1] == tokBOS {
		t.Errorf("prompt %v", p)
	}
}

func TestModelsAndTokenize(t *testing.T) {
	ts := newTestServer(t)
	_, body := ts.do("GET", "/v1/models", "")
	var list modelList
	if err := json.Unmarshal(body, &list); err != nil || list.Object != "list" || len(list.Data) != 3 {
		t.Fatalf("%v %s", err, body)
	}
	if d := list.Data[1]; d.ID != "fake" || d.Object != "model" || d.OwnedBy != "spillway" || d.MaxModelLen != 256 || d.Created == 0 {
		t.Errorf("card %+v", d)
	}
	if resp, body := ts.do("GET", "/v1/models/fake", ""); resp.StatusCode != 200 || !strings.Contains(string(body), `"id":"fake"`) {
		t.Errorf("model card: %d %s", resp.StatusCode, body)
	}
	tests := []struct{ body, want string }{
		{`{"model":"fake","prompt":"<s>a"}`, `"tokens":[1,261,102]`}, // one BOS, special text parsed
		{`{"model":"fake","prompt":"a","add_special_tokens":false}`, `"tokens":[261,102]`},
		{`{"model":"fake","messages":[{"role":"user","content":"a"}],"add_generation_prompt":false}`, `"tokens":[1,3,`},
		{`{"model":"fake","prompt":"a","return_token_strs":true}`, `"token_strs":["\u003cs\u003e"," ","a"]`},
	}
	for _, tt := range tests {
		_, body := ts.post("/tokenize", tt.body)
		if !strings.Contains(string(body), tt.want) {
			t.Errorf("tokenize %s = %s, want %s", tt.body, body, tt.want)
		}
	}
	_, body = ts.post("/detokenize", fmt.Sprintf(`{"model":"fake","tokens":[%d,%d,%d]}`, tokBOS, wordID(0), wordID(9)))
	if string(body) != `{"prompt":"Hello café"}` {
		t.Errorf("detokenize: %s", body)
	}
}

func TestMetrics(t *testing.T) {
	ts := newTestServer(t)
	ts.post(chatPath, chatBody(`"n":2`))
	ts.post(chatPath, chatBody(`"stop":"world"`))
	resp, body := ts.do("GET", "/metrics", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header)
	}
	text := string(body)
	for _, want := range []string{
		`spillway:num_requests_running{model_name="fake"} 0`,
		`spillway:num_requests_waiting{model_name="fake"} 1`,
		`spillway:kv_cache_usage_perc{model_name="fake"} 0.25`,
		`spillway:prompt_tokens_total{model_name="fake"} 100`,
		`spillway:generation_tokens_total{model_name="fake"} 200`,
		`spillway:num_preemptions_total{model_name="fake"} 3`,
		`spillway:prefix_cache_queries_total{model_name="fake"} 50`,
		`spillway:prefix_cache_hits_total{model_name="fake"} 20`,
		`spillway:request_success_total{finished_reason="length",model_name="fake"} 2`,
		`spillway:request_success_total{finished_reason="stop",model_name="fake"} 1`,
		`spillway:time_to_first_token_seconds_count{model_name="fake"} 2`,
		`spillway:inter_token_latency_seconds_count{model_name="fake"} 3`,
		`spillway:e2e_request_latency_seconds_count{model_name="fake"} 2`,
		`spillway:request_queue_time_seconds_bucket{model_name="fake",le="0.3"} 2`,
		`spillway:request_generation_tokens_sum{model_name="fake"} 6`,
		`spillway:request_prompt_tokens_count{model_name="busy"} 0`,
		"# TYPE spillway:time_to_first_token_seconds histogram",
		"# TYPE spillway:prompt_tokens_total counter",
		"# TYPE spillway:num_requests_running gauge",
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestCompression(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.CompressMinBytes = 64 })
	body := chatBody(`"n":4`)
	tests := []struct {
		accept, want string
	}{
		{"", ""},
		{"gzip", "gzip"},
		{"zstd", "zstd"},
		{"gzip, deflate, br, zstd", "zstd"},
		{"zstd;q=0, gzip", "gzip"},
		{"*", "zstd"},
		{"identity", ""},
		{"br", ""},
	}
	_, plain := ts.post(chatPath, body)
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			resp, raw := ts.post(chatPath, body, "Accept-Encoding", tt.accept)
			if got := resp.Header.Get("Content-Encoding"); got != tt.want {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.want)
			}
			got := decompress(t, tt.want, raw)
			// ids differ per request; compare the rest
			if !bytes.Equal(normalize(got), normalize(plain)) {
				t.Errorf("decompressed body differs:\n%s\n%s", got, plain)
			}
		})
	}
	resp, raw := ts.post(chatPath, chatBody(`"stream":true`), "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("streams must not be compressed")
	}
	sseEvents(t, raw)
}

func decompress(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return b
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

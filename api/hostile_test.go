package api

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

type hostileCase struct {
	name       string
	method     string
	path       string
	body       string
	status     int
	errType    string // "" = any
	param      string // "" = null or not checked; "-" = must be null
	code       string
	retryAfter bool
}

const chatPath, complPath = "/v1/chat/completions", "/v1/completions"

// chatBody is a valid chat request with extra fields spliced in.
func chatBody(extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"model":"fake","messages":[{"role":"user","content":"Hi"}],"max_tokens":2` + extra + `}`
}

var hostileCases = []hostileCase{
	{"bad json", "POST", chatPath, `{"model":`, 400, "invalid_request_error", "-", "", false},
	{"empty body", "POST", chatPath, ``, 400, "invalid_request_error", "-", "", false},
	{"array body", "POST", chatPath, `[]`, 400, "invalid_request_error", "-", "", false},
	{"string body", "POST", chatPath, `"hello"`, 400, "invalid_request_error", "-", "", false},
	{"trailing garbage", "POST", chatPath, chatBody("") + `{}`, 400, "invalid_request_error", "-", "", false},
	{"deep nesting", "POST", chatPath, strings.Repeat("[", 60000), 400, "invalid_request_error", "-", "", false},
	{"invalid utf-8", "POST", chatPath, "{\"model\":\"fake\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", 400, "invalid_request_error", "-", "", false},
	{"messages missing", "POST", chatPath, `{"model":"fake"}`, 400, "invalid_request_error", "messages", "", false},
	{"messages empty", "POST", chatPath, `{"model":"fake","messages":[]}`, 400, "invalid_request_error", "messages", "", false},
	{"messages not array", "POST", chatPath, `{"model":"fake","messages":"hi"}`, 400, "invalid_request_error", "messages", "", false},
	{"unknown role", "POST", chatPath, `{"model":"fake","messages":[{"role":"wizard","content":"x"}]}`, 400, "invalid_request_error", "messages[0].role", "", false},
	{"missing role", "POST", chatPath, `{"model":"fake","messages":[{"content":"x"}]}`, 400, "invalid_request_error", "messages[0].role", "", false},
	{"content number", "POST", chatPath, `{"model":"fake","messages":[{"role":"user","content":5}]}`, 400, "invalid_request_error", "messages", "", false},
	{"content image part", "POST", chatPath, `{"model":"fake","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, 400, "invalid_request_error", "messages", "", false},
	{"template raises", "POST", chatPath, `{"model":"strict","messages":[{"role":"system","content":"x"},{"role":"user","content":"y"}]}`, 400, "invalid_request_error", "messages", "", false},
	{"unknown model", "POST", chatPath, `{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}`, 404, "invalid_request_error", "-", "model_not_found", false},
	{"model not a string", "POST", chatPath, `{"model":7,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error", "model", "", false},
	{"temperature string", "POST", chatPath, chatBody(`"temperature":"hot"`), 400, "invalid_request_error", "temperature", "", false},
	{"temperature negative", "POST", chatPath, chatBody(`"temperature":-1`), 400, "invalid_request_error", "temperature", "", false},
	{"temperature huge", "POST", chatPath, chatBody(`"temperature":1000`), 400, "invalid_request_error", "temperature", "", false},
	{"temperature overflow", "POST", chatPath, chatBody(`"temperature":1e400`), 400, "invalid_request_error", "temperature", "", false},
	{"top_p zero", "POST", chatPath, chatBody(`"top_p":0`), 400, "invalid_request_error", "top_p", "", false},
	{"top_p above one", "POST", chatPath, chatBody(`"top_p":1.5`), 400, "invalid_request_error", "top_p", "", false},
	{"top_k negative", "POST", chatPath, chatBody(`"top_k":-5`), 400, "invalid_request_error", "top_k", "", false},
	{"min_p above one", "POST", chatPath, chatBody(`"min_p":2`), 400, "invalid_request_error", "min_p", "", false},
	{"n zero", "POST", chatPath, chatBody(`"n":0`), 400, "invalid_request_error", "n", "", false},
	{"n huge", "POST", chatPath, chatBody(`"n":100000`), 400, "invalid_request_error", "n", "", false},
	{"n fractional", "POST", chatPath, chatBody(`"n":1.5`), 400, "invalid_request_error", "n", "", false},
	{"max_tokens zero", "POST", chatPath, `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":0}`, 400, "invalid_request_error", "max_tokens", "", false},
	{"max_tokens negative", "POST", chatPath, `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":-1}`, 400, "invalid_request_error", "max_tokens", "", false},
	{"max_tokens over context", "POST", chatPath, `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":1000000000}`, 400, "invalid_request_error", "messages", "context_length_exceeded", false},
	{"max_tokens beyond int64", "POST", chatPath, `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":99999999999999999999}`, 400, "invalid_request_error", "max_tokens", "", false},
	{"max_completion_tokens zero", "POST", chatPath, `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}`, 400, "invalid_request_error", "max_completion_tokens", "", false},
	{"prompt over context", "POST", chatPath, `{"model":"fake","messages":[{"role":"user","content":"` + strings.Repeat("z", 400) + `"}]}`, 400, "invalid_request_error", "messages", "context_length_exceeded", false},
	{"stop number", "POST", chatPath, chatBody(`"stop":5`), 400, "invalid_request_error", "stop", "", false},
	{"stop empty string", "POST", chatPath, chatBody(`"stop":["a",""]`), 400, "invalid_request_error", "stop", "", false},
	{"stop too many", "POST", chatPath, chatBody(`"stop":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`), 400, "invalid_request_error", "stop", "", false},
	{"presence_penalty", "POST", chatPath, chatBody(`"presence_penalty":3`), 400, "invalid_request_error", "presence_penalty", "", false},
	{"frequency_penalty", "POST", chatPath, chatBody(`"frequency_penalty":-3`), 400, "invalid_request_error", "frequency_penalty", "", false},
	{"repetition_penalty zero", "POST", chatPath, chatBody(`"repetition_penalty":0`), 400, "invalid_request_error", "repetition_penalty", "", false},
	{"logit_bias bad key", "POST", chatPath, chatBody(`"logit_bias":{"abc":1}`), 400, "invalid_request_error", "logit_bias", "", false},
	{"logit_bias id outside vocab", "POST", chatPath, chatBody(`"logit_bias":{"999999":1}`), 400, "invalid_request_error", "logit_bias", "", false},
	{"logit_bias value", "POST", chatPath, chatBody(`"logit_bias":{"5":1000}`), 400, "invalid_request_error", "logit_bias", "", false},
	{"top_logprobs too many", "POST", chatPath, chatBody(`"logprobs":true,"top_logprobs":30`), 400, "invalid_request_error", "top_logprobs", "", false},
	{"top_logprobs without logprobs", "POST", chatPath, chatBody(`"top_logprobs":2`), 400, "invalid_request_error", "top_logprobs", "", false},
	{"logprobs not bool", "POST", chatPath, chatBody(`"logprobs":"yes"`), 400, "invalid_request_error", "logprobs", "", false},
	{"seed not int", "POST", chatPath, chatBody(`"seed":"abc"`), 400, "invalid_request_error", "seed", "", false},
	{"stream not bool", "POST", chatPath, chatBody(`"stream":"yes"`), 400, "invalid_request_error", "stream", "", false},
	{"stream_options not object", "POST", chatPath, chatBody(`"stream_options":5`), 400, "invalid_request_error", "stream_options", "", false},
	{"stop_token_ids outside vocab", "POST", chatPath, chatBody(`"stop_token_ids":[-1]`), 400, "invalid_request_error", "stop_token_ids", "", false},
	{"saturated", "POST", chatPath, `{"model":"busy","messages":[{"role":"user","content":"x"}]}`, 503, "server_error", "-", "server_saturated", true},
	{"wrong method", "GET", chatPath, ``, 405, "invalid_request_error", "-", "method_not_allowed", false},
	{"unknown path", "POST", "/v2/everything", `{}`, 404, "invalid_request_error", "-", "unknown_url", false},
	{"completions no prompt", "POST", complPath, `{"model":"fake"}`, 400, "invalid_request_error", "prompt", "", false},
	{"completions empty array", "POST", complPath, `{"model":"fake","prompt":[]}`, 400, "invalid_request_error", "prompt", "", false},
	{"completions empty token array", "POST", complPath, `{"model":"fake","prompt":[[]]}`, 400, "invalid_request_error", "prompt", "", false},
	{"completions token outside vocab", "POST", complPath, `{"model":"fake","prompt":[1,2,99999]}`, 400, "invalid_request_error", "prompt", "", false},
	{"completions mixed prompt", "POST", complPath, `{"model":"fake","prompt":["a",[1]]}`, 400, "invalid_request_error", "prompt", "", false},
	{"completions prompt object", "POST", complPath, `{"model":"fake","prompt":{"text":"a"}}`, 400, "invalid_request_error", "prompt", "", false},
	{"completions logprobs too many", "POST", complPath, `{"model":"fake","prompt":"a","logprobs":30}`, 400, "invalid_request_error", "logprobs", "", false},
	{"completions too many choices", "POST", complPath, `{"model":"fake","prompt":["a","b","c"],"n":50}`, 400, "invalid_request_error", "n", "", false},
	{"completions over context", "POST", complPath, `{"model":"fake","prompt":"a","max_tokens":300}`, 400, "invalid_request_error", "prompt", "context_length_exceeded", false},
	{"tokenize both inputs", "POST", "/tokenize", `{"model":"fake","prompt":"a","messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error", "messages", "", false},
	{"detokenize outside vocab", "POST", "/detokenize", `{"model":"fake","tokens":[1,-4]}`, 400, "invalid_request_error", "tokens", "", false},
	{"detokenize no tokens", "POST", "/detokenize", `{"model":"fake"}`, 400, "invalid_request_error", "tokens", "", false},
	{"model card unknown", "GET", "/v1/models/nope", ``, 404, "invalid_request_error", "-", "model_not_found", false},
}

// TestHostileRequests sends malformed and hostile requests: each gets its
// documented status and an OpenAI error document, and afterwards the
// server is healthy and nothing leaked.
func TestHostileRequests(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.ReadTimeout = 500 * time.Millisecond; c.MaxBodyBytes = 64 << 10 })
	ts.post(chatPath, chatBody("")) // warm up: the fasthttp worker pool exists before the baseline
	ts.client.CloseIdleConnections()
	baseline := runtime.NumGoroutine()
	if len(hostileCases) < 40 {
		t.Fatalf("only %d hostile cases", len(hostileCases))
	}
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			checkError(t, tc, body)
			if got := resp.Header.Get("Retry-After"); (got != "") != tc.retryAfter {
				t.Errorf("Retry-After %q", got)
			}
		})
	}
	for _, rc := range rawCases(ts) {
		t.Run(rc.name, func(t *testing.T) {
			got := ts.rawRequest(rc.raw)
			status, body, _ := strings.Cut(got, "\n")
			if !strings.HasPrefix(status, fmt.Sprint(rc.status)) {
				t.Fatalf("status %q, want %d: %s", status, rc.status, body)
			}
			checkError(t, hostileCase{param: "-", code: rc.code}, []byte(body))
		})
	}
	checkHealthy(t, ts, baseline)
}

func checkError(t *testing.T, tc hostileCase, body []byte) {
	t.Helper()
	e := errorOf(t, body)
	if tc.errType != "" && e["type"] != tc.errType {
		t.Errorf("type %v, want %s: %s", e["type"], tc.errType, body)
	}
	switch tc.param {
	case "":
	case "-":
		if e["param"] != nil {
			t.Errorf("param %v, want null", e["param"])
		}
	default:
		if e["param"] != tc.param {
			t.Errorf("param %v, want %s: %s", e["param"], tc.param, body)
		}
	}
	if tc.code != "" && e["code"] != tc.code {
		t.Errorf("code %v, want %s", e["code"], tc.code)
	}
}

type rawCase struct {
	name   string
	raw    string
	status int
	code   string
}

func rawCases(ts *testServer) []rawCase {
	host := strings.TrimPrefix(ts.url, "http://")
	return []rawCase{
		{"oversize body", "POST /v1/chat/completions HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n", 413, "request_too_large"},
		{"oversize headers", "GET /health HTTP/1.1\r\nHost: " + host + "\r\nX-Junk: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", 431, "headers_too_large"},
		{"slow headers", "POST /v1/chat/completions HTTP/1.1\r\nHost: " + host + "\r\n", 408, "request_timeout"},
		{"slow body", "POST /v1/chat/completions HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 100\r\n\r\n{\"model\"", 408, "request_timeout"},
		{"garbage request line", "HELLO\r\n\r\n", 400, ""},
	}
}

// checkHealthy asserts the server still serves, and that every request's
// goroutines and generator slots are gone.
func checkHealthy(t *testing.T, ts *testServer, baseline int) {
	t.Helper()
	if resp, body := ts.do("GET", "/health", ""); resp.StatusCode != 200 {
		t.Fatalf("health %d: %s", resp.StatusCode, body)
	}
	if resp, body := ts.post(chatPath, chatBody("")); resp.StatusCode != 200 {
		t.Fatalf("a valid request after the hostile ones: %d %s", resp.StatusCode, body)
	}
	ts.client.CloseIdleConnections()
	settle(t, "generator requests to close", func() bool { return ts.gen.open.Load() == 0 })
	settle(t, "request goroutines to end", func() bool { return apiGoroutines() == 0 })
	settle(t, fmt.Sprintf("goroutines back to %d", baseline), func() bool { return runtime.NumGoroutine() <= baseline+2 })
}

package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseChatRequest(t *testing.T) {
	cases := []struct {
		name, body string
		wantErr    string // substring; "" for valid
	}{
		{"minimal", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, ""},
		{"parts and nulls", `{"model":"m","messages":[{"role":"assistant","content":null},{"role":"user","content":[{"type":"text","text":"a"}]}]}`, ""},
		{"stop string", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":"END"}`, ""},
		{"no model", `{"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{"no messages", `{"model":"m","messages":[]}`, "messages"},
		{"bad role", `{"model":"m","messages":[{"role":"robot","content":"hi"}]}`, "role"},
		{"temperature range", `{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":2.5}`, "temperature"},
		{"top_p range", `{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":-0.1}`, "top_p"},
		{"n range", `{"model":"m","messages":[{"role":"user","content":"hi"}],"n":0}`, "n:"},
		{"max_tokens range", `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}`, "max_tokens"},
		{"content number", `{"model":"m","messages":[{"role":"user","content":5}]}`, "content"},
		{"part without type", `{"model":"m","messages":[{"role":"user","content":[{"text":"a"}]}]}`, "type"},
		{"stop number", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":5}`, "stop"},
		{"too many stops", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"]}`, "stop"},
		{"not json", `{"model":`, "request body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseChatRequest([]byte(tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

// TestRequestJSONRoundTrip: decoding and re-encoding keeps every field,
// modelled or not, so a request can pass through unchanged.
func TestRequestJSONRoundTrip(t *testing.T) {
	in := `{"model":"m","messages":[{"role":"system","content":"s"},` +
		`{"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},` +
		`{"role":"assistant","content":"","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"c1","content":"42"}],` +
		`"max_completion_tokens":9,"temperature":0,"top_p":1,"n":1,"stop":["a","b"],"stream":true,` +
		`"stream_options":{"include_usage":true},"seed":3,"presence_penalty":0,"frequency_penalty":0.5,` +
		`"logprobs":true,"top_logprobs":2,"user":"u",` +
		`"response_format":{"type":"json_object"},"tools":[{"type":"function","function":{"name":"f"}}],"x_vendor":[1, 2]}`
	req, err := ParseChatRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Extra) != 3 || req.Messages[1].Content.String() != "look" || *req.Temperature != 0 {
		t.Fatalf("decoded: extra %v, content %q", req.Extra, req.Messages[1].Content.String())
	}
	out := mustJSON(t, req)
	for _, d := range jsonDiff(t, out, []byte(in)) {
		t.Error(d)
	}
}

func TestContentAndStopForms(t *testing.T) {
	var c Content
	for in, want := range map[string]string{
		`"plain"`: `"plain"`,
		`null`:    `""`,
		`[{"type":"text","text":"a"},{"type":"text","text":"b"}]`: `[{"type":"text","text":"a"},{"type":"text","text":"b"}]`,
		`[]`: `[]`,
	} {
		if err := json.Unmarshal([]byte(in), &c); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := string(mustJSON(t, c)); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	var s Stop
	for in, want := range map[string]int{`"x"`: 1, `["x","y"]`: 2, `null`: 0} {
		if err := json.Unmarshal([]byte(in), &s); err != nil || len(s) != want {
			t.Errorf("stop %s: %v len %d, want %d", in, err, len(s), want)
		}
	}
}

// TestErrorChunkWire: the mid-stream error event is OpenAI's bare
// {"error": ...} object, which OpenAI SDKs raise as an exception.
func TestErrorChunkWire(t *testing.T) {
	got := string(mustJSON(t, ErrorChunk(ErrIdleTimeout)))
	if !strings.HasPrefix(got, `{"error":{"message":"the upstream provider failed mid-stream`) ||
		!strings.Contains(got, `"code":"upstream_idle_timeout"`) || strings.Contains(got, "choices") {
		t.Fatalf("error chunk %s", got)
	}
	usage := ChatChunk{ID: "a", Object: "chat.completion.chunk", Choices: []ChunkChoice{}, Usage: &Usage{PromptTokens: 1}}
	if got := string(mustJSON(t, usage)); !strings.Contains(got, `"choices":[]`) {
		t.Fatalf("usage chunk must keep an empty choices array: %s", got)
	}
}

func TestHasToken(t *testing.T) {
	empty, text := "", "x"
	stop := "stop"
	cases := []struct {
		name string
		ch   ChatChunk
		want bool
	}{
		{"role only", ChatChunk{Choices: []ChunkChoice{{Delta: Delta{Role: "assistant", Content: &empty}}}}, false},
		{"usage only", ChatChunk{Choices: []ChunkChoice{}, Usage: &Usage{}}, false},
		{"text", ChatChunk{Choices: []ChunkChoice{{Delta: Delta{Content: &text}}}}, true},
		{"finish", ChatChunk{Choices: []ChunkChoice{{FinishReason: &stop}}}, true},
		{"tool call", ChatChunk{Choices: []ChunkChoice{{Delta: Delta{ToolCalls: json.RawMessage(`[{}]`)}}}}, true},
	}
	for _, tc := range cases {
		if got := tc.ch.hasToken(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{&UpstreamError{Status: 400}, 400},
		{fmt.Errorf("%w: %w", ErrNoTarget, &UpstreamError{Status: 422}), 422},
		{fmt.Errorf("%w: %w", ErrNoTarget, &UpstreamError{Status: 500}), 502},
		{fmt.Errorf("%w: %w", ErrNoTarget, &UpstreamError{Status: 401}), 502},
		{fmt.Errorf("%w: %w", ErrNoTarget, &UpstreamError{Err: ErrFirstTokenTimeout}), 502},
		{fmt.Errorf("%w: %w", ErrNoTarget, fmt.Errorf("x: %w", ErrUnsupported)), 400},
		{fmt.Errorf("%w: %w", ErrNoTarget, fmt.Errorf("x: %w", ErrBreakerOpen)), 503},
		{fmt.Errorf("%w: t", ErrBudgetExceeded), 429},
		{context.DeadlineExceeded, 504},
	}
	for _, tc := range cases {
		if got := HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

package federation

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestOpenAIRequestOnTheWire: what an OpenAI-compatible upstream
// receives: the mapped model, the client's fields including unmodelled
// ones, the usage request on streams, and the key as a Bearer token.
func TestOpenAIRequestOnTheWire(t *testing.T) {
	for _, stream := range []bool{false, true} {
		up := newFake(t, wireOpenAI)
		cfg := provCfg("vllm", wireOpenAI, up.url())
		cfg.APIKeyEnv = "VLLM_KEY"
		cfg.Models = map[string]string{"llama": "meta-llama/Llama-3.1-8B-Instruct"}
		cfg.Headers = map[string]string{"OpenAI-Organization": "org-1", "Authorization": "must not win"}
		p, err := NewProvider(cfg, func(string) string { return "sk-test" }, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		req, err := ParseChatRequest([]byte(`{"model":"llama","messages":[{"role":"user","content":"hi"}],` +
			`"temperature":0.2,"tools":[{"type":"function","function":{"name":"f"}}],"logit_bias":{"50256":-100}}`))
		if err != nil {
			t.Fatal(err)
		}
		if stream {
			st, err := p.ChatStream(bg, req)
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := st.Recv(); err != nil {
					if err != io.EOF {
						t.Fatal(err)
					}
					break
				}
			}
			st.Close()
		} else if _, err := p.Chat(bg, req); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(up.lastBody(), &got); err != nil {
			t.Fatal(err)
		}
		want := `{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"user","content":"hi"}],"temperature":0.2,` +
			`"tools":[{"type":"function","function":{"name":"f"}}],"logit_bias":{"50256":-100}}`
		if stream {
			want = strings.Replace(want, `"temperature"`, `"stream":true,"stream_options":{"include_usage":true},"temperature"`, 1)
		}
		for _, d := range jsonDiff(t, up.lastBody(), []byte(want)) {
			t.Errorf("stream=%v: %s", stream, d)
		}
		h := up.headers[0]
		if h.Get("Authorization") != "Bearer sk-test" || h.Get("OpenAI-Organization") != "org-1" {
			t.Errorf("headers: %v", h)
		}
	}
}

func TestOpenAIMissingKeyIsNamed(t *testing.T) {
	cfg := provCfg("openai", wireOpenAI, "https://api.openai.com/v1")
	cfg.APIKeyEnv = "OPENAI_API_KEY_FOR_TEST"
	_, err := NewProvider(cfg, func(string) string { return "" }, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY_FOR_TEST") {
		t.Fatalf("err = %v, want it to name the variable", err)
	}
}

// TestOpenAIResponseValidation: bodies that parse but are no answer.
func TestOpenAIResponseValidation(t *testing.T) {
	cases := []struct {
		body    string
		wantErr error // errors.Is; nil: an UpstreamError with a Type
	}{
		{`{"error":{"message":"model overloaded","type":"server_error"}}`, nil},
		{`{"id":"x","object":"chat.completion","choices":[]}`, ErrMalformed},
		{`{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}`, ErrMalformed},
		{`<html>502 Bad Gateway</html>`, ErrMalformed},
	}
	for _, tc := range cases {
		_, err := decodeOpenAIResponse("p", []byte(tc.body))
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Provider != "p" {
			t.Errorf("%s: err %v, want an UpstreamError", tc.body, err)
			continue
		}
		if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: err %v, want %v", tc.body, err, tc.wantErr)
		}
		if tc.wantErr == nil && ue.Type != "server_error" {
			t.Errorf("%s: type %q", tc.body, ue.Type)
		}
		if classify(err) != classTransient {
			t.Errorf("%s: classified %v, want transient", tc.body, classify(err))
		}
	}
}

// TestOpenAIStreamDecoder: completion is [DONE], or a clean end after a
// finish_reason (servers that omit [DONE]); anything else is truncation.
func TestOpenAIStreamDecoder(t *testing.T) {
	role := `data: {"id":"a","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]}` + "\n\n"
	tok := `data: {"id":"a","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}` + "\n\n"
	fin := `data: {"id":"a","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	cases := []struct {
		name, raw string
		chunks    int
		wantErr   error
	}{
		{"done", role + tok + fin + "data: [DONE]\n\n", 3, nil},
		{"done without blank line", role + tok + fin + "data: [DONE]", 3, nil},
		{"finish then EOF", role + tok + fin, 3, nil},
		{"no finish", role + tok, 2, ErrTruncated},
		{"keep-alive comments", ": ping\n\n" + role + ": ping\n\n" + tok + fin + "data: [DONE]\n\n", 3, nil},
		{"error event", role + `data: {"error":{"message":"boom","type":"server_error"}}` + "\n\n", 1, &UpstreamError{}},
		{"not JSON", role + "data: {oops\n\n", 1, ErrMalformed},
		{"events after DONE ignored", role + fin + "data: [DONE]\n\n" + tok, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &openAIDecoder{}
			n := 0
			var err error
			for _, ev := range sseEvents(t, []byte(tc.raw)) {
				var ch *ChatChunk
				var done bool
				ch, done, err = d.decode(ev)
				if err != nil || done {
					break
				}
				if ch != nil {
					n++
				}
			}
			if err == nil && !strings.Contains(tc.raw, "[DONE]") {
				err = d.eof()
			}
			if n != tc.chunks {
				t.Errorf("%d chunks, want %d", n, tc.chunks)
			}
			var ue *UpstreamError
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Errorf("err = %v", err)
				}
			case *UpstreamError:
				if !errors.As(err, &ue) {
					t.Errorf("err = %v, want an UpstreamError", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want %v", err, want)
				}
			}
		})
	}
}

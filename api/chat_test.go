package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestChatCompletion(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.post("/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"Hi"}],"max_tokens":3}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Spillway-Route"); got != "local" {
		t.Errorf("X-Spillway-Route = %q, want local", got)
	}
	var r chatResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.ID, "chatcmpl-") || r.Object != "chat.completion" || r.Created == 0 || r.Model != "fake" || r.SystemFingerprint != "fp_test" {
		t.Errorf("envelope: %+v", r)
	}
	if len(r.Choices) != 1 {
		t.Fatalf("choices: %+v", r.Choices)
	}
	c := r.Choices[0]
	if c.Message.Role != "assistant" || c.Message.Content != " Hello world!" || c.FinishReason != "length" || c.Logprobs != nil {
		t.Errorf("choice: %+v", c)
	}
	reqs := ts.gen.requests()
	prompt := len(reqs[0].Prompt)
	want := usage{PromptTokens: prompt, CompletionTokens: 3, TotalTokens: prompt + 3, PromptTokensDetails: promptDetails{CachedTokens: prompt / 2}}
	if r.Usage != want {
		t.Errorf("usage %+v, want %+v", r.Usage, want)
	}
	// Raw document: null fields must be present as null, as OpenAI sends them.
	for _, frag := range []string{`"logprobs":null`, `"refusal":null`, `"finish_reason":"length"`} {
		if !strings.Contains(string(body), frag) {
			t.Errorf("body lacks %s: %s", frag, body)
		}
	}
}

func TestChatPromptHasOneBOS(t *testing.T) {
	ts := newTestServer(t)
	ts.post("/v1/chat/completions", `{"model":"fake","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":1}`)
	p := ts.gen.requests()[0].Prompt
	if p[0] != tokBOS || p[1] == tokBOS {
		t.Fatalf("prompt should start with exactly one BOS: %v", p[:4])
	}
	bos := 0
	for _, id := range p {
		if id == tokBOS {
			bos++
		}
	}
	if bos != 1 {
		t.Errorf("%d BOS tokens in the prompt, want 1", bos)
	}
	if p[1] != tokIMStart || p[len(p)-1] == tokEOS {
		t.Errorf("special tokens of the template should be parsed, and no EOS added: %v", p)
	}
}

func TestChatStopNAndSeed(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name, body string
		want       []string
		finish     []string
	}{
		{"stop string", `"max_tokens":8,"stop":" the"`, []string{" Hello world!"}, []string{"stop"}},
		{"stop array first match", `"max_tokens":8,"stop":["cat","!"]`, []string{" Hello world"}, []string{"stop"}},
		{"n=3", `"max_tokens":2,"n":3`, []string{" Hello world", " world!", "! the"}, []string{"length", "length", "length"}},
		{"seed shifts", `"max_tokens":2,"seed":3`, []string{" the cat"}, []string{"length"}},
		{"stop token ids", `"max_tokens":5,"stop_token_ids":[` + fmt.Sprint(wordID(3)) + `]`, []string{" Hello world!"}, []string{"stop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.post("/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],`+tt.body+`}`)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var r chatResponse
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Choices) != len(tt.want) {
				t.Fatalf("%d choices, want %d", len(r.Choices), len(tt.want))
			}
			for i, c := range r.Choices {
				if c.Index != i || c.Message.Content != tt.want[i] || c.FinishReason != tt.finish[i] {
					t.Errorf("choice %d = %d %q %s, want %q %s", i, c.Index, c.Message.Content, c.FinishReason, tt.want[i], tt.finish[i])
				}
			}
		})
	}
}

func TestChatLogprobsShape(t *testing.T) {
	ts := newTestServer(t)
	_, body := ts.post("/v1/chat/completions", `{"model":"fake","messages":[{"role":"user","content":"x"}],"max_tokens":2,"logprobs":true,"top_logprobs":2}`)
	var r struct {
		Choices []struct {
			Logprobs struct {
				Content []struct {
					Token       string  `json:"token"`
					Logprob     float64 `json:"logprob"`
					Bytes       []int   `json:"bytes"`
					TopLogprobs []struct {
						Token   string  `json:"token"`
						Logprob float64 `json:"logprob"`
						Bytes   []int   `json:"bytes"`
					} `json:"top_logprobs"`
				} `json:"content"`
			} `json:"logprobs"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	content := r.Choices[0].Logprobs.Content
	if len(content) != 2 {
		t.Fatalf("want 2 logprob entries: %s", body)
	}
	first := content[0]
	if first.Token != " Hello" || first.Logprob != -0.5 || string(bytesOf(first.Bytes)) != " Hello" || len(first.TopLogprobs) != 2 {
		t.Errorf("entry: %+v", first)
	}
	if top := first.TopLogprobs[1]; top.Token != " world" || top.Logprob != -1.5 || string(bytesOf(top.Bytes)) != " world" {
		t.Errorf("top entry: %+v", top)
	}
}

func bytesOf(v []int) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

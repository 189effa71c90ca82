package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func addFixtures(f *testing.F, glob string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", glob))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseChatRequest: no input panics, and whatever parses re-encodes
// to a body that parses to the same encoding.
func FuzzParseChatRequest(f *testing.F) {
	addFixtures(f, "anthropic/request_basic.openai.json")
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}],"stop":"s","tools":[]}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":null}],"n":1,"x":{"y":[1,{}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseChatRequest(body)
		if err != nil {
			return
		}
		b1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("parsed request does not encode: %v", err)
		}
		r2, err := ParseChatRequest(b1)
		if err != nil {
			t.Fatalf("re-encoded request does not parse: %v\n%s", err, b1)
		}
		if b2, _ := json.Marshal(r2); !bytes.Equal(b1, b2) {
			t.Fatalf("encoding not stable:\n%s\n%s", b1, b2)
		}
		if _, err := toAnthropic(r, "m", 16, true); err != nil && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("translation failed without naming the cause: %v", err)
		}
	})
}

// FuzzSSEReader: framing never panics and never returns more than its
// bounds.
func FuzzSSEReader(f *testing.F) {
	addFixtures(f, "anthropic/*.sse")
	f.Add([]byte("data: a\r\ndata: b\n\n:c\nevent: x\ndata\n\ndata: [DONE]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := newSSEReader(bytes.NewReader(raw))
		for range len(raw) + 2 {
			ev, err := r.next()
			if err != nil {
				return
			}
			if len(ev.data) > maxSSEEvent {
				t.Fatalf("event of %d bytes", len(ev.data))
			}
		}
		t.Fatal("reader did not terminate")
	})
}

// drainDecoder feeds raw SSE through a decoder as sseStream does.
func drainDecoder(t *testing.T, raw []byte, dec decoder) (chunks []*ChatChunk, clean bool) {
	r := newSSEReader(bytes.NewReader(raw))
	for {
		ev, err := r.next()
		if err == io.EOF {
			return chunks, dec.eof() == nil
		}
		if err != nil {
			return chunks, false
		}
		ch, done, err := dec.decode(ev)
		if err != nil {
			return chunks, false
		}
		if ch != nil {
			if _, err := json.Marshal(ch); err != nil {
				t.Fatalf("chunk does not encode: %v", err)
			}
			chunks = append(chunks, ch)
		}
		if done {
			return chunks, true
		}
	}
}

// FuzzAnthropicStream: arbitrary event streams never panic; a stream
// the decoder accepts as complete ends with the usage chunk.
func FuzzAnthropicStream(f *testing.F) {
	addFixtures(f, "anthropic/*.sse")
	f.Fuzz(func(t *testing.T, raw []byte) {
		chunks, clean := drainDecoder(t, raw, &anthDecoder{})
		if clean && (len(chunks) == 0 || chunks[len(chunks)-1].Usage == nil) {
			t.Fatalf("complete stream without a final usage chunk: %d chunks", len(chunks))
		}
	})
}

// FuzzOpenAIStream: likewise for chat.completion.chunk streams.
func FuzzOpenAIStream(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {\"error\":{\"message\":\"m\",\"type\":\"t\",\"code\":5}}\n\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		drainDecoder(t, raw, &openAIDecoder{})
	})
}

// FuzzDecodeResponses: non-streamed bodies of both formats; a success
// always carries at least one choice.
func FuzzDecodeResponses(f *testing.F) {
	addFixtures(f, "anthropic/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		if r, err := decodeOpenAIResponse("p", body); err == nil && len(r.Choices) == 0 {
			t.Fatal("OpenAI success without choices")
		}
		if r, err := decodeAnthropicResponse("p", body, time.Unix(0, 0)); err == nil && len(r.Choices) != 1 {
			t.Fatal("Anthropic success without its one choice")
		}
	})
}

// FuzzLoadConfig: configuration parsing never panics, and what it
// accepts builds a federation.
func FuzzLoadConfig(f *testing.F) {
	addFixtures(f, "config.yaml")
	f.Add([]byte("providers: [{name: p, kind: openai, base_url: 'http://h/v1'}]\nroutes: [{model: m, targets: [p, local]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadConfig(data)
		if err != nil {
			return
		}
		if _, err := New(c, Options{Getenv: func(string) string { return "k" }}); err != nil {
			t.Fatalf("accepted config does not build: %v", err)
		}
	})
}

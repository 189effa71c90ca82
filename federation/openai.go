package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// openAIProvider speaks OpenAI's chat.completions, as OpenAI, vLLM,
// llama.cpp's server, Ollama and Spillway itself do.
type openAIProvider struct {
	cfg ProviderConfig
	key string
	up  *upstream
	url string
}

func (p *openAIProvider) Name() string { return p.cfg.Name }

// body is the upstream request: the client's, renamed to the upstream
// model, asking streams for the usage chunk accounting needs.
func (p *openAIProvider) body(req *ChatRequest, stream bool) ([]byte, error) {
	r := *req
	r.Model = p.cfg.upstreamModel(req.Model)
	r.Stream = stream
	r.StreamOptions = nil
	if stream {
		r.StreamOptions = &StreamOptions{IncludeUsage: true}
	}
	return json.Marshal(r)
}

func (p *openAIProvider) send(ctx context.Context, req *ChatRequest, stream bool) (*exchange, error) {
	body, err := p.body(req, stream)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	h := headers(p.cfg.Headers, stream)
	if p.key != "" {
		h.Set("Authorization", "Bearer "+p.key)
	}
	return p.up.post(ctx, p.url, h, body, stream)
}

func (p *openAIProvider) Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	x, err := p.send(ctx, req, false)
	if err != nil {
		return nil, err
	}
	defer x.close()
	b, err := x.readAll(p.cfg.Name)
	if err != nil {
		return nil, err
	}
	return decodeOpenAIResponse(p.cfg.Name, b)
}

// decodeOpenAIResponse parses a chat.completion, refusing bodies that
// parse but are not one (an error object with status 200, an empty
// choices list), since a client must never get an empty success.
func decodeOpenAIResponse(provider string, b []byte) (*ChatResponse, error) {
	var env struct {
		ChatResponse
		Error *ErrorBody `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, &UpstreamError{Provider: provider, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	if env.Error != nil {
		return nil, &UpstreamError{Provider: provider, Type: env.Error.Type, Message: env.Error.Message}
	}
	if len(env.Choices) == 0 {
		return nil, &UpstreamError{Provider: provider, Err: fmt.Errorf("%w: response has no choices", ErrMalformed)}
	}
	r := env.ChatResponse
	return &r, nil
}

func (p *openAIProvider) ChatStream(ctx context.Context, req *ChatRequest) (Stream, error) {
	x, err := p.send(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return newSSEStream(p.cfg.Name, x, &openAIDecoder{}), nil
}

var doneMarker = []byte("[DONE]")

// openAIDecoder reads chat.completion.chunk events up to data: [DONE].
type openAIDecoder struct {
	finished bool // a finish_reason was seen
}

func (d *openAIDecoder) decode(ev sseEvent) (*ChatChunk, bool, error) {
	data := bytes.TrimSpace(ev.data)
	if bytes.Equal(data, doneMarker) {
		return nil, true, nil
	}
	var ch ChatChunk
	if err := json.Unmarshal(data, &ch); err != nil {
		return nil, false, fmt.Errorf("%w: chunk: %v", ErrMalformed, err)
	}
	if ch.Error != nil {
		return nil, false, &UpstreamError{Type: ch.Error.Type, Message: ch.Error.Message}
	}
	for _, c := range ch.Choices {
		if c.FinishReason != nil {
			d.finished = true
		}
	}
	return &ch, false, nil
}

// eof tolerates servers that close after the final chunk without
// [DONE]; a stream that ends before any finish_reason was cut short.
func (d *openAIDecoder) eof() error {
	if d.finished {
		return nil
	}
	return ErrTruncated
}

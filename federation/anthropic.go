package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// anthropicProvider speaks Anthropic's Messages API and translates to and
// from OpenAI's shapes.
type anthropicProvider struct {
	cfg   ProviderConfig
	key   string
	up    *upstream
	url   string
	clock Clock
}

func (p *anthropicProvider) Name() string { return p.cfg.Name }

func (p *anthropicProvider) send(ctx context.Context, req *ChatRequest, stream bool) (*exchange, error) {
	ar, err := toAnthropic(req, p.cfg.upstreamModel(req.Model), p.cfg.DefaultMaxTokens, stream)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(ar)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	h := headers(p.cfg.Headers, stream)
	h.Set("Anthropic-Version", p.cfg.AnthropicVersion)
	if p.key != "" {
		h.Set("X-Api-Key", p.key)
	}
	return p.up.post(ctx, p.url, h, body, stream)
}

func (p *anthropicProvider) Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error) {
	x, err := p.send(ctx, req, false)
	if err != nil {
		return nil, err
	}
	defer x.close()
	b, err := x.readAll(p.cfg.Name)
	if err != nil {
		return nil, err
	}
	return decodeAnthropicResponse(p.cfg.Name, b, p.clock.Now())
}

func decodeAnthropicResponse(provider string, b []byte, now time.Time) (*ChatResponse, error) {
	var r struct {
		anthResponse
		Error *anthErrorBody `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, &UpstreamError{Provider: provider, Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	if r.Type == "error" && r.Error != nil {
		return nil, &UpstreamError{Provider: provider, Type: r.Error.Type, Message: r.Error.Message}
	}
	if r.Type != "message" {
		return nil, &UpstreamError{Provider: provider, Err: fmt.Errorf("%w: response type %q, want message", ErrMalformed, r.Type)}
	}
	return fromAnthropic(&r.anthResponse, now), nil
}

func (p *anthropicProvider) ChatStream(ctx context.Context, req *ChatRequest) (Stream, error) {
	x, err := p.send(ctx, req, true)
	if err != nil {
		return nil, err
	}
	return newSSEStream(p.cfg.Name, x, &anthDecoder{created: p.clock.Now().Unix()}), nil
}

// anthDecoder turns Messages stream events into chat.completion.chunks:
// message_start → role chunk; text deltas → content chunks;
// message_delta → the finish_reason chunk; message_stop → the usage
// chunk, then the end. ping and unknown event types (the API may add
// some) carry nothing; an error event fails the stream.
type anthDecoder struct {
	created int64
	id      string
	model   string
	usage   anthUsage
	started bool
}

func (d *anthDecoder) decode(ev sseEvent) (*ChatChunk, bool, error) {
	var e anthEvent
	if err := json.Unmarshal(ev.data, &e); err != nil {
		return nil, false, fmt.Errorf("%w: event %q: %v", ErrMalformed, ev.name, err)
	}
	if e.Type != "message_start" && e.Type != "ping" && e.Type != "error" && !d.started {
		return nil, false, fmt.Errorf("%w: %q before message_start", ErrMalformed, e.Type)
	}
	switch e.Type {
	case "message_start":
		if e.Message == nil {
			return nil, false, fmt.Errorf("%w: message_start without message", ErrMalformed)
		}
		d.started = true
		d.id, d.model, d.usage = e.Message.ID, e.Message.Model, e.Message.Usage
		return d.chunk(Delta{Role: "assistant", Content: strPtr("")}, nil), false, nil
	case "content_block_start":
		if b := e.ContentBlock; b != nil && b.Type == "text" && b.Text != "" {
			return d.chunk(Delta{Content: strPtr(b.Text)}, nil), false, nil
		}
	case "content_block_delta":
		if e.Delta != nil && e.Delta.Type == "text_delta" {
			return d.chunk(Delta{Content: strPtr(e.Delta.Text)}, nil), false, nil
		}
	case "message_delta":
		d.mergeUsage(e.Usage)
		if e.Delta != nil && e.Delta.StopReason != nil {
			return d.chunk(Delta{}, strPtr(finishReason(e.Delta.StopReason))), false, nil
		}
	case "message_stop":
		return &ChatChunk{ID: d.id, Object: "chat.completion.chunk", Created: d.created, Model: d.model,
			Choices: []ChunkChoice{}, Usage: d.usage.openAI()}, true, nil
	case "error":
		ue := &UpstreamError{Type: "api_error", Message: "error event without detail"}
		if e.Error != nil {
			ue.Type, ue.Message = e.Error.Type, e.Error.Message
		}
		return nil, false, ue
	}
	return nil, false, nil
}

// mergeUsage applies message_delta's usage: its counts are cumulative,
// so the larger value wins (output_tokens grows; newer API versions
// repeat input counts there too).
func (d *anthDecoder) mergeUsage(u *anthUsage) {
	if u == nil {
		return
	}
	d.usage.OutputTokens = max(d.usage.OutputTokens, u.OutputTokens)
	d.usage.InputTokens = max(d.usage.InputTokens, u.InputTokens)
	d.usage.CacheReadInputTokens = max(d.usage.CacheReadInputTokens, u.CacheReadInputTokens)
	d.usage.CacheCreationInputTokens = max(d.usage.CacheCreationInputTokens, u.CacheCreationInputTokens)
}

func (d *anthDecoder) chunk(delta Delta, finish *string) *ChatChunk {
	return &ChatChunk{ID: d.id, Object: "chat.completion.chunk", Created: d.created, Model: d.model,
		Choices: []ChunkChoice{{Index: 0, Delta: delta, FinishReason: finish}}}
}

// eof: a Messages stream is complete only with message_stop.
func (d *anthDecoder) eof() error { return ErrTruncated }

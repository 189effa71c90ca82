package federation

import (
	"encoding/json"
)

// The wire types below follow OpenAI's chat.completions format field for
// field, so the API layer can hand over either these structs or raw JSON
// bodies. Pointers mark parameters whose absence differs from their zero
// value (temperature 0 is deterministic; an absent temperature is 1).

// ChatRequest is a chat.completions request body.
type ChatRequest struct {
	Model               string         `json:"model"`
	Messages            []Message      `json:"messages"`
	MaxTokens           *int           `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int           `json:"max_completion_tokens,omitempty"`
	Temperature         *float64       `json:"temperature,omitempty"`
	TopP                *float64       `json:"top_p,omitempty"`
	N                   *int           `json:"n,omitempty"`
	Stop                Stop           `json:"stop,omitempty"`
	Stream              bool           `json:"stream,omitempty"`
	StreamOptions       *StreamOptions `json:"stream_options,omitempty"`
	Seed                *int64         `json:"seed,omitempty"`
	PresencePenalty     *float64       `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64       `json:"frequency_penalty,omitempty"`
	Logprobs            bool           `json:"logprobs,omitempty"`
	TopLogprobs         *int           `json:"top_logprobs,omitempty"`
	User                string         `json:"user,omitempty"`

	// Extra holds the body's fields this type does not model (tools,
	// response_format, logit_bias, vendor extensions). OpenAI-compatible
	// upstreams receive them verbatim; translating providers refuse the
	// ones they cannot honour instead of dropping them silently.
	Extra map[string]json.RawMessage `json:"-"`
}

// StreamOptions is OpenAI's stream_options object.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one conversation turn.
type Message struct {
	Role       string          `json:"role"`
	Content    Content         `json:"content"`
	Name       string          `json:"name,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
	ToolCalls  json.RawMessage `json:"tool_calls,omitempty"`
}

// Content is a message's content: a plain string, or (when Parts is not
// nil) an array of typed parts.
type Content struct {
	Text  string
	Parts []Part
}

// Part is one element of an array content. Non-text parts (images, audio)
// keep their original JSON so they pass through unchanged.
type Part struct {
	Type string
	Text string
	raw  json.RawMessage
}

// Stop holds stop sequences; on the wire a string or an array of strings.
type Stop []string

// ChatResponse is a non-streamed chat.completion.
type ChatResponse struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	Choices           []Choice `json:"choices"`
	Usage             *Usage   `json:"usage,omitempty"`
}

// Choice is one generated alternative of a ChatResponse.
type Choice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the assistant message inside a Choice.
type ResponseMessage struct {
	Role      string          `json:"role"`
	Content   string          `json:"content"`
	Refusal   *string         `json:"refusal,omitempty"`
	ToolCalls json.RawMessage `json:"tool_calls,omitempty"`
}

// Usage counts tokens as the upstream billed them.
type Usage struct {
	PromptTokens        int            `json:"prompt_tokens"`
	CompletionTokens    int            `json:"completion_tokens"`
	TotalTokens         int            `json:"total_tokens"`
	PromptTokensDetails *PromptDetails `json:"prompt_tokens_details,omitempty"`
}

// PromptDetails breaks prompt tokens down; CachedTokens were served from
// the upstream's prompt cache.
type PromptDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// ChatChunk is one chat.completion.chunk of a stream. A chunk whose Error
// is set is the explicit error event that ends a broken stream; with its
// other fields zero it marshals as OpenAI's bare {"error": {...}} event.
// (omitzero keeps an empty but non-nil Choices, as the usage chunk needs
// "choices": [].)
type ChatChunk struct {
	ID                string        `json:"id,omitzero"`
	Object            string        `json:"object,omitzero"`
	Created           int64         `json:"created,omitzero"`
	Model             string        `json:"model,omitzero"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	Choices           []ChunkChoice `json:"choices,omitzero"`
	Usage             *Usage        `json:"usage,omitempty"`
	Error             *ErrorBody    `json:"error,omitempty"`
}

// ChunkChoice is one choice's increment inside a ChatChunk.
type ChunkChoice struct {
	Index        int             `json:"index"`
	Delta        Delta           `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs,omitempty"`
	FinishReason *string         `json:"finish_reason"`
}

// Delta is the new part of the assistant message.
type Delta struct {
	Role      string          `json:"role,omitempty"`
	Content   *string         `json:"content,omitempty"`
	Refusal   *string         `json:"refusal,omitempty"`
	ToolCalls json.RawMessage `json:"tool_calls,omitempty"`
}

// ErrorBody is OpenAI's error object, the value of {"error": ...}.
type ErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    any     `json:"code"`
}

// MaxOutputTokens is the request's output cap: max_completion_tokens,
// else max_tokens, else 0 (unset).
func (r *ChatRequest) MaxOutputTokens() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// WantsUsage reports whether a streaming client asked for the final
// usage chunk (stream_options.include_usage).
func (r *ChatRequest) WantsUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// String returns the content's text: the string form, or the text parts
// joined without separator.
func (c Content) String() string {
	if c.Parts == nil {
		return c.Text
	}
	n := 0
	for _, p := range c.Parts {
		n += len(p.Text)
	}
	b := make([]byte, 0, n)
	for _, p := range c.Parts {
		if p.Type == "text" {
			b = append(b, p.Text...)
		}
	}
	return string(b)
}

// TextContent builds a plain-string Content.
func TextContent(s string) Content { return Content{Text: s} }

// hasToken reports whether the chunk carries generated output (text,
// refusal, tool calls) or a finish reason: the things whose arrival is
// the "first token", as opposed to role-only preambles and usage tails.
func (c *ChatChunk) hasToken() bool {
	for i := range c.Choices {
		ch := &c.Choices[i]
		d := &ch.Delta
		if ch.FinishReason != nil || (d.Content != nil && *d.Content != "") ||
			(d.Refusal != nil && *d.Refusal != "") || len(d.ToolCalls) > 0 {
			return true
		}
	}
	return false
}

func strPtr(s string) *string { return &s }

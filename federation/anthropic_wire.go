package federation

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Anthropic Messages API wire types (POST /v1/messages), only the fields
// the translation reads or writes.

type anthRequest struct {
	Model         string        `json:"model"`
	MaxTokens     int           `json:"max_tokens"`
	System        string        `json:"system,omitempty"`
	Messages      []anthMessage `json:"messages"`
	StopSequences []string      `json:"stop_sequences,omitempty"`
	Stream        bool          `json:"stream,omitempty"`
	Temperature   *float64      `json:"temperature,omitempty"`
	TopP          *float64      `json:"top_p,omitempty"`
	TopK          *int          `json:"top_k,omitempty"`
	Metadata      *anthMetadata `json:"metadata,omitempty"`
}

type anthMetadata struct {
	UserID string `json:"user_id"`
}

type anthMessage struct {
	Role    string      `json:"role"`
	Content []anthBlock `json:"content"`
}

// anthBlock is a content block of a request or a response. Responses may
// carry other block types (tool_use, thinking); only text is read.
type anthBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type anthResponse struct {
	ID           string      `json:"id"`
	Type         string      `json:"type"`
	Role         string      `json:"role"`
	Content      []anthBlock `json:"content"`
	Model        string      `json:"model"`
	StopReason   *string     `json:"stop_reason"`
	StopSequence *string     `json:"stop_sequence"`
	Usage        anthUsage   `json:"usage"`
}

type anthUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// anthEvent is any streaming event; Type selects which fields are set.
type anthEvent struct {
	Type         string         `json:"type"`
	Message      *anthResponse  `json:"message"`
	Index        int            `json:"index"`
	ContentBlock *anthBlock     `json:"content_block"`
	Delta        *anthDelta     `json:"delta"`
	Usage        *anthUsage     `json:"usage"`
	Error        *anthErrorBody `json:"error"`
}

type anthDelta struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

type anthErrorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// unsupportedExtras are OpenAI request fields with no faithful Anthropic
// translation here; dropping them would change the answer's meaning.
var unsupportedExtras = []string{"tools", "tool_choice", "functions", "function_call", "response_format", "logit_bias", "audio", "modalities", "prediction"}

// toAnthropic translates a chat request. System and developer turns
// become the top-level system prompt (Anthropic has no system role);
// consecutive turns of one role merge, as the API wants alternation;
// temperature is clamped to Anthropic's [0, 1].
func toAnthropic(req *ChatRequest, model string, defMax int, stream bool) (*anthRequest, error) {
	if err := anthCheck(req); err != nil {
		return nil, err
	}
	out := &anthRequest{Model: model, MaxTokens: req.MaxOutputTokens(), Stream: stream,
		StopSequences: req.Stop, TopP: req.TopP}
	if out.MaxTokens <= 0 {
		out.MaxTokens = defMax
	}
	if req.Temperature != nil {
		t := min(*req.Temperature, 1)
		out.Temperature = &t
	}
	if raw, ok := req.Extra["top_k"]; ok {
		var k int
		if json.Unmarshal(raw, &k) == nil && k > 0 {
			out.TopK = &k
		}
	}
	if req.User != "" {
		out.Metadata = &anthMetadata{UserID: req.User}
	}
	var system []string
	for i, m := range req.Messages {
		blocks, err := anthBlocks(m.Content)
		if err != nil {
			return nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
		switch m.Role {
		case "system", "developer":
			system = append(system, m.Content.String())
		case "user", "assistant":
			n := len(out.Messages)
			if n > 0 && out.Messages[n-1].Role == m.Role {
				out.Messages[n-1].Content = append(out.Messages[n-1].Content, blocks...)
				continue
			}
			out.Messages = append(out.Messages, anthMessage{Role: m.Role, Content: blocks})
		}
	}
	if len(out.Messages) == 0 {
		return nil, fmt.Errorf("%w: Anthropic needs at least one user or assistant message", ErrUnsupported)
	}
	out.System = strings.Join(system, "\n\n")
	return out, nil
}

func anthCheck(req *ChatRequest) error {
	switch {
	case req.N != nil && *req.N > 1:
		return fmt.Errorf("%w: n=%d (Anthropic returns one choice)", ErrUnsupported, *req.N)
	case req.Logprobs:
		return fmt.Errorf("%w: logprobs", ErrUnsupported)
	}
	for _, k := range unsupportedExtras {
		if _, ok := req.Extra[k]; ok {
			return fmt.Errorf("%w: %s", ErrUnsupported, k)
		}
	}
	for i, m := range req.Messages {
		if m.Role == "tool" || m.Role == "function" || len(m.ToolCalls) > 0 {
			return fmt.Errorf("%w: messages[%d]: tool turns", ErrUnsupported, i)
		}
	}
	return nil
}

func anthBlocks(c Content) ([]anthBlock, error) {
	if c.Parts == nil {
		return []anthBlock{{Type: "text", Text: c.Text}}, nil
	}
	out := make([]anthBlock, 0, len(c.Parts))
	for _, p := range c.Parts {
		if p.Type != "text" {
			return nil, fmt.Errorf("%w: content part type %q", ErrUnsupported, p.Type)
		}
		out = append(out, anthBlock{Type: "text", Text: p.Text})
	}
	return out, nil
}

// finishReason maps Anthropic's stop_reason to OpenAI's finish_reason.
func finishReason(stop *string) string {
	if stop == nil {
		return "stop"
	}
	switch *stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence, pause_turn
}

// usage folds Anthropic's prompt-cache counters into prompt_tokens, as
// OpenAI counts cached prompt tokens inside prompt_tokens.
func (u anthUsage) openAI() *Usage {
	prompt := u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
	out := &Usage{PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens}
	if u.CacheReadInputTokens > 0 {
		out.PromptTokensDetails = &PromptDetails{CachedTokens: u.CacheReadInputTokens}
	}
	return out
}

// fromAnthropic translates a Messages response into a chat.completion.
func fromAnthropic(r *anthResponse, now time.Time) *ChatResponse {
	var text strings.Builder
	for _, b := range r.Content {
		if b.Type == "text" {
			text.WriteString(b.Text)
		}
	}
	return &ChatResponse{
		ID: r.ID, Object: "chat.completion", Created: now.Unix(), Model: r.Model,
		Choices: []Choice{{
			Index:        0,
			Message:      ResponseMessage{Role: "assistant", Content: text.String()},
			FinishReason: finishReason(r.StopReason),
		}},
		Usage: r.Usage.openAI(),
	}
}

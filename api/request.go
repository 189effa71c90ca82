package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// commonFields are the request fields chat and text completions share.
// Pointers distinguish "absent" from zero; unknown fields are ignored, as
// OpenAI ignores them.
type commonFields struct {
	Model               string             `json:"model"`
	MaxTokens           *int               `json:"max_tokens"`
	MaxCompletionTokens *int               `json:"max_completion_tokens"`
	Temperature         *float64           `json:"temperature"`
	TopP                *float64           `json:"top_p"`
	TopK                *int               `json:"top_k"`
	MinP                *float64           `json:"min_p"`
	N                   *int               `json:"n"`
	Stop                stopList           `json:"stop"`
	StopTokenIDs        []int32            `json:"stop_token_ids"`
	Seed                *int64             `json:"seed"`
	PresencePenalty     *float64           `json:"presence_penalty"`
	FrequencyPenalty    *float64           `json:"frequency_penalty"`
	RepetitionPenalty   *float64           `json:"repetition_penalty"`
	LogitBias           map[string]float64 `json:"logit_bias"`
	Stream              bool               `json:"stream"`
	StreamOptions       *streamOptions     `json:"stream_options"`
	User                string             `json:"user"`
	IgnoreEOS           bool               `json:"ignore_eos"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatRequest is POST /v1/chat/completions.
type chatRequest struct {
	commonFields
	Messages    []chatMessage `json:"messages"`
	Logprobs    *bool         `json:"logprobs"`
	TopLogprobs *int          `json:"top_logprobs"`
	Route       string        `json:"route"` // local, remote or auto; read only when a federation routes the model
}

// completionRequest is POST /v1/completions.
type completionRequest struct {
	commonFields
	Prompt   promptInput `json:"prompt"`
	Logprobs *int        `json:"logprobs"`
}

// chatMessage is one input message. Content is a string, null (an
// assistant turn that only called tools) or an array of content parts of
// which only "text" parts are supported.
type chatMessage struct {
	Role    string         `json:"role"`
	Content messageContent `json:"content"`
}

type messageContent struct {
	Text string
}

type contentPart struct {
	Type string  `json:"type"`
	Text *string `json:"text"`
}

func (c *messageContent) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		c.Text = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &c.Text)
	case len(b) > 0 && b[0] == '[':
		var parts []contentPart
		if err := json.Unmarshal(b, &parts); err != nil {
			return fieldErr("messages", "content parts must be objects with \"type\" and \"text\"")
		}
		var sb strings.Builder
		for i, p := range parts {
			if p.Type != "text" {
				return fieldErr("messages", fmt.Sprintf("content part %d has type %q; only \"text\" parts are supported", i, p.Type))
			}
			if p.Text == nil {
				return fieldErr("messages", fmt.Sprintf("content part %d has no \"text\"", i))
			}
			if i > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(*p.Text)
		}
		c.Text = sb.String()
		return nil
	}
	return fieldErr("messages", "content must be a string, an array of text parts or null")
}

// stopList is OpenAI's stop: a string, an array of strings or null.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return fieldErr("stop", "stop must be a string or an array of strings")
		}
		*s = stopList{one}
		return nil
	case len(b) > 0 && b[0] == '[':
		var many []string
		if err := json.Unmarshal(b, &many); err != nil {
			return fieldErr("stop", "stop must be a string or an array of strings")
		}
		*s = many
		return nil
	}
	return fieldErr("stop", "stop must be a string or an array of strings")
}

// promptInput is the completions prompt: a string, an array of strings,
// an array of token ids or an array of arrays of token ids. Each element
// is one prompt; a batch of k prompts yields k×n choices.
type promptInput struct {
	Texts  []string  // set when the prompt was text
	Tokens [][]int32 // set when the prompt was token ids
	Set    bool
}

// Count is the number of prompts.
func (p *promptInput) Count() int { return len(p.Texts) + len(p.Tokens) }

func (p *promptInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	p.Set = true
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return errPromptShape
		}
		p.Texts = []string{s}
		return nil
	}
	var raw []json.RawMessage
	if len(b) == 0 || b[0] != '[' || json.Unmarshal(b, &raw) != nil {
		return errPromptShape
	}
	if len(raw) == 0 {
		return fieldErr("prompt", "prompt is an empty array")
	}
	switch first := bytes.TrimSpace(raw[0]); {
	case len(first) > 0 && first[0] == '"':
		return decodeAll(raw, &p.Texts)
	case len(first) > 0 && first[0] == '[':
		return decodeAll(raw, &p.Tokens)
	default:
		var ids []int32
		if json.Unmarshal(b, &ids) != nil {
			return errPromptShape
		}
		p.Tokens = [][]int32{ids}
		return nil
	}
}

var errPromptShape = fieldErr("prompt", "prompt must be a string, an array of strings, an array of token ids or an array of arrays of token ids")

// decodeAll decodes every element into one slice, failing on a mixed array.
func decodeAll[T any](raw []json.RawMessage, dst *[]T) error {
	out := make([]T, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			return errPromptShape
		}
	}
	*dst = out
	return nil
}

// decodeBody parses a JSON request body into v. Syntax errors, type errors
// and trailing garbage become 400s naming the offending field.
func decodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("", "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badRequest("", "the request body has data after the JSON object")
	}
	return nil
}

// fieldError is a decoding error of our own UnmarshalJSON methods, which
// encoding/json passes through without naming the field.
type fieldError struct{ param, msg string }

func (e *fieldError) Error() string { return e.msg }

func fieldErr(param, msg string) error { return &fieldError{param, msg} }

// jsonError turns a decoding error into an OpenAI-shaped 400.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var fe *fieldError
	switch {
	case errors.As(err, &se):
		return badRequest("", fmt.Sprintf("the request body is not valid JSON: %v (at byte %d)", se, se.Offset))
	case errors.As(err, &fe):
		return badRequest(fe.param, fe.msg)
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("", fmt.Sprintf("the request body must be a JSON object, not %s", te.Value))
		}
		field := strings.TrimPrefix(te.Field, "commonFields.")
		want := jsonTypeName(te.Type.Kind().String())
		if strings.HasPrefix(te.Value, "number ") {
			return badRequest(field, fmt.Sprintf("%s: %s is not %s in range", field, te.Value, want))
		}
		return badRequest(field, fmt.Sprintf("%s: expected %s, got %s", field, want, te.Value))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the request body is not valid JSON: it ends early")
	}
	return badRequest("", "the request body is not valid JSON: "+err.Error())
}

func jsonTypeName(kind string) string {
	switch kind {
	case "int", "int32", "int64", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	case "ptr":
		return "a value"
	}
	return kind
}

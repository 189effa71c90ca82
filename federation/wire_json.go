package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
)

// MaxRequestBytes bounds a request body ParseChatRequest accepts.
const MaxRequestBytes = 32 << 20

// chatRequestFields is ChatRequest without its methods, so the custom
// (un)marshalers can reuse the default struct codec.
type chatRequestFields ChatRequest

// knownRequestKeys are the JSON names ChatRequest models; the rest of a
// body goes to Extra.
var knownRequestKeys = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[chatRequestFields]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

// UnmarshalJSON decodes the modelled fields and keeps the others in Extra.
func (r *ChatRequest) UnmarshalJSON(b []byte) error {
	var f chatRequestFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k := range all {
		if knownRequestKeys[k] {
			delete(all, k)
		}
	}
	if len(all) == 0 {
		all = nil
	}
	f.Extra = all
	*r = ChatRequest(f)
	return nil
}

// MarshalJSON encodes the modelled fields, then Extra's in key order (a
// stable order keeps cache keys stable). Extra never overrides a modelled
// field.
func (r ChatRequest) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(chatRequestFields(r))
	if err != nil || len(r.Extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(r.Extra))
	for k := range r.Extra {
		if !knownRequestKeys[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1]) // drop the closing brace
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		buf.WriteByte(',')
		buf.Write(kb)
		buf.WriteByte(':')
		if err := json.Compact(&buf, r.Extra[k]); err != nil {
			return nil, fmt.Errorf("extra field %q: %w", k, err)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON accepts a string, null, or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*c = Content{}
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &c.Text)
	case b[0] == '[':
		var parts []Part
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		if parts == nil {
			parts = []Part{}
		}
		c.Parts = parts
		return nil
	}
	return errors.New("content must be a string, null or an array of parts")
}

// MarshalJSON writes the array form when Parts is set, else the string.
func (c Content) MarshalJSON() ([]byte, error) {
	if c.Parts != nil {
		return json.Marshal(c.Parts)
	}
	return json.Marshal(c.Text)
}

// UnmarshalJSON keeps the raw bytes of non-text parts.
func (p *Part) UnmarshalJSON(b []byte) error {
	var f struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if f.Type == "" {
		return errors.New("content part without a type")
	}
	*p = Part{Type: f.Type, Text: f.Text}
	if f.Type != "text" {
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		p.raw = buf.Bytes()
	}
	return nil
}

// MarshalJSON writes a text part, or a non-text part's original bytes.
func (p Part) MarshalJSON() ([]byte, error) {
	if p.raw != nil {
		return p.raw, nil
	}
	return json.Marshal(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{p.Type, p.Text})
}

// UnmarshalJSON accepts a string, null, or an array of strings.
func (s *Stop) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("stop must be a string or an array of strings")
	}
	*s = many
	return nil
}

// ParseChatRequest decodes and validates a chat.completions body.
func ParseChatRequest(body []byte) (*ChatRequest, error) {
	if len(body) > MaxRequestBytes {
		return nil, fmt.Errorf("request body is %d bytes, limit %d", len(body), MaxRequestBytes)
	}
	var r ChatRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

var validRoles = map[string]bool{
	"system": true, "developer": true, "user": true,
	"assistant": true, "tool": true, "function": true,
}

// Validate checks the parameters against OpenAI's documented ranges, so a
// bad request is refused here rather than by every upstream in turn.
func (r *ChatRequest) Validate() error {
	if r.Model == "" {
		return errors.New("model: required")
	}
	if len(r.Messages) == 0 {
		return errors.New("messages: at least one message is required")
	}
	for i, m := range r.Messages {
		if !validRoles[m.Role] {
			return fmt.Errorf("messages[%d].role: unknown role %q", i, m.Role)
		}
	}
	checks := []struct {
		name    string
		v       *float64
		lo, hi  float64
		present bool
	}{
		{"temperature", r.Temperature, 0, 2, r.Temperature != nil},
		{"top_p", r.TopP, 0, 1, r.TopP != nil},
		{"presence_penalty", r.PresencePenalty, -2, 2, r.PresencePenalty != nil},
		{"frequency_penalty", r.FrequencyPenalty, -2, 2, r.FrequencyPenalty != nil},
	}
	for _, c := range checks {
		if c.present && (math.IsNaN(*c.v) || *c.v < c.lo || *c.v > c.hi) {
			return fmt.Errorf("%s: %v outside [%v, %v]", c.name, *c.v, c.lo, c.hi)
		}
	}
	return r.validateCounts()
}

func (r *ChatRequest) validateCounts() error {
	ints := []struct {
		name   string
		v      *int
		lo, hi int
	}{
		{"n", r.N, 1, 128},
		{"max_tokens", r.MaxTokens, 1, math.MaxInt32},
		{"max_completion_tokens", r.MaxCompletionTokens, 1, math.MaxInt32},
		{"top_logprobs", r.TopLogprobs, 0, 20},
	}
	for _, c := range ints {
		if c.v != nil && (*c.v < c.lo || *c.v > c.hi) {
			return fmt.Errorf("%s: %d outside [%d, %d]", c.name, *c.v, c.lo, c.hi)
		}
	}
	if len(r.Stop) > 16 {
		return fmt.Errorf("stop: %d sequences, at most 16", len(r.Stop))
	}
	return nil
}

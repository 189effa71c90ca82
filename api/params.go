package api

import (
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"spillway/engine/sample"
	"spillway/scheduler"
)

// Limits on request parameters beyond what sample.Params.Validate checks.
const (
	maxChoices      = 128  // n, and n × prompts for batched completions (OpenAI's n limit)
	maxStops        = 16   // stop strings (OpenAI allows 4; vLLM any number)
	maxStopBytes    = 1024 // one stop string
	maxStopTokenIDs = 256
	maxLogitBias    = 4096 // entries
	defaultMaxCompl = 16   // completions' max_tokens when absent (OpenAI's legacy default)
)

// samplingParams converts and validates the sampling fields for a model
// with vocab tokens. wantLogprobs and top come from the endpoint's own
// logprobs fields.
func (c *commonFields) samplingParams(vocab int, wantLogprobs bool, top int) (sample.Params, error) {
	p := sample.Defaults()
	f32 := func(dst *float32, v *float64, name string) error {
		if v == nil {
			return nil
		}
		if math.IsNaN(*v) || math.Abs(*v) > math.MaxFloat32 {
			return badRequest(name, fmt.Sprintf("%s %v is not a finite number", name, *v))
		}
		*dst = float32(*v)
		return nil
	}
	for _, f := range []struct {
		dst  *float32
		v    *float64
		name string
	}{
		{&p.Temperature, c.Temperature, "temperature"}, {&p.TopP, c.TopP, "top_p"}, {&p.MinP, c.MinP, "min_p"},
		{&p.PresencePenalty, c.PresencePenalty, "presence_penalty"}, {&p.FrequencyPenalty, c.FrequencyPenalty, "frequency_penalty"},
		{&p.RepetitionPenalty, c.RepetitionPenalty, "repetition_penalty"},
	} {
		if err := f32(f.dst, f.v, f.name); err != nil {
			return p, err
		}
	}
	if c.TopK != nil {
		p.TopK = *c.TopK
	}
	if c.Seed != nil {
		seed := uint64(*c.Seed)
		p.Seed = &seed
	}
	bias, err := parseLogitBias(c.LogitBias)
	if err != nil {
		return p, err
	}
	p.LogitBias = bias
	p.WantLogprobs, p.Logprobs = wantLogprobs, top
	if err := p.Validate(vocab); err != nil {
		return p, err
	}
	return p, nil
}

// parseLogitBias reads OpenAI's {"token id": bias} map.
func parseLogitBias(m map[string]float64) (map[int32]float32, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if len(m) > maxLogitBias {
		return nil, badRequest("logit_bias", fmt.Sprintf("logit_bias has %d entries, over the limit of %d", len(m), maxLogitBias))
	}
	out := make(map[int32]float32, len(m))
	for k, v := range m {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil {
			return nil, badRequest("logit_bias", fmt.Sprintf("logit_bias key %q is not a token id", k))
		}
		if math.IsNaN(v) || math.Abs(v) > math.MaxFloat32 {
			return nil, badRequest("logit_bias", fmt.Sprintf("logit_bias value for %d is not a finite number", id))
		}
		out[int32(id)] = float32(v)
	}
	return out, nil
}

// choices validates n.
func (c *commonFields) choices() (int, error) {
	if c.N == nil {
		return 1, nil
	}
	if *c.N < 1 || *c.N > maxChoices {
		return 0, paramRange("n", *c.N, 1, maxChoices)
	}
	return *c.N, nil
}

// stopStrings validates stop.
func (c *commonFields) stopStrings() ([]string, error) {
	if len(c.Stop) > maxStops {
		return nil, badRequest("stop", fmt.Sprintf("stop has %d sequences, over the limit of %d", len(c.Stop), maxStops))
	}
	for i, s := range c.Stop {
		if s == "" || len(s) > maxStopBytes || !utf8.ValidString(s) {
			return nil, badRequest("stop", fmt.Sprintf("stop sequence %d must be non-empty UTF-8 of at most %d bytes", i, maxStopBytes))
		}
	}
	return c.Stop, nil
}

// stopTokens is the model's end-of-generation ids (unless ignore_eos) plus
// the request's stop_token_ids.
func (c *commonFields) stopTokens(m *Model) ([]int32, error) {
	if len(c.StopTokenIDs) > maxStopTokenIDs {
		return nil, badRequest("stop_token_ids", fmt.Sprintf("stop_token_ids has %d entries, over the limit of %d", len(c.StopTokenIDs), maxStopTokenIDs))
	}
	var ids []int32
	if !c.IgnoreEOS {
		ids = m.Tokenizer.EOG()
	}
	vocab := int32(m.Tokenizer.VocabSize())
	for _, id := range c.StopTokenIDs {
		if id < 0 || id >= vocab {
			return nil, badRequest("stop_token_ids", fmt.Sprintf("token id %d is outside the vocabulary [0, %d)", id, vocab))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// maxNewTokens resolves max_completion_tokens / max_tokens against the
// context: absent, it is what the context leaves (chat) or def clamped to
// it (completions); present, prompt plus it must fit.
func (c *commonFields) maxNewTokens(prompt, contextLen, def int) (int, error) {
	req, param := c.MaxCompletionTokens, "max_completion_tokens"
	if req == nil {
		req, param = c.MaxTokens, "max_tokens"
	}
	left := contextLen - prompt
	if req == nil {
		if left < 1 {
			return 0, &scheduler.TooLongError{PromptTokens: prompt, MaxTokens: 1, ContextLen: contextLen}
		}
		if def > 0 {
			return min(def, left), nil
		}
		return left, nil
	}
	if *req < 1 {
		return 0, badRequest(param, fmt.Sprintf("%s must be at least 1, got %d", param, *req))
	}
	if *req > left {
		return 0, &scheduler.TooLongError{PromptTokens: prompt, MaxTokens: *req, ContextLen: contextLen}
	}
	return *req, nil
}

// schedRequest assembles the scheduler request for one prompt.
func (s *Server) schedRequest(c *commonFields, m *Model, id string, prompt []int32, p sample.Params,
	maxTokens, n int, stops []string, stopIDs []int32, t *tenantState) *scheduler.Request {
	return &scheduler.Request{
		ID: id, Prompt: prompt, Sampling: p, MaxTokens: maxTokens, StopStrings: stops, StopTokens: stopIDs,
		IgnoreEOS: c.IgnoreEOS, N: n, Priority: t.priority(), Tenant: t.name(), Arrival: s.cfg.Now(),
	}
}

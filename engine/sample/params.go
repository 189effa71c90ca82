package sample

import (
	"fmt"
	"math"
	"slices"
)

// LogprobsMode says which distribution Result.Logprob and Result.Top describe.
type LogprobsMode uint8

const (
	// LogprobsRaw is log_softmax of the model's logits as given to Sample,
	// before logit bias, penalties, temperature and filters. It is vLLM V1's
	// default ("raw_logprobs") and what llama.cpp's server reports by
	// default, and it is what OpenAI documents: the model's own likelihood,
	// the same whatever temperature the caller chose.
	LogprobsRaw LogprobsMode = iota
	// LogprobsPenalized is log_softmax after logit bias and penalties but
	// before temperature, min_p, top_k and top_p.
	LogprobsPenalized
	// LogprobsProcessed is the distribution the token was actually drawn
	// from: after temperature and every filter, renormalized over the
	// surviving tokens (vLLM's "processed_logprobs"). Greedy sampling
	// reports the penalized distribution, as vLLM does.
	LogprobsProcessed
)

func (m LogprobsMode) String() string {
	switch m {
	case LogprobsRaw:
		return "raw"
	case LogprobsPenalized:
		return "penalized"
	case LogprobsProcessed:
		return "processed"
	}
	return fmt.Sprintf("LogprobsMode(%d)", uint8(m))
}

// Limits that Validate enforces. OpenAI caps temperature at 2; vLLM and
// llama.cpp have no cap. We allow more than OpenAI so that experiments with
// very flat distributions work, but not unbounded values.
const (
	MaxTemperature = 100
	MaxPenalty     = 2   // |presence_penalty|, |frequency_penalty| (OpenAI)
	MaxLogitBias   = 100 // |logit_bias value| (OpenAI)
	MaxTopLogprobs = 20  // top_logprobs (OpenAI, vLLM's default cap)
)

// greedyEps is vLLM's _SAMPLING_EPS: below it a temperature means greedy,
// which also keeps 1/T finite.
const greedyEps = 1e-5

// Params are one sequence's sampling parameters. Start from Defaults: the
// zero value is greedy but has TopP and RepetitionPenalty at 0, which
// Validate rejects (New treats them as off).
type Params struct {
	Temperature       float32 // 0 (or < 1e-5) = greedy
	TopK              int     // 0 or -1 = off
	TopP              float32 // 1 = off
	MinP              float32 // 0 = off
	RepetitionPenalty float32 // 1 = off; HF/vLLM: divide positive logits, multiply negative ones, over prompt+output tokens
	PresencePenalty   float32 // OpenAI: subtract once from every token already generated
	FrequencyPenalty  float32 // OpenAI: subtract per occurrence in the generated tokens
	LogitBias         map[int32]float32
	Seed              *uint64 // nil = seeded from crypto/rand
	Logprobs          int     // number of top logprobs to return, 0..MaxTopLogprobs
	WantLogprobs      bool    // report the sampled token's logprob (and Logprobs top ones)
	LogprobsMode      LogprobsMode
}

// Defaults are OpenAI's defaults: temperature 1, nucleus and penalties off.
func Defaults() Params {
	return Params{Temperature: 1, TopP: 1, RepetitionPenalty: 1}
}

// ForChoice returns the parameters of choice i of a request with n > 1
// choices: the same, except that a fixed seed becomes Seed+i, so that
// choices differ while the request stays reproducible (choice 0 samples
// exactly as a single-choice request with the same seed).
func (p Params) ForChoice(i int) Params {
	if p.Seed != nil && i != 0 {
		seed := *p.Seed + uint64(i)
		p.Seed = &seed
	}
	return p
}

// IsGreedy reports whether sampling reduces to argmax: temperature 0 (or
// below vLLM's 1e-5) or top_k 1.
func (p *Params) IsGreedy() bool {
	return p.Temperature < greedyEps || p.TopK == 1
}

// ParamError names the request parameter (OpenAI's spelling) that is out of
// range, so the API layer can fill the error's "param" field.
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string { return "invalid " + e.Param + ": " + e.Msg }

func paramErr(param, format string, args ...any) error {
	return &ParamError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// finite reports whether x is neither NaN nor ±Inf.
func finite(x float32) bool { return !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) }

// Validate checks every parameter against its range for a model with vocab
// tokens. The error is a *ParamError naming the parameter and the value.
func (p *Params) Validate(vocab int) error {
	if vocab <= 0 {
		return fmt.Errorf("sample: vocabulary size %d", vocab)
	}
	if !finite(p.Temperature) || p.Temperature < 0 || p.Temperature > MaxTemperature {
		return paramErr("temperature", "%v is outside [0, %d]", p.Temperature, MaxTemperature)
	}
	if p.TopK < -1 {
		return paramErr("top_k", "%d must be -1 (off), 0 (off) or positive", p.TopK)
	}
	if !finite(p.TopP) || p.TopP <= 0 || p.TopP > 1 {
		return paramErr("top_p", "%v is outside (0, 1]", p.TopP)
	}
	if !finite(p.MinP) || p.MinP < 0 || p.MinP > 1 {
		return paramErr("min_p", "%v is outside [0, 1]", p.MinP)
	}
	if !finite(p.RepetitionPenalty) || p.RepetitionPenalty <= 0 {
		return paramErr("repetition_penalty", "%v must be positive (1 = off)", p.RepetitionPenalty)
	}
	if !finite(p.PresencePenalty) || abs32(p.PresencePenalty) > MaxPenalty {
		return paramErr("presence_penalty", "%v is outside [-%d, %d]", p.PresencePenalty, MaxPenalty, MaxPenalty)
	}
	if !finite(p.FrequencyPenalty) || abs32(p.FrequencyPenalty) > MaxPenalty {
		return paramErr("frequency_penalty", "%v is outside [-%d, %d]", p.FrequencyPenalty, MaxPenalty, MaxPenalty)
	}
	if err := validateBias(p.LogitBias, vocab); err != nil {
		return err
	}
	if p.Logprobs < 0 || p.Logprobs > MaxTopLogprobs {
		return paramErr("top_logprobs", "%d is outside [0, %d]", p.Logprobs, MaxTopLogprobs)
	}
	if p.Logprobs > 0 && !p.WantLogprobs {
		return paramErr("top_logprobs", "%d top logprobs requested without logprobs", p.Logprobs)
	}
	if p.LogprobsMode > LogprobsProcessed {
		return paramErr("logprobs_mode", "unknown mode %d", p.LogprobsMode)
	}
	return nil
}

// validateBias checks ids in ascending order so that the error for a map
// with several bad entries is always the same one.
func validateBias(bias map[int32]float32, vocab int) error {
	ids := make([]int32, 0, len(bias))
	for id := range bias {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		v := bias[id]
		if id < 0 || int(id) >= vocab {
			return paramErr("logit_bias", "token id %d is outside the vocabulary [0, %d)", id, vocab)
		}
		if !finite(v) || abs32(v) > MaxLogitBias {
			return paramErr("logit_bias", "value %v for token %d is outside [-%d, %d]", v, id, MaxLogitBias, MaxLogitBias)
		}
	}
	return nil
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

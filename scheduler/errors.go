package scheduler

import (
	"errors"
	"fmt"
)

// ErrSaturated: the admission queue is full (HTTP 503, or spill).
var ErrSaturated = errors.New("scheduler: saturated: the request queue is full")

// ErrClosed: the scheduler is shutting down.
var ErrClosed = errors.New("scheduler: shutting down")

// TooLongError: prompt plus max_tokens does not fit the context (HTTP 400).
type TooLongError struct {
	PromptTokens, MaxTokens, ContextLen int
}

func (e *TooLongError) Error() string {
	return fmt.Sprintf("this model's maximum context length is %d tokens; the request has %d prompt tokens and asks for %d completion tokens (%d in total)",
		e.ContextLen, e.PromptTokens, e.MaxTokens, e.PromptTokens+e.MaxTokens)
}

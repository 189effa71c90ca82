package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrServeLocally means the decision's next target is the local
	// engine: the caller serves the request itself.
	ErrServeLocally = errors.New("federation: serve locally")
	// ErrBudgetExceeded means the tenant's spill budget is spent and no
	// local target remains; spilling stops, local service does not.
	ErrBudgetExceeded = errors.New("federation: tenant spill budget exhausted")
	// ErrNoTarget means every target was unavailable or failed.
	ErrNoTarget = errors.New("federation: no route target could serve the request")
	// ErrBreakerOpen means the provider's circuit breaker refused the call.
	ErrBreakerOpen = errors.New("federation: circuit breaker open")
	// ErrProviderBusy means the provider's concurrency or requests/min
	// limit is reached.
	ErrProviderBusy = errors.New("federation: provider at its concurrency or rate limit")
	// ErrUnsupported means the request uses a feature the provider cannot
	// express (e.g. n > 1 or tools on the Anthropic translation).
	ErrUnsupported = errors.New("federation: request not expressible for this provider")
	// ErrClientGone means the stream callback refused a chunk.
	ErrClientGone = errors.New("federation: client stopped reading")

	ErrFirstTokenTimeout = errors.New("federation: no first token within the first-token timeout")
	ErrIdleTimeout       = errors.New("federation: upstream stream idle beyond the idle timeout")
	ErrRequestTimeout    = errors.New("federation: upstream request exceeded its timeout")
	ErrConnectTimeout    = errors.New("federation: connect timeout")
	// ErrTruncated means a stream ended without its terminal event.
	ErrTruncated = errors.New("federation: upstream stream ended without its terminal event")
	// ErrMalformed means the upstream sent bytes that do not parse.
	ErrMalformed = errors.New("federation: malformed upstream response")
)

// UpstreamError is a failed exchange with one provider.
type UpstreamError struct {
	Provider   string
	Status     int    // HTTP status; 0 when the failure is not an HTTP answer
	Type       string // the upstream's error type, e.g. rate_limit_error
	Message    string
	RetryAfter time.Duration // the upstream's Retry-After; 0 when absent
	Err        error         // transport or protocol cause, if any
}

func (e *UpstreamError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "upstream %s", e.Provider)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Type != "" {
		fmt.Fprintf(&b, " %s", e.Type)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *UpstreamError) Unwrap() error { return e.Err }

// StreamError is a stream that failed after chunks reached the client.
// It is final: nothing is retried or re-sent elsewhere, and the client
// has been sent an explicit error chunk.
type StreamError struct {
	Provider  string
	Delivered int // chunks the client received before the failure
	Err       error
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("federation: upstream %s failed after %d chunks reached the client: %v",
		e.Provider, e.Delivered, e.Err)
}

func (e *StreamError) Unwrap() error { return e.Err }

// class says what the Spiller does after an attempt failed.
type class int

const (
	classOK        class = iota
	classTransient       // retry the same provider after a backoff, then fail over
	classProvider        // the provider cannot serve: fail over, no retry
	classSkip            // not the provider's health: fail over, breaker untouched
	classClient          // the request itself is bad: stop, report to the client
	classCanceled        // the caller went away: stop
)

func classify(err error) class {
	if err == nil {
		return classOK
	}
	var se *StreamError
	switch {
	case errors.As(err, &se):
		return classClient // final by construction
	case errors.Is(err, ErrClientGone), errors.Is(err, context.Canceled):
		return classCanceled
	case errors.Is(err, ErrBreakerOpen), errors.Is(err, ErrProviderBusy),
		errors.Is(err, ErrUnsupported), errors.Is(err, ErrBudgetExceeded):
		return classSkip
	}
	var ue *UpstreamError
	if errors.As(err, &ue) && ue.Status != 0 {
		return classifyStatus(ue.Status)
	}
	if ue != nil && ue.Type != "" {
		return classifyType(ue.Type)
	}
	return classTransient // transport failures, timeouts, malformed bytes
}

func classifyStatus(status int) class {
	switch {
	case status == http.StatusRequestTimeout, status == http.StatusConflict,
		status == http.StatusTooEarly, status == http.StatusTooManyRequests,
		status >= 500:
		return classTransient
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound, status == http.StatusPaymentRequired:
		return classProvider
	}
	return classClient
}

// classifyType maps error types carried inside a 200 stream (Anthropic's
// error event) where no status exists.
func classifyType(t string) class {
	switch t {
	case "invalid_request_error", "request_too_large":
		return classClient
	case "authentication_error", "permission_error", "not_found_error", "billing_error":
		return classProvider
	}
	return classTransient
}

// breakerOutcome says how an attempt's error counts for the breaker:
// only the provider's own failures do.
func breakerOutcome(c class) outcome {
	switch c {
	case classOK:
		return outcomeSuccess
	case classTransient, classProvider:
		return outcomeFailure
	}
	return outcomeNeutral
}

// retryAfter is the upstream's requested wait, if any.
func retryAfter(err error) time.Duration {
	var ue *UpstreamError
	if errors.As(err, &ue) {
		return ue.RetryAfter
	}
	return 0
}

// parseRetryAfter reads retry-after-ms (OpenAI) or Retry-After (seconds or
// an HTTP date). Nonsense yields 0: the backoff schedule applies instead.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && s < 1e6 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// errorFromResponse builds the UpstreamError of a non-2xx answer from its
// (already size-limited) body, understanding both OpenAI's
// {"error":{"message","type"}} and Anthropic's
// {"type":"error","error":{"type","message"}}.
func errorFromResponse(provider string, resp *http.Response, body []byte, now time.Time) *UpstreamError {
	ue := &UpstreamError{
		Provider:   provider,
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header, now),
	}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Error) > 0 {
		var eb struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(env.Error, &eb) == nil {
			ue.Type, ue.Message = eb.Type, eb.Message
		} else {
			_ = json.Unmarshal(env.Error, &ue.Message) // some servers send a bare string
		}
	}
	if ue.Message == "" {
		ue.Message = truncateText(string(body), 200)
	}
	return ue
}

func truncateText(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// wrapTransport attributes a dial, write or read failure to its provider.
func wrapTransport(provider string, err error) error {
	var ue *UpstreamError
	if errors.As(err, &ue) {
		if ue.Provider == "" {
			ue.Provider = provider
		}
		return err
	}
	return &UpstreamError{Provider: provider, Err: err}
}

// ErrorChunk is the explicit error event that ends a client stream whose
// upstream failed mid-way.
func ErrorChunk(err error) *ChatChunk {
	code := "upstream_error"
	switch {
	case errors.Is(err, ErrIdleTimeout):
		code = "upstream_idle_timeout"
	case errors.Is(err, ErrTruncated):
		code = "upstream_truncated"
	case errors.Is(err, ErrMalformed):
		code = "upstream_malformed"
	}
	return &ChatChunk{Error: &ErrorBody{
		Message: "the upstream provider failed mid-stream; the response is incomplete: " + err.Error(),
		Type:    "upstream_error",
		Code:    code,
	}}
}

// HTTPStatus is the status the API answers a failed spill with: the
// upstream's own 4xx for a request every provider would refuse, 400 for
// a request no target can express, 429 for a spent budget, 502 when
// upstreams failed, 503 when none was available, 504 when the caller's
// deadline passed.
func HTTPStatus(err error) int {
	var ue *UpstreamError
	isUpstream := errors.As(err, &ue)
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, ErrBudgetExceeded):
		return http.StatusTooManyRequests
	case isUpstream && ue.Status >= 400 && ue.Status < 500 && classifyStatus(ue.Status) == classClient:
		return ue.Status
	case isUpstream:
		return http.StatusBadGateway
	case errors.Is(err, ErrUnsupported):
		return http.StatusBadRequest
	}
	return http.StatusServiceUnavailable
}

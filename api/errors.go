package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"

	"spillway/engine/chat"
	"spillway/engine/sample"
	"spillway/scheduler"
)

// apiError is an error with its HTTP status and OpenAI's error fields.
type apiError struct {
	Status     int
	Message    string
	Type       string // invalid_request_error, requests, tokens, server_error
	Param      string // "" becomes null
	Code       string // "" becomes null
	RetryAfter int    // seconds; > 0 sets Retry-After
}

func (e *apiError) Error() string { return e.Message }

func badRequest(param, msg string) *apiError {
	return &apiError{Status: fasthttp.StatusBadRequest, Message: msg, Type: "invalid_request_error", Param: param}
}

func notFound(msg, code string) *apiError {
	return &apiError{Status: fasthttp.StatusNotFound, Message: msg, Type: "invalid_request_error", Code: code}
}

func unavailable(msg, code string) *apiError {
	return &apiError{Status: fasthttp.StatusServiceUnavailable, Message: msg, Type: "server_error", Code: code}
}

func serverError(msg string) *apiError {
	return &apiError{Status: fasthttp.StatusInternalServerError, Message: msg, Type: "server_error"}
}

// errorBody is OpenAI's error document: {"error":{message,type,param,code}}.
type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (e *apiError) body() errorBody {
	return errorBody{Error: errorFields{Message: e.Message, Type: e.Type, Param: optString(e.Param), Code: optString(e.Code)}}
}

// classify maps any error reaching a handler to an apiError: our own pass
// through; the scheduler's, the sampler's and the template's get their
// documented statuses; anything else is a 500 that hides nothing useful.
func classify(err error) *apiError {
	var ae *apiError
	var tl *scheduler.TooLongError
	var pe *sample.ParamError
	var re *chat.RaisedError
	var le *chat.LimitError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &tl):
		e := badRequest("messages", tl.Error())
		e.Code = "context_length_exceeded"
		return e
	case errors.As(err, &pe):
		return badRequest(pe.Param, pe.Error())
	case errors.Is(err, scheduler.ErrSaturated):
		e := unavailable("the server is saturated: "+err.Error()+"; retry later", "server_saturated")
		e.RetryAfter = 1
		return e
	case errors.Is(err, scheduler.ErrClosed):
		return unavailable("the server is shutting down", "shutting_down")
	case errors.As(err, &re):
		return badRequest("messages", "the chat template refused the conversation: "+re.Message)
	case errors.As(err, &le):
		return badRequest("messages", err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{Status: fasthttp.StatusGatewayTimeout, Message: "the request timed out before it finished", Type: "server_error", Code: "timeout"}
	case errors.Is(err, context.Canceled):
		return unavailable("the request was cancelled (the server is shutting down or the client went away)", "cancelled")
	}
	return serverError("internal error: " + err.Error())
}

// writeError sends err as an OpenAI error document with its status.
func writeError(rc *fasthttp.RequestCtx, err error) {
	e := classify(err)
	b, mErr := json.Marshal(e.body())
	if mErr != nil { // cannot happen: plain strings only
		b = []byte(`{"error":{"message":"internal error","type":"server_error","param":null,"code":null}}`)
	}
	rc.Response.ResetBody()
	rc.SetStatusCode(e.Status)
	rc.SetContentType("application/json")
	if e.RetryAfter > 0 {
		rc.Response.Header.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	rc.SetBody(b)
}

// sseError is the JSON of an error event ending a stream that already
// started: clients see {"error":{...}} in a data line, as OpenAI sends.
func sseError(err error) []byte {
	b, _ := json.Marshal(classify(err).body())
	return b
}

// paramRange is the 400 for an integer parameter outside its range.
func paramRange(param string, v int, lo, hi int) *apiError {
	return badRequest(param, fmt.Sprintf("%s %d is outside [%d, %d]", param, v, lo, hi))
}

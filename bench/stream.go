package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Stream limits: no OpenAI chunk comes near these, and they keep a
// misbehaving server from growing our memory without bound.
const (
	maxSSELine   = 1 << 20
	maxSSEChunks = 1 << 20
)

// reqError is a failed request: its kind (the Err* constants or http_NNN)
// and what happened.
type reqError struct {
	kind string
	msg  string
}

func (e *reqError) Error() string { return e.kind + ": " + e.msg }

func fail(kind, format string, a ...any) error {
	return &reqError{kind: kind, msg: fmt.Sprintf(format, a...)}
}

// streamChunk is the part of a chat.completion.chunk or text_completion
// chunk that the benchmark reads.
type streamChunk struct {
	Choices []struct {
		Text  string `json:"text"`
		Delta struct {
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// hasContent reports a chunk that carries generated text: the chunks that
// TTFT and ITL are timed on (role-only and usage-only chunks are not).
func (c *streamChunk) hasContent() bool {
	for _, ch := range c.Choices {
		if ch.Text != "" || ch.Delta.Content != "" || ch.Delta.ReasoningContent != "" {
			return true
		}
	}
	return false
}

// readStream reads a server-sent event stream into res: TTFT and ITL from
// the content chunks, Latency at "data: [DONE]", token counts from the
// last usage seen (else the number of content chunks). now gives the time
// since the request was sent. A nil error means the stream completed.
func readStream(r io.Reader, now func() time.Duration, res *Result) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	var data []byte // the current event's data lines, joined by \n
	var pending bool
	st := streamTimes{res: res, now: now}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 { // blank line: dispatch the event
			if pending {
				if done, err := st.event(data); done || err != nil {
					return err
				}
			}
			data, pending = data[:0], false
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue // comments (":"), event:, id:, retry:
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if pending {
			data = append(data, '\n')
		}
		data, pending = append(data, value...), true
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fail(ErrBadResponse, "a stream line is longer than %d bytes", maxSSELine)
		}
		return err // a transport error: the caller classifies it
	}
	if pending { // a last event without its blank line: accept it
		if done, err := st.event(data); done || err != nil {
			return err
		}
	}
	return fail(ErrBrokenStream, "stream ended after %d content chunks without [DONE]", st.chunks)
}

// streamTimes accumulates one request's timeline.
type streamTimes struct {
	res    *Result
	now    func() time.Duration
	chunks int           // content chunks so far
	last   time.Duration // when the previous content chunk arrived
}

// event handles one event's data; done reports the end of the stream.
func (st *streamTimes) event(data []byte) (done bool, err error) {
	t := st.now()
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		return true, st.finish(t)
	}
	var c streamChunk
	if err := json.Unmarshal(data, &c); err != nil {
		return false, fail(ErrBadResponse, "unparsable chunk %.80q: %v", data, err)
	}
	if len(c.Error) > 0 && !bytes.Equal(c.Error, []byte("null")) {
		return false, fail(ErrStreamError, "server error event: %.200s", c.Error)
	}
	if c.Usage != nil {
		st.res.PromptTokens, st.res.OutputTokens, st.res.Usage = c.Usage.PromptTokens, c.Usage.CompletionTokens, true
	}
	if !c.hasContent() {
		return false, nil
	}
	if st.chunks == maxSSEChunks {
		return false, fail(ErrBadResponse, "more than %d content chunks", maxSSEChunks)
	}
	if st.chunks == 0 {
		st.res.TTFT = t
	} else {
		st.res.ITL = append(st.res.ITL, t-st.last)
	}
	st.chunks++
	st.last = t
	return false, nil
}

func (st *streamTimes) finish(t time.Duration) error {
	if st.chunks == 0 {
		return fail(ErrEmpty, "stream finished without content")
	}
	st.res.Latency = t
	if !st.res.Usage {
		st.res.OutputTokens = st.chunks
	}
	if st.res.OutputTokens < 0 || st.res.PromptTokens < 0 {
		return fail(ErrBadResponse, "negative token counts in usage (%d prompt, %d completion)",
			st.res.PromptTokens, st.res.OutputTokens)
	}
	return nil
}

package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Replay limits: a line holds one prompt; a file holds at most this many.
const (
	maxReplayLine     = 4 << 20
	maxReplayRequests = 1 << 20
)

// replayLine is one line of a replay file:
//
//	{"prompt": "...", "output_len": 128, "prompt_len": 512, "system": "..."}
//
// prompt and output_len are required; prompt_len (the expected prompt
// tokens, for the record) and system (a shared system prompt) are optional.
// Other fields are ignored, so traces may carry their own annotations.
type replayLine struct {
	Prompt    *string `json:"prompt"`
	System    string  `json:"system"`
	OutputLen *int    `json:"output_len"`
	PromptLen int     `json:"prompt_len"`
}

// ParseReplay reads a JSONL replay trace. Blank lines are skipped; any
// other malformed line is an error naming its line number.
func ParseReplay(r io.Reader) ([]Request, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxReplayLine)
	var reqs []Request
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(reqs) == maxReplayRequests {
			return nil, fmt.Errorf("replay line %d: more than %d requests", line, maxReplayRequests)
		}
		req, err := parseReplayLine(b)
		if err != nil {
			return nil, fmt.Errorf("replay line %d: %w", line, err)
		}
		reqs = append(reqs, req)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("replay: a line is longer than %d bytes", maxReplayLine)
		}
		return nil, fmt.Errorf("replay: %w", err)
	}
	if len(reqs) == 0 {
		return nil, errors.New("replay: no requests")
	}
	return reqs, nil
}

func parseReplayLine(b []byte) (Request, error) {
	var l replayLine
	if err := json.Unmarshal(b, &l); err != nil {
		return Request{}, fmt.Errorf("not a JSON object: %v", err)
	}
	switch {
	case l.Prompt == nil || *l.Prompt == "":
		return Request{}, errors.New(`missing or empty "prompt"`)
	case l.OutputLen == nil:
		return Request{}, errors.New(`missing "output_len"`)
	case *l.OutputLen < 1 || *l.OutputLen > maxLen:
		return Request{}, fmt.Errorf(`"output_len" %d out of range [1, %d]`, *l.OutputLen, maxLen)
	case l.PromptLen < 0 || l.PromptLen > maxLen:
		return Request{}, fmt.Errorf(`"prompt_len" %d out of range [0, %d]`, l.PromptLen, maxLen)
	}
	return Request{System: l.System, Prompt: *l.Prompt, PromptLen: l.PromptLen, OutputLen: *l.OutputLen}, nil
}

// LoadReplay reads a replay trace from a file.
func LoadReplay(path string) ([]Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	reqs, err := ParseReplay(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return reqs, nil
}

package bench

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// ticks is a clock that returns the next of its times, in ms, at each call
// (readStream reads it once per event).
func ticks(ms ...int) func() time.Duration {
	i := 0
	return func() time.Duration {
		if i == len(ms) {
			return time.Duration(ms[len(ms)-1]) * time.Millisecond
		}
		i++
		return time.Duration(ms[i-1]) * time.Millisecond
	}
}

const (
	roleChunk  = `data: {"choices":[{"delta":{"role":"assistant"}}]}` + "\n\n"
	usageChunk = `data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}}` + "\n\n"
	done       = "data: [DONE]\n\n"
)

func text(s string) string { return `data: {"choices":[{"text":"` + s + `"}]}` + "\n\n" }
func delta(s string) string {
	return `data: {"choices":[{"delta":{"content":"` + s + `"}}]}` + "\n\n"
}

func TestReadStream(t *testing.T) {
	cases := []struct {
		name    string
		stream  string
		clock   []int
		want    Result
		wantErr string
	}{
		{"completions with usage", text("a") + text("b") + text("c") + usageChunk + done,
			[]int{100, 110, 130, 140, 150},
			Result{TTFT: 100 * ms, ITL: msl(10, 20), Latency: 150 * ms, PromptTokens: 12, OutputTokens: 3, Usage: true}, ""},
		{"chat: role chunk is not a token", roleChunk + delta("a") + delta("b") + usageChunk + done,
			[]int{5, 100, 130, 140, 150},
			Result{TTFT: 100 * ms, ITL: msl(30), Latency: 150 * ms, PromptTokens: 12, OutputTokens: 3, Usage: true}, ""},
		{"no usage: count content chunks", text("a") + text("") + text("b") + done, []int{10, 20, 30, 40},
			Result{TTFT: 10 * ms, ITL: msl(20), Latency: 40 * ms, OutputTokens: 2}, ""},
		{"crlf, comments, other fields, no space", ": keep-alive\r\n\r\nevent: message\r\nid: 1\r\ndata:" +
			`{"choices":[{"text":"x"}]}` + "\r\n\r\ndata: [DONE]\r\n\r\n", []int{7, 9},
			Result{TTFT: 7 * ms, Latency: 9 * ms, OutputTokens: 1}, ""},
		{"multi-line data joins", "data: {\"choices\":\ndata: [{\"text\":\"x\"}]}\n\n" + done, []int{3, 4},
			Result{TTFT: 3 * ms, Latency: 4 * ms, OutputTokens: 1}, ""},
		{"last event without blank line", text("a") + "data: [DONE]", []int{1, 2},
			Result{TTFT: 1 * ms, Latency: 2 * ms, OutputTokens: 1}, ""},
		{"no [DONE]", text("a") + text("b"), []int{1, 2}, Result{}, ErrBrokenStream},
		{"empty stream", done, []int{1}, Result{}, ErrEmpty},
		{"error event", text("a") + `data: {"error":{"message":"engine failed"}}` + "\n\n" + done, []int{1, 2, 3},
			Result{}, ErrStreamError},
		{"null error is no error", `data: {"error":null,"choices":[{"text":"a"}]}` + "\n\n" + done, []int{1, 2},
			Result{TTFT: 1 * ms, Latency: 2 * ms, OutputTokens: 1}, ""},
		{"bad json", "data: {oops\n\n", []int{1}, Result{}, ErrBadResponse},
		{"negative usage", `data: {"choices":[{"text":"a"}],"usage":{"completion_tokens":-4}}` + "\n\n" + done, []int{1, 2},
			Result{}, ErrBadResponse},
		{"line too long", "data: " + strings.Repeat("x", maxSSELine) + "\n\n", []int{1}, Result{}, ErrBadResponse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got Result
			err := readStream(strings.NewReader(c.stream), ticks(c.clock...), &got)
			if c.wantErr != "" {
				var re *reqError
				if !errors.As(err, &re) || re.kind != c.wantErr {
					t.Fatalf("error = %v, want kind %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.TTFT != c.want.TTFT || got.Latency != c.want.Latency || !slices.Equal(got.ITL, c.want.ITL) ||
				got.PromptTokens != c.want.PromptTokens || got.OutputTokens != c.want.OutputTokens || got.Usage != c.want.Usage {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func FuzzReadStream(f *testing.F) {
	f.Add([]byte(text("a") + text("b") + usageChunk + done))
	f.Add([]byte(roleChunk + delta("x") + done))
	f.Add([]byte("data: {\"choices\":\ndata: [{\"text\":\"x\"}]}\n\n: c\r\n"))
	f.Add([]byte(`data: {"error":{"message":"x"}}` + "\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var res Result
		step := time.Duration(0)
		err := readStream(strings.NewReader(string(b)), func() time.Duration { step += ms; return step }, &res)
		if err != nil {
			return
		}
		if res.TTFT <= 0 || res.Latency < res.TTFT || res.OutputTokens < 0 || res.PromptTokens < 0 {
			t.Fatalf("completed stream with an impossible timeline: %+v", res)
		}
		for _, g := range res.ITL {
			if g <= 0 {
				t.Fatalf("non-positive gap in %v", res.ITL)
			}
		}
	})
}

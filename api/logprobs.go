package api

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"spillway/engine/sample"
)

// minLogprob stands for -Inf, which JSON cannot carry (vLLM's choice).
const minLogprob = -9999.0

func jsonLogprob(x float32) float64 {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), -1) || x < minLogprob {
		return minLogprob
	}
	return float64(x)
}

// tokenText is how a token appears in logprobs: its text, special tokens
// included. A token that is part of a UTF-8 character (a byte-fallback
// token) is written as "bytes:\xNN", OpenAI's notation; Bytes carries the
// real bytes either way.
func (m *Model) tokenText(id int32) (string, []int) {
	piece := m.Tokenizer.Render(id, true)
	raw := make([]int, len(piece))
	for i := 0; i < len(piece); i++ {
		raw[i] = int(piece[i])
	}
	if utf8.ValidString(piece) {
		return piece, raw
	}
	var sb strings.Builder
	sb.WriteString("bytes:")
	for i := 0; i < len(piece); i++ {
		fmt.Fprintf(&sb, "\\x%02x", piece[i])
	}
	return sb.String(), raw
}

// chatLogprob shapes one sampled token for chat logprobs.content.
func (m *Model) chatLogprob(r *sample.Result) tokenLogprob {
	text, raw := m.tokenText(r.Token)
	out := tokenLogprob{Token: text, Logprob: jsonLogprob(r.Logprob), Bytes: raw, TopLogprobs: make([]topLogprob, 0, len(r.Top))}
	for _, t := range r.Top {
		tt, tb := m.tokenText(t.Token)
		out.TopLogprobs = append(out.TopLogprobs, topLogprob{Token: tt, Logprob: jsonLogprob(t.Logprob), Bytes: tb})
	}
	return out
}

// addCompletionLogprob appends one token to the legacy parallel arrays.
// top_logprobs always holds the sampled token too, so it has up to
// logprobs+1 entries (OpenAI's and vLLM's behaviour). offset is the
// token's position in the completion text, in characters.
func (m *Model) addCompletionLogprob(lp *completionLogprobs, r *sample.Result, offset int) {
	text, _ := m.tokenText(r.Token)
	lp.Tokens = append(lp.Tokens, text)
	lp.TokenLogprobs = append(lp.TokenLogprobs, jsonLogprob(r.Logprob))
	top := make(map[string]float64, len(r.Top)+1)
	for _, t := range r.Top {
		tt, _ := m.tokenText(t.Token)
		if _, seen := top[tt]; !seen {
			top[tt] = jsonLogprob(t.Logprob)
		}
	}
	if _, seen := top[text]; !seen {
		top[text] = jsonLogprob(r.Logprob)
	}
	lp.TopLogprobs = append(lp.TopLogprobs, top)
	lp.TextOffset = append(lp.TextOffset, offset)
}

func newCompletionLogprobs() *completionLogprobs {
	return &completionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
}

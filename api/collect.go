package api

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"spillway/scheduler"
)

// choiceState accumulates one choice of a request.
type choiceState struct {
	text     strings.Builder
	runes    int // characters so far: completions' text_offset
	finish   scheduler.FinishReason
	err      error
	chatLP   *chatLogprobs
	complLP  *completionLogprobs
	tokens   int
	finished bool
}

// tally accumulates a job's choices and usage from its events.
type tally struct {
	j       *job
	choices []choiceState
	usage   usage
	stats   int // requests whose Stats arrived
}

func newTally(j *job) *tally {
	t := &tally{j: j, choices: make([]choiceState, j.choices())}
	if j.logprobs {
		for i := range t.choices {
			if j.kind == kindChat {
				t.choices[i].chatLP = &chatLogprobs{Content: []tokenLogprob{}}
			} else {
				t.choices[i].complLP = newCompletionLogprobs()
			}
		}
	}
	return t
}

// add folds one event in.
func (t *tally) add(e jobEvent) {
	c := &t.choices[e.index]
	ev := &e.ev
	if ev.Token >= 0 {
		c.tokens++
		if ev.Logprob != nil && c.chatLP != nil {
			c.chatLP.Content = append(c.chatLP.Content, t.j.model.chatLogprob(ev.Logprob))
		}
		if ev.Logprob != nil && c.complLP != nil {
			t.j.model.addCompletionLogprob(c.complLP, ev.Logprob, c.runes)
		}
	}
	c.text.WriteString(ev.Text)
	c.runes += utf8.RuneCountInString(ev.Text)
	if ev.Finish != scheduler.FinishNone {
		c.finish, c.err, c.finished = ev.Finish, ev.Err, true
	}
	if st := ev.Stats; st != nil {
		t.stats++
		t.usage.PromptTokens += st.PromptTokens
		t.usage.CompletionTokens += st.CompletionTokens
		t.usage.PromptTokensDetails.CachedTokens += st.CachedTokens
	}
}

// finish fills usage for requests whose generator sent no Stats.
func (t *tally) finish() usage {
	if t.stats < len(t.j.reqs) {
		t.usage = usage{}
		for _, r := range t.j.reqs {
			t.usage.PromptTokens += len(r.Prompt)
		}
		for i := range t.choices {
			t.usage.CompletionTokens += t.choices[i].tokens
		}
	}
	t.usage.TotalTokens = t.usage.PromptTokens + t.usage.CompletionTokens
	return t.usage
}

// failure reports why the job cannot be answered normally: a choice that
// ended in an engine error, or an abort (timeout, shutdown, client gone).
func (t *tally) failure(ctx context.Context) error {
	for i := range t.choices {
		c := &t.choices[i]
		switch {
		case c.finish == scheduler.FinishError:
			msg := "the engine failed"
			if c.err != nil {
				msg += ": " + c.err.Error()
			}
			return serverError(msg)
		case c.finish == scheduler.FinishAbort || !c.finished:
			if err := ctx.Err(); err != nil {
				return err
			}
			return unavailable("the generation was aborted", "aborted")
		}
	}
	return nil
}

// collect waits for every event of j and renders the JSON response.
func (s *Server) collect(ctx context.Context, j *job, evs <-chan jobEvent) ([]byte, error) {
	t := newTally(j)
	for e := range evs {
		t.add(e)
	}
	u := t.finish()
	j.tenant.chargeTokens(u.CompletionTokens)
	if err := t.failure(ctx); err != nil {
		return nil, err
	}
	if j.kind == kindChat {
		return json.Marshal(t.chatResponse(u))
	}
	return json.Marshal(t.completionResponse(u))
}

func (t *tally) chatResponse(u usage) *chatResponse {
	r := &chatResponse{ID: t.j.id, Object: "chat.completion", Created: t.j.created, Model: t.j.model.Name,
		SystemFingerprint: t.j.fingerprint, Choices: make([]chatChoice, len(t.choices)), Usage: u}
	for i := range t.choices {
		c := &t.choices[i]
		r.Choices[i] = chatChoice{Index: i, Message: assistantMsg{Role: "assistant", Content: c.text.String()},
			Logprobs: c.chatLP, FinishReason: string(c.finish)}
	}
	return r
}

func (t *tally) completionResponse(u usage) *completionResponse {
	r := &completionResponse{ID: t.j.id, Object: "text_completion", Created: t.j.created, Model: t.j.model.Name,
		SystemFingerprint: t.j.fingerprint, Choices: make([]completionChoice, len(t.choices)), Usage: u}
	for i := range t.choices {
		c := &t.choices[i]
		fr := string(c.finish)
		r.Choices[i] = completionChoice{Text: c.text.String(), Index: i, Logprobs: c.complLP, FinishReason: &fr}
	}
	return r
}

package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spillway/engine/chat"
	"spillway/engine/sample"
	"spillway/engine/tokenizer"
	"spillway/scheduler"
)

// fakeMD is in-memory GGUF tokenizer metadata.
type fakeMD map[string]any

func (m fakeMD) String(k string) (string, bool)      { v, ok := m[k].(string); return v, ok }
func (m fakeMD) Strings(k string) ([]string, bool)   { v, ok := m[k].([]string); return v, ok }
func (m fakeMD) Float32s(k string) ([]float32, bool) { v, ok := m[k].([]float32); return v, ok }
func (m fakeMD) Int32s(k string) ([]int32, bool)     { v, ok := m[k].([]int32); return v, ok }
func (m fakeMD) Bool(k string) (bool, bool)          { v, ok := m[k].(bool); return v, ok }
func (m fakeMD) Uint(k string) (uint64, bool) {
	v, ok := m[k].(int)
	return uint64(v), ok && v >= 0
}

// Test vocabulary: specials, the 256 byte tokens, then words. The fake
// generator cycles through fakeWords.
const (
	tokUNK, tokBOS, tokEOS, tokIMStart, tokIMEnd = 0, 1, 2, 3, 4
	firstByte                                    = 5
)

var fakeWords = []string{"▁Hello", "▁world", "!", "▁the", "▁cat", "▁sat", "▁on", "▁mat", ".", "▁café"}

func fakeTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	toks := []string{"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"}
	types := []int32{2, 3, 3, 3, 3}
	for b := range 256 {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	toks = append(toks, "▁")
	types = append(types, 1)
	for _, w := range fakeWords {
		toks = append(toks, w)
		types = append(types, 1)
	}
	scores := make([]float32, len(toks))
	md := fakeMD{
		"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": toks, "tokenizer.ggml.scores": scores,
		"tokenizer.ggml.token_type": types, "tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.eos_token_id": 2,
		"tokenizer.ggml.unknown_token_id": 0, "tokenizer.ggml.add_bos_token": true,
	}
	tok, err := tokenizer.FromGGUF(md)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wordID is the id of fakeWords[i].
func wordID(i int) int32 { return int32(firstByte + 256 + 1 + i) }

// chatmlBOS prints the BOS itself, as Llama 3's and Zephyr's templates do.
const chatmlBOS = "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
	"{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"

func fakeModel(t testing.TB, name string, gen Generator) *Model {
	t.Helper()
	tmpl, err := chat.New(chatmlBOS, "<s>", "</s>")
	if err != nil {
		t.Fatal(err)
	}
	return &Model{Name: name, Tokenizer: fakeTokenizer(t), Template: tmpl, ContextLen: 256, Gen: gen}
}

// fakeGen is a deterministic Generator: choice c of a request emits
// fakeWords[(c + seed + i) mod len] for i = 0, 1, ..., honouring
// max_tokens, stop strings, stop tokens, logprobs and cancellation.
type fakeGen struct {
	tok      *tokenizer.Tokenizer
	err      error         // Submit fails with it
	gate     chan struct{} // when set, each token waits for a receive
	eosAfter int           // > 0: a choice emits EOS after this many tokens
	failAt   int           // > 0: a choice fails with an engine error at this token

	open      atomic.Int64 // requests whose channel is not yet closed
	submitted atomic.Int64
	mu        sync.Mutex
	reqs      []*scheduler.Request
}

func newFakeGen(t testing.TB) *fakeGen { return &fakeGen{tok: fakeTokenizer(t)} }

func (g *fakeGen) Submit(ctx context.Context, r *scheduler.Request) (<-chan scheduler.Event, error) {
	if g.err != nil {
		return nil, g.err
	}
	g.submitted.Add(1)
	g.mu.Lock()
	g.reqs = append(g.reqs, r)
	g.mu.Unlock()
	g.open.Add(1)
	out := make(chan scheduler.Event)
	go g.run(ctx, r, out)
	return out, nil
}

func (g *fakeGen) Snapshot() scheduler.Snapshot {
	return scheduler.Snapshot{Running: int(g.open.Load()), Waiting: 1, KVUsage: 0.25, PromptTokens: 100,
		GenerationTokens: 200, Preemptions: 3, PrefixCacheQueries: 50, PrefixCacheHits: 20, Updated: time.Now()}
}

func (g *fakeGen) requests() []*scheduler.Request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*scheduler.Request(nil), g.reqs...)
}

// fakeChoice is one choice's generation state.
type fakeChoice struct {
	detok   *tokenizer.Detokenizer
	text    string // produced, not all sent: a stop string may still match
	sent    int
	tokens  int
	done    bool
	eosSeen bool
}

func (g *fakeGen) run(ctx context.Context, r *scheduler.Request, out chan<- scheduler.Event) {
	defer g.open.Add(-1)
	defer close(out)
	n := max(r.N, 1)
	cs := make([]fakeChoice, n)
	for i := range cs {
		cs[i].detok = g.tok.NewDetokenizer(r.Prompt)
	}
	active, total, start := n, 0, time.Now()
	stats := func() *scheduler.Stats {
		return &scheduler.Stats{PromptTokens: len(r.Prompt), CompletionTokens: total, CachedTokens: len(r.Prompt) / 2,
			QueueTime: time.Millisecond, TTFT: 2 * time.Millisecond, E2E: time.Since(start)}
	}
	send := func(ev scheduler.Event) {
		if ev.Finish != scheduler.FinishNone {
			if active--; active == 0 {
				ev.Stats = stats()
			}
		}
		out <- ev
	}
	for step := 0; active > 0; step++ {
		for c := range cs {
			if cs[c].done {
				continue
			}
			if !g.wait(ctx) {
				cs[c].done = true
				send(scheduler.Event{Choice: c, Token: -1, Finish: scheduler.FinishAbort, Err: ctx.Err()})
				continue
			}
			total++
			send(g.step(r, &cs[c], c, step))
		}
	}
}

// wait blocks on the gate, if any; false when ctx ended.
func (g *fakeGen) wait(ctx context.Context) bool {
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return false
		}
	}
	return ctx.Err() == nil
}

// step produces choice c's next token event.
func (g *fakeGen) step(r *scheduler.Request, ch *fakeChoice, c, step int) scheduler.Event {
	seed := 0
	if r.Sampling.Seed != nil {
		seed = int(*r.Sampling.Seed % uint64(len(fakeWords)))
	}
	id := wordID((c + seed + step) % len(fakeWords))
	if g.failAt > 0 && ch.tokens+1 == g.failAt {
		ch.done = true
		return scheduler.Event{Choice: c, Token: -1, Finish: scheduler.FinishError, Err: errors.New("device lost")}
	}
	if g.eosAfter > 0 && ch.tokens == g.eosAfter && !r.IgnoreEOS {
		id = tokEOS
	}
	ch.tokens++
	ev := scheduler.Event{Choice: c, Token: id}
	if r.Sampling.WantLogprobs {
		ev.Logprob = fakeLogprob(id, r.Sampling.Logprobs)
	}
	for _, s := range r.StopTokens {
		if s == id {
			ch.done, ev.Finish = true, scheduler.FinishStop
			ev.Text = ch.text[ch.sent:]
			return ev
		}
	}
	ch.text += ch.detok.Add(id)
	if i := firstStop(ch.text, r.StopStrings); i >= 0 {
		ch.done, ev.Finish = true, scheduler.FinishStop
		ev.Text = ch.text[ch.sent:i]
		return ev
	}
	if ch.tokens >= r.MaxTokens {
		ch.text += ch.detok.Flush()
		ch.done, ev.Finish = true, scheduler.FinishLength
		ev.Text = ch.text[ch.sent:]
		return ev
	}
	safe := len(ch.text) - holdBack(ch.text, r.StopStrings)
	ev.Text = ch.text[ch.sent:safe]
	ch.sent = safe
	return ev
}

func firstStop(text string, stops []string) int {
	best := -1
	for _, s := range stops {
		if i := strings.Index(text, s); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// holdBack is how many trailing bytes of text could start a stop string.
func holdBack(text string, stops []string) int {
	hold := 0
	for _, s := range stops {
		for k := min(len(s)-1, len(text)); k > hold; k-- {
			if strings.HasSuffix(text, s[:k]) {
				hold = k
				break
			}
		}
	}
	return hold
}

func fakeLogprob(id int32, top int) *sample.Result {
	r := &sample.Result{Token: id, Logprob: -0.5}
	for k := 0; k < top; k++ {
		r.Top = append(r.Top, sample.TokenLogprob{Token: wordID(k % len(fakeWords)), Logprob: -0.5 - float32(k)})
	}
	return r
}

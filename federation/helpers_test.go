package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// testTimeouts are short enough that timeout rows take a fraction of a
// second, long enough that a loaded machine does not trip them by accident.
var testTimeouts = Timeouts{Connect: 300 * time.Millisecond, FirstToken: 400 * time.Millisecond,
	Idle: 400 * time.Millisecond, Request: 400 * time.Millisecond}

func provCfg(name string, w wire, url string) ProviderConfig {
	k := KindOpenAI
	if w == wireAnthropic {
		k = KindAnthropic
	}
	return ProviderConfig{
		Name: name, Kind: k, BaseURL: url,
		PriceInput: 1, PriceOutput: 2, // USD per 1M tokens
		Timeouts: testTimeouts,
		Breaker:  BreakerConfig{Failures: 3, Window: time.Minute, Cooldown: 10 * time.Second, Probes: 1},
	}
}

type testEnv struct {
	s     *Spiller
	clock *fakeClock
}

func newTestSpiller(t testing.TB, cfg Config, opts Options) *testEnv {
	t.Helper()
	clock := newFakeClock()
	if opts.Clock == nil {
		opts.Clock = clock
	}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	if cfg.Retry.BaseDelay == 0 {
		cfg.Retry.BaseDelay = 100 * time.Millisecond
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{s: s, clock: clock}
}

func chatReq(model string, stream bool) *ChatRequest {
	return &ChatRequest{Model: model, Stream: stream,
		Messages: []Message{{Role: "user", Content: TextContent("Say hello.")}}}
}

func remote(model string, targets ...string) Decision {
	return Decision{Model: model, Targets: targets}
}

// collector gathers what a client would receive from Stream.
type collector struct {
	chunks []*ChatChunk
	failAt int // emit fails on this chunk number (1-based); 0 never
}

func (c *collector) emit(ch *ChatChunk) error {
	if c.failAt > 0 && len(c.chunks)+1 == c.failAt {
		return errors.New("client went away")
	}
	// The API marshals each chunk as it arrives; do the same so
	// the check covers the bytes a client would parse.
	if _, err := json.Marshal(ch); err != nil {
		return err
	}
	c.chunks = append(c.chunks, ch)
	return nil
}

func (c *collector) text() string {
	var b strings.Builder
	for _, ch := range c.chunks {
		for _, cc := range ch.Choices {
			if cc.Delta.Content != nil {
				b.WriteString(*cc.Delta.Content)
			}
		}
	}
	return b.String()
}

func (c *collector) errorChunks() int {
	n := 0
	for _, ch := range c.chunks {
		if ch.Error != nil {
			n++
		}
	}
	return n
}

func (c *collector) last() *ChatChunk {
	if len(c.chunks) == 0 {
		return nil
	}
	return c.chunks[len(c.chunks)-1]
}

// jsonDiff compares two JSON documents value by value and lists each
// difference with its path, so fixture mismatches read field by field.
func jsonDiff(t testing.TB, got, want []byte) []string {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	var out []string
	diffValue("$", g, w, &out)
	return out
}

func diffValue(path string, g, w any, out *[]string) {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			*out = append(*out, fmt.Sprintf("%s: got %v, want an object", path, g))
			return
		}
		keys := map[string]bool{}
		for k := range wv {
			keys[k] = true
		}
		for k := range gv {
			keys[k] = true
		}
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			gk, gok := gv[k]
			wk, wok := wv[k]
			switch {
			case !gok:
				*out = append(*out, fmt.Sprintf("%s.%s: missing, want %v", path, k, wk))
			case !wok:
				*out = append(*out, fmt.Sprintf("%s.%s: unexpected %v", path, k, gk))
			default:
				diffValue(path+"."+k, gk, wk, out)
			}
		}
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
			return
		}
		for i := range wv {
			diffValue(fmt.Sprintf("%s[%d]", path, i), gv[i], wv[i], out)
		}
	default:
		if !reflect.DeepEqual(g, w) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func durationsEqual(a, b []time.Duration) bool { return slices.Equal(a, b) }

var bg = context.Background()

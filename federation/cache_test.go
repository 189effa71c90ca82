package federation

import (
	"fmt"
	"testing"
	"time"
)

func zeroTemp(r *ChatRequest) *ChatRequest {
	z := 0.0
	r.Temperature = &z
	return r
}

func TestCacheKey(t *testing.T) {
	base := func() *ChatRequest { return zeroTemp(chatReq("m", false)) }
	k0, ok := cacheKey("t", base())
	if !ok {
		t.Fatal("temperature 0 must be cacheable")
	}
	seven := int64(7)
	one := 1
	same := map[string]func(*ChatRequest){
		"stream flag":  func(r *ChatRequest) { r.Stream = true; r.StreamOptions = &StreamOptions{IncludeUsage: true} },
		"user":         func(r *ChatRequest) { r.User = "someone" },
		"n=1 explicit": func(r *ChatRequest) { r.N = &one },
	}
	for name, mutate := range same {
		r := base()
		mutate(r)
		if k, _ := cacheKey("t", r); k != k0 {
			t.Errorf("%s changed the key", name)
		}
	}
	a, b := base(), base()
	n := 5
	a.MaxTokens, b.MaxCompletionTokens = &n, &n
	ka, _ := cacheKey("t", a)
	kb, _ := cacheKey("t", b)
	if ka != kb {
		t.Error("max_tokens and max_completion_tokens must key alike")
	}
	differ := map[string]func(*ChatRequest) (string, *ChatRequest){
		"tenant":  func(r *ChatRequest) (string, *ChatRequest) { return "u", r },
		"message": func(r *ChatRequest) (string, *ChatRequest) { r.Messages[0].Content = TextContent("x"); return "t", r },
		"model":   func(r *ChatRequest) (string, *ChatRequest) { r.Model = "m2"; return "t", r },
		"seed":    func(r *ChatRequest) (string, *ChatRequest) { r.Seed = &seven; return "t", r },
	}
	for name, mutate := range differ {
		tenant, r := mutate(base())
		if k, _ := cacheKey(tenant, r); k == k0 {
			t.Errorf("%s did not change the key", name)
		}
	}
	if _, ok := cacheKey("t", chatReq("m", false)); ok {
		t.Error("default temperature must not be cacheable")
	}
	r := chatReq("m", false)
	r.Seed = &seven
	if _, ok := cacheKey("t", r); !ok {
		t.Error("a seeded request must be cacheable")
	}
}

func cachedResp(i int) *ChatResponse {
	return &ChatResponse{ID: fmt.Sprint("r", i), Object: "chat.completion",
		Choices: []Choice{{Message: ResponseMessage{Role: "assistant", Content: fmt.Sprintf("%0100d", i)}, FinishReason: "stop"}}}
}

func TestCacheBoundsAndTTL(t *testing.T) {
	clock := newFakeClock()
	entry := int64(len(mustJSON(t, cachedResp(0)))) + entryOverhead
	c := newRespCache(CacheConfig{MaxBytes: 3 * entry, MaxEntryBytes: 1 << 20, TTL: time.Minute}, clock)
	key := func(i int) cacheKeyT { return cacheKeyT{byte(i)} }
	for i := range 5 {
		c.put(key(i), cachedResp(i))
		if st := c.stats(); st.Bytes > 3*entry {
			t.Fatalf("after %d puts: %d bytes > bound %d", i+1, st.Bytes, 3*entry)
		}
	}
	if _, ok := c.get(key(0)); ok {
		t.Error("oldest entry survived eviction")
	}
	if r, ok := c.get(key(4)); !ok || r.ID != "r4" {
		t.Fatalf("newest entry: %v %v", r, ok)
	}
	// key(2) is now least recently used; touching it saves it.
	c.get(key(2))
	c.put(key(5), cachedResp(5))
	if _, ok := c.get(key(3)); ok {
		t.Error("LRU order ignored: key 3 should have been evicted")
	}
	if _, ok := c.get(key(2)); !ok {
		t.Error("recently used key 2 was evicted")
	}
	clock.Advance(time.Minute)
	if _, ok := c.get(key(2)); ok {
		t.Error("entry outlived its TTL")
	}
	big := cachedResp(9)
	big.Choices[0].Message.Content = string(make([]byte, 2<<20))
	c.put(key(9), big)
	if _, ok := c.get(key(9)); ok {
		t.Error("an entry over max_entry_bytes was stored")
	}
}

// TestCacheThroughSpiller: a deterministic request is answered once by
// the upstream, then from the cache, streamed or not; the cache is off
// unless enabled.
func TestCacheThroughSpiller(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		up := newFake(t, wireOpenAI)
		cfg := Config{Providers: []ProviderConfig{provCfg("p", wireOpenAI, up.url())}, Cache: CacheConfig{Enabled: enabled}}
		env := newTestSpiller(t, cfg, Options{})
		call := func(stream bool) (string, Record) {
			c := Call{Tenant: "t", Decision: remote("m", "p"), Req: zeroTemp(chatReq("m", stream))}
			if stream {
				var col collector
				rec, err := env.s.Stream(bg, c, col.emit)
				if err != nil {
					t.Fatal(err)
				}
				return col.text(), rec
			}
			resp, rec, err := env.s.Complete(bg, c)
			if err != nil {
				t.Fatal(err)
			}
			return resp.Choices[0].Message.Content, rec
		}
		// A streamed answer fills the cache as well as a plain one.
		for i, stream := range []bool{true, false, true, false} {
			text, rec := call(stream)
			if text != up.text() {
				t.Fatalf("enabled=%v call %d: %q", enabled, i, text)
			}
			if wantCached := enabled && i > 0; (rec.Outcome == OutcomeCached) != wantCached {
				t.Errorf("enabled=%v call %d: outcome %q", enabled, i, rec.Outcome)
			}
		}
		wantCalls := 4
		if enabled {
			wantCalls = 1
		}
		if up.Calls() != wantCalls {
			t.Errorf("enabled=%v: %d upstream calls, want %d", enabled, up.Calls(), wantCalls)
		}
		if snap := env.s.Snapshot(); enabled && (snap.Cache == nil || snap.Cache.Hits != 3 || snap.Cache.Misses != 1) {
			t.Errorf("cache stats %+v, want 3 hits 1 miss", snap.Cache)
		}
	}
}

func TestAssemblerRefusesIncomplete(t *testing.T) {
	a := newAssembler(1 << 20)
	for _, ch := range replayChunks(cachedResp(1), true) {
		a.add(ch)
	}
	if r := a.response(); r == nil || r.Choices[0].Message.Content != cachedResp(1).Choices[0].Message.Content {
		t.Fatalf("replayed stream did not reassemble: %+v", r)
	}
	b := newAssembler(1 << 20)
	b.add(replayChunks(cachedResp(1), false)[1]) // text, no finish reason
	if b.response() != nil {
		t.Error("a stream without finish reason must not be cached")
	}
}

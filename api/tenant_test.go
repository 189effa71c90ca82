package api

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for rate-limit tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func tenantServer(t *testing.T, clock *fakeClock) *testServer {
	return newTestServer(t, func(c *Config) {
		c.Now = clock.Now
		c.Tenants = []Tenant{
			{Name: "gold", Key: "sk-gold", Priority: 0},
			{Name: "free", Key: "sk-free", RequestsPerMinute: 5, Priority: 10},
			{Name: "meter", Key: "sk-meter", TokensPerMinute: 100, Priority: 5},
		}
	})
}

// TestTenantsUnderLoad: two keys hammer the server at once; the limited
// one gets exactly its quota and 429s with Retry-After, the other is not
// limited, and each request carries its tenant's priority and salt.
func TestTenantsUnderLoad(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ts := tenantServer(t, clock)
	const per = 20
	type result struct {
		key    string
		status int
		retry  string
		body   []byte
	}
	results := make(chan result, 2*per)
	var wg sync.WaitGroup
	for i := 0; i < per; i++ {
		for _, key := range []string{"sk-gold", "sk-free"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, body := ts.post(chatPath, chatBody(""), "Authorization", "Bearer "+key)
				results <- result{key, resp.StatusCode, resp.Header.Get("Retry-After"), body}
			}()
		}
	}
	wg.Wait()
	close(results)
	ok := map[string]int{}
	for r := range results {
		switch {
		case r.status == 200:
			ok[r.key]++
		case r.status == 429 && r.key == "sk-free":
			e := errorOf(t, r.body)
			if e["type"] != "requests" || e["code"] != "rate_limit_exceeded" {
				t.Errorf("429 body %s", r.body)
			}
			if secs, err := strconv.Atoi(r.retry); err != nil || secs < 1 || secs > 60 {
				t.Errorf("Retry-After %q", r.retry)
			}
		default:
			t.Errorf("%s: status %d %s", r.key, r.status, r.body)
		}
	}
	if ok["sk-gold"] != per || ok["sk-free"] != 5 {
		t.Errorf("admitted %v, want gold %d and free 5", ok, per)
	}
	for _, r := range ts.gen.requests() {
		want := map[string]int{"gold": 0, "free": 10}
		if p, known := want[r.Tenant]; !known || r.Priority != p {
			t.Errorf("request of tenant %q has priority %d", r.Tenant, r.Priority)
		}
	}
	clock.Advance(time.Minute)
	if resp, body := ts.post(chatPath, chatBody(""), "Authorization", "Bearer sk-free"); resp.StatusCode != 200 {
		t.Errorf("after a minute the free tenant is admitted again: %d %s", resp.StatusCode, body)
	}
}

// TestTokenLimit: prompt tokens are taken at admission, completion tokens
// charged after; the tenant is refused once the minute's tokens are spent.
func TestTokenLimit(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ts := tenantServer(t, clock)
	auth := []string{"Authorization", "Bearer sk-meter"}
	used := 0
	for i := 0; ; i++ {
		resp, body := ts.post(chatPath, chatBody(""), auth...)
		if resp.StatusCode == 429 {
			e := errorOf(t, body)
			if e["type"] != "tokens" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("429: %s", body)
			}
			break
		}
		if resp.StatusCode != 200 || i > 10 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
		u := decodeJSON(t, body)["usage"].(map[string]any)
		used += int(u["total_tokens"].(float64))
	}
	if used <= 100-30 || used > 100+30 {
		t.Errorf("admitted %d tokens under a 100 tokens/min limit", used)
	}
	big := `{"model":"fake","messages":[{"role":"user","content":"` + strings.Repeat("é", 60) + `"}],"max_tokens":1}`
	resp, body := ts.post(chatPath, big, auth...)
	if e := errorOf(t, body); resp.StatusCode != 429 || !strings.Contains(e["message"].(string), "too large") {
		t.Errorf("a prompt over the whole minute's budget: %d %s", resp.StatusCode, body)
	}
}

func TestAuth(t *testing.T) {
	ts := tenantServer(t, &fakeClock{t: time.Unix(1_700_000_000, 0)})
	tests := []struct {
		name, header string
		status       int
	}{
		{"no header", "", 401},
		{"wrong key", "Bearer sk-nope", 401},
		{"basic auth", "Basic c2stZ29sZDo=", 401},
		{"bearer only", "Bearer ", 401},
		{"valid", "Bearer sk-gold", 200},
		{"scheme case", "bearer sk-gold", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h []string
			if tt.header != "" {
				h = []string{"Authorization", tt.header}
			}
			resp, body := ts.do("GET", "/v1/models", "", h...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tt.status == 401 {
				if e := errorOf(t, body); e["code"] != "invalid_api_key" {
					t.Errorf("error %v", e)
				}
			}
		})
	}
	for _, path := range []string{"/health", "/metrics"} {
		if resp, _ := ts.do("GET", path, ""); resp.StatusCode != 200 {
			t.Errorf("%s needs no key, got %d", path, resp.StatusCode)
		}
	}
}

func TestOpenServerWarns(t *testing.T) {
	var logs bytes.Buffer
	if _, err := New(Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "no API keys") {
		t.Errorf("no warning for an open server: %q", logs.String())
	}
	for _, bad := range [][]Tenant{
		{{Name: "a", Key: ""}},
		{{Name: "", Key: "k"}},
		{{Name: "a", Key: "k"}, {Name: "b", Key: "k"}},
		{{Name: "a", Key: "k"}, {Name: "a", Key: "j"}},
		{{Name: "a", Key: "k", RequestsPerMinute: -1}},
	} {
		if _, err := New(Config{Tenants: bad, Logger: quietLogger()}); err == nil {
			t.Errorf("tenants %+v accepted", bad)
		}
	}
}

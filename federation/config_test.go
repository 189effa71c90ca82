package federation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers[0]
	if p.Timeouts.FirstToken != 20*time.Second || p.PriceOutput != 0.6 || p.Models["llama-3.1-8b-instruct"] != "gpt-4o-mini" {
		t.Errorf("provider 0: %+v", p)
	}
	if r := c.Routes[2]; r.Policy != PolicyWeighted || r.Targets[0] != (Target{Name: Local, Weight: 9}) {
		t.Errorf("weighted route: %+v", r)
	}
	if r := c.Routes[0]; len(r.Targets) != 4 || r.Targets[1].Name != "lab-vllm" || r.Spill.Resume != 0.75 {
		t.Errorf("scalar targets: %+v", r)
	}
	if c.Budgets["acme"].TotalUSD != 1000 || !c.Cache.Enabled || c.Retry.MaxRetryAfter != 5*time.Second {
		t.Errorf("budgets/cache/retry: %+v %+v %+v", c.Budgets, c.Cache, c.Retry)
	}
	keys := map[string]string{"OPENAI_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2"}
	s, err := New(c, Options{Getenv: func(k string) string { return keys[k] }})
	if err != nil {
		t.Fatalf("New on the example: %v", err)
	}
	if got := s.Models(); strings.Join(got, ",") != "llama-3.1-8b-instruct,claude,experiment" {
		t.Errorf("models %v", got)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	prov := "providers: [{name: p, kind: openai, base_url: 'http://h/v1'}]\n"
	cases := []struct{ name, yaml, want string }{
		{"unknown key", prov + "retry: {max_atempts: 3}\n", "max_atempts"},
		{"bad kind", "providers: [{name: p, kind: grpc, base_url: 'http://h'}]", "kind"},
		{"bad url", "providers: [{name: p, kind: openai, base_url: 'ftp://h'}]", "base_url"},
		{"reserved name", "providers: [{name: local, kind: openai, base_url: 'http://h'}]", "reserved"},
		{"duplicate provider", "providers: [{name: p, kind: openai, base_url: 'http://h'}, {name: p, kind: openai, base_url: 'http://h'}]", "twice"},
		{"unknown target", prov + "routes: [{model: m, targets: [q]}]", "not a provider"},
		{"no targets", prov + "routes: [{model: m, targets: []}]", "targets"},
		{"bad policy", prov + "routes: [{model: m, policy: random, targets: [p]}]", "policy"},
		{"negative weight", prov + "routes: [{model: m, policy: weighted, targets: [{name: p, weight: -1}]}]", "weight"},
		{"bad resume", prov + "routes: [{model: m, targets: [p], spill: {resume: 1.5}}]", "resume"},
		{"negative price", "providers: [{name: p, kind: openai, base_url: 'http://h', price_input: -1}]", "prices"},
		{"negative budget", prov + "budgets: {t: {daily_usd: -2}}", "budget"},
		{"bad duration", prov + "retry: {base_delay: soon}", "line 2"},
		{"two documents", prov + "---\n" + prov, "document"},
		{"model routed twice", prov + "routes: [{model: m, targets: [p]}, {model: m, targets: [p]}]", "twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	r := RetryConfig{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, MaxRetryAfter: 5 * time.Second}
	cases := []struct {
		attempt    int
		retryAfter time.Duration
		u          float64
		want       time.Duration
		ok         bool
	}{
		{1, 0, 0, 50 * time.Millisecond, true},
		{1, 0, 0.999, 99950 * time.Microsecond, true},
		{2, 0, 0.5, 150 * time.Millisecond, true},
		{3, 0, 0, 200 * time.Millisecond, true},
		{10, 0, 1, time.Second, true}, // capped
		{60, 0, 0, 500 * time.Millisecond, true},
		{1, 3 * time.Second, 0.9, 3 * time.Second, true}, // Retry-After exact, no jitter
		{1, 6 * time.Second, 0, 6 * time.Second, false},  // too long: fail over
	}
	for _, tc := range cases {
		got, ok := r.delay(tc.attempt, tc.retryAfter, tc.u)
		if got != tc.want || ok != tc.ok {
			t.Errorf("delay(%d, %v, %v) = %v %v, want %v %v", tc.attempt, tc.retryAfter, tc.u, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		h    map[string]string
		want time.Duration
	}{
		{map[string]string{"Retry-After": "2"}, 2 * time.Second},
		{map[string]string{"Retry-After": "0.5"}, 500 * time.Millisecond},
		{map[string]string{"Retry-After": "Sat, 01 Mar 2025 12:00:30 GMT"}, 30 * time.Second},
		{map[string]string{"Retry-After": "Sat, 01 Mar 2025 11:00:00 GMT"}, 0}, // past
		{map[string]string{"Retry-After": "soon"}, 0},
		{map[string]string{"Retry-After": "-3"}, 0},
		{map[string]string{"Retry-After": "1e300"}, 0},
		{map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond},
		{nil, 0},
	}
	for _, tc := range cases {
		h := make(map[string][]string)
		for k, v := range tc.h {
			h[k] = []string{v}
		}
		if got := parseRetryAfter(h, now); got != tc.want {
			t.Errorf("%v → %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestLimiter(t *testing.T) {
	clock := newFakeClock()
	l := newLimiter(2, 60, clock) // burst 10, 1 per second
	r1, err1 := l.acquire()
	_, err2 := l.acquire()
	if _, err := l.acquire(); err1 != nil || err2 != nil || err != ErrProviderBusy {
		t.Fatalf("concurrency: %v %v %v", err1, err2, err)
	}
	r1()
	r1() // idempotent
	if l.load() != 1 {
		t.Fatalf("in flight %d after one release", l.load())
	}
	l2 := newLimiter(0, 60, clock)
	n := 0
	for ; n < 100; n++ {
		rel, err := l2.acquire()
		if err != nil {
			break
		}
		rel()
	}
	if n != 10 || l2.available() {
		t.Fatalf("burst %d, want 10", n)
	}
	clock.Advance(time.Second)
	if !l2.available() {
		t.Fatal("a second refills one request")
	}
}

package federation

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricsAndSnapshot runs a few requests and checks both exports:
// the Prometheus families (names, labels, values) and the JSON snapshot.
func TestMetricsAndSnapshot(t *testing.T) {
	up, down := newFake(t, wireOpenAI), newFake(t, wireOpenAI)
	down.push(fault{kind: fkStatus, status: 500}, fault{kind: fkStatus, status: 500})
	cfg := Config{
		Providers: []ProviderConfig{provCfg("up", wireOpenAI, up.url()), provCfg("down", wireOpenAI, down.url())},
		Routes:    []RouteConfig{{Model: "m", Targets: targets(Local, "down", "up")}},
		Budgets:   map[string]Budget{"acme": {DailyUSD: 10}},
		Retry:     RetryConfig{MaxAttempts: 2},
		Cache:     CacheConfig{Enabled: true},
	}
	env := newTestSpiller(t, cfg, Options{})
	d, err := env.s.Route(RouteInput{Model: "m", Tenant: "acme", Signal: Signal{}}) // stale: spill
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.s.Complete(bg, Call{Tenant: "acme", Decision: d, Req: chatReq("m", false)}); err != nil {
		t.Fatal(err)
	}
	checkMetrics(t, gather(t, env.s.Collector()))
	checkSnapshot(t, env.s.Snapshot())
}

func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "spillway:spill_") {
			t.Errorf("metric %s outside spillway:spill_*", f.GetName())
		}
		got[f.GetName()] = f
	}
	return got
}

func checkMetrics(t *testing.T, got map[string]*dto.MetricFamily) {
	t.Helper()
	checks := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"spillway:spill_requests_total", map[string]string{"provider": "up", "tenant": "acme", "outcome": "ok"}, 1},
		{"spillway:spill_prompt_tokens_total", map[string]string{"provider": "up", "tenant": "acme"}, 10},
		{"spillway:spill_completion_tokens_total", map[string]string{"provider": "up", "tenant": "acme"}, 4},
		{"spillway:spill_cost_usd_total", map[string]string{"provider": "up", "tenant": "acme"}, fakeCost},
		{"spillway:spill_attempts_total", map[string]string{"provider": "down", "result": "transient_error"}, 2},
		{"spillway:spill_retries_total", map[string]string{"provider": "down"}, 1},
		{"spillway:spill_route_decisions_total", map[string]string{"model": "m", "target": "down"}, 1},
		{"spillway:spill_breaker_state", map[string]string{"provider": "down"}, float64(BreakerClosed)},
		{"spillway:spill_budget_spent_usd", map[string]string{"tenant": "acme", "period": "day"}, fakeCost},
		{"spillway:spill_cache_hits_total", nil, 0},
		{"spillway:spill_cache_misses_total", nil, 0},                                          // default temperature: not cacheable, not a miss
		{"spillway:spill_e2e_request_latency_seconds", map[string]string{"provider": "up"}, 1}, // sample count
		{"spillway:spill_time_to_first_token_seconds", map[string]string{"provider": "up"}, 1}, // sample count
	}
	for _, c := range checks {
		f := got[c.name]
		if f == nil {
			t.Errorf("%s missing", c.name)
			continue
		}
		if v, ok := findValue(f, c.labels); !ok || !approx(v, c.value) {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, v, ok, c.value)
		}
	}
}

func checkSnapshot(t *testing.T, s Snapshot) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var snap map[string]any
	_ = json.Unmarshal(b, &snap)
	for _, k := range []string{"providers", "tenants", "arms", "routes", "cache", "recent"} {
		if snap[k] == nil {
			t.Errorf("snapshot lacks %q: %s", k, b)
		}
	}
	if !strings.Contains(string(b), `"breaker":"closed"`) || !strings.Contains(string(b), `"attempts":3`) {
		t.Errorf("snapshot: %s", b)
	}
}

func findValue(f *dto.MetricFamily, labels map[string]string) (float64, bool) {
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

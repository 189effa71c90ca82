package api

import (
	"encoding/json"
	"strings"
	"testing"

	"spillway/federation"
)

// fedPair is a Spillway whose federation spills to a second, in-process
// Spillway ("up"), as a deployment chaining two servers would.
type fedPair struct {
	front, up *testServer
}

func newFedPair(t *testing.T, edit func(*federation.Config), opts ...serverOpt) fedPair {
	t.Helper()
	up := newTestServer(t)
	cfg := federation.Config{
		Providers: []federation.ProviderConfig{provider("up", up.url+"/v1", map[string]string{"far": "fake", "busy": "fake"})},
		Routes: []federation.RouteConfig{localFirst("fake", relaxed, "up"), localFirst("busy", relaxed, "up"),
			{Model: "far", Targets: []federation.Target{{Name: "up"}}}},
	}
	if edit != nil {
		edit(&cfg)
	}
	front := newTestServer(t, append(opts, withFederation(newSpiller(t, cfg)))...)
	return fedPair{front: front, up: up}
}

func TestFederationRouting(t *testing.T) {
	p := newFedPair(t, nil)
	tests := []struct {
		name, model, extra, header string
		status                     int
		route                      string // X-Spillway-Route of the answer
		spilled                    int64  // requests the upstream served
	}{
		{"auto stays local", "fake", "", "", 200, "local", 0},
		{"body pins local", "fake", `"route":"local"`, "", 200, "local", 0},
		{"header pins remote", "fake", "", "remote", 200, "up", 1},
		{"body pins remote, stream", "fake", `"route":"remote","stream":true`, "", 200, "up", 1},
		{"body and header agree", "fake", `"route":"remote"`, "remote", 200, "up", 1},
		{"body and header disagree", "fake", `"route":"local"`, "remote", 400, "local", 0},
		{"unknown pin", "fake", `"route":"sideways"`, "", 400, "local", 0},
		{"saturated local spills", "busy", "", "", 200, "up", 1},
		{"saturated, pinned local: 503", "busy", `"route":"local"`, "", 503, "local", 0},
		{"remote-only model", "far", "", "", 200, "up", 1},
		{"remote-only, pinned local", "far", `"route":"local"`, "", 404, "local", 0},
		{"unrouted model ignores pins", "strict", `"route":"remote"`, "", 200, "local", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := p.up.gen.submitted.Load()
			var hdr []string
			if tt.header != "" {
				hdr = []string{routeHeader, tt.header}
			}
			resp, body := p.front.post(chatPath, fedChatBody(tt.model, tt.extra), hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get(routeHeader); got != tt.route {
				t.Errorf("%s = %q, want %q", routeHeader, got, tt.route)
			}
			if got := p.up.gen.submitted.Load() - before; got != tt.spilled {
				t.Errorf("upstream served %d, want %d", got, tt.spilled)
			}
			if tt.status != 200 {
				errorOf(t, body)
				return
			}
			if strings.Contains(tt.extra, `"stream":true`) {
				if text, errs := streamText(t, body, tt.route); text == "" || errs != nil {
					t.Errorf("stream text %q, errors %v", text, errs)
				}
				return
			}
			m := decodeJSON(t, body)
			if tt.model != "strict" && m["spillway_route"] != tt.route {
				t.Errorf("spillway_route = %v, want %q", m["spillway_route"], tt.route)
			}
			if _, ok := m["choices"].([]any); !ok {
				t.Errorf("no choices: %s", body)
			}
		})
	}
}

// A tenant over its spill budget is served locally or refused, never
// spilled.
func TestFederationBudget(t *testing.T) {
	p := newFedPair(t, func(c *federation.Config) {
		c.Providers[0].PriceInput = 1e6 // a dollar a token: one request spends the budget
		c.DefaultBudget = federation.Budget{DailyUSD: 0.5}
	})
	if resp, body := p.front.post(chatPath, fedChatBody("fake", `"route":"remote"`)); resp.StatusCode != 200 {
		t.Fatalf("first spill: %d %s", resp.StatusCode, body)
	}
	spent := p.up.gen.submitted.Load()
	tests := []struct {
		name, model, extra string
		status             int
	}{
		{"pinned remote: 429", "fake", `"route":"remote"`, 429},
		{"remote-only: 429", "far", "", 429},
		{"saturated local: 429, not spilled", "busy", "", 429},
		{"auto: served locally", "fake", "", 200},
		{"auto stream: served locally", "fake", `"stream":true`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := p.front.post(chatPath, fedChatBody(tt.model, tt.extra))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == 429 {
				if e := errorOf(t, body); e["code"] != "spill_budget_exhausted" {
					t.Errorf("code %v", e["code"])
				}
				if resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			} else if got := resp.Header.Get(routeHeader); got != "local" {
				t.Errorf("served by %q, want local", got)
			}
		})
	}
	if got := p.up.gen.submitted.Load(); got != spent {
		t.Errorf("upstream served %d requests after the budget was spent", got-spent)
	}
}

// An upstream that breaks after the first bytes reached the client ends
// the stream with an error event and [DONE]; nothing is re-sent.
func TestFederationMidStreamFailure(t *testing.T) {
	up := newFakeOpenAI(t, 2)
	backup := newFakeOpenAI(t, 0)
	cfg := federation.Config{
		Providers: []federation.ProviderConfig{provider("flaky", up.base(), nil), provider("backup", backup.base(), nil)},
		Routes: []federation.RouteConfig{{Model: "far", Policy: federation.PolicyFailover,
			Targets: []federation.Target{{Name: "flaky"}, {Name: "backup"}}}},
	}
	front := newTestServer(t, withFederation(newSpiller(t, cfg)))
	resp, body := front.post(chatPath, fedChatBody("far", `"stream":true`))
	if resp.StatusCode != 200 || resp.Header.Get(routeHeader) != "flaky" {
		t.Fatalf("status %d, route %q: %s", resp.StatusCode, resp.Header.Get(routeHeader), body)
	}
	text, errs := streamText(t, body, "flaky") // also checks the final [DONE]
	if text != "w0 w1 " || len(errs) != 1 {
		t.Fatalf("text %q, errors %v; want the delivered text and one error event", text, errs)
	}
	if up.requests.Load() != 1 || backup.requests.Load() != 0 {
		t.Errorf("upstream requests: flaky %d, backup %d; want 1, 0 (never re-sent)", up.requests.Load(), backup.requests.Load())
	}
	// Before the first byte, failover is invisible: a non-streamed call
	// that the flaky provider answers fine still works.
	resp, body = front.post(chatPath, fedChatBody("far", ""))
	if resp.StatusCode != 200 || decodeJSON(t, body)["spillway_route"] != "flaky" {
		t.Fatalf("non-stream: %d %s", resp.StatusCode, body)
	}
}

func TestFederationModelsAdminMetrics(t *testing.T) {
	p := newFedPair(t, nil, func(c *Config) { c.Tenants = []Tenant{{Name: "acme", Key: "k-acme"}} })
	auth := []string{"Authorization", "Bearer k-acme"}
	_, body := p.front.do("GET", "/v1/models", "", auth...)
	var list modelList
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range list.Data {
		ids = append(ids, c.ID)
	}
	if got := strings.Join(ids, ","); got != "busy,fake,strict,far" {
		t.Errorf("/v1/models ids %s, want the local models then the remote-only far", got)
	}
	if resp, body := p.front.do("GET", "/v1/models/far", "", auth...); resp.StatusCode != 200 || decodeJSON(t, body)["id"] != "far" {
		t.Errorf("/v1/models/far: %d %s", resp.StatusCode, body)
	}
	if resp, _ := p.front.do("GET", "/admin/federation", ""); resp.StatusCode != 401 {
		t.Errorf("/admin/federation without a key: %d, want 401", resp.StatusCode)
	}
	if resp, body := p.front.post(chatPath, fedChatBody("far", ""), auth...); resp.StatusCode != 200 {
		t.Fatalf("spill: %d %s", resp.StatusCode, body)
	}
	resp, body := p.front.do("GET", "/admin/federation", "", auth...)
	if resp.StatusCode != 200 {
		t.Fatalf("/admin/federation: %d %s", resp.StatusCode, body)
	}
	var snap struct {
		Providers []struct {
			Name     string `json:"name"`
			Breaker  string `json:"breaker"`
			Requests int64  `json:"requests"`
		} `json:"providers"`
		Recent []federation.Record `json:"recent"`
	}
	if err := json.Unmarshal(body, &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Providers) != 1 || snap.Providers[0].Breaker != federation.BreakerClosed.String() || snap.Providers[0].Requests != 1 {
		t.Errorf("providers %+v, want up, closed, 1 request", snap.Providers)
	}
	if len(snap.Recent) != 1 || snap.Recent[0].Tenant != "acme" {
		t.Errorf("recent %+v, want one record of tenant acme", snap.Recent)
	}
	_, metrics := p.front.do("GET", "/metrics", "")
	if !strings.Contains(string(metrics), "spillway:spill_") {
		t.Error("/metrics lacks the federation's spillway:spill_* series")
	}
}

// Without a federation nothing changes: a saturated model answers 503,
// pins are ignored, responses carry no spillway_route, the admin page is
// absent.
func TestNoFederation(t *testing.T) {
	ts := newTestServer(t)
	if resp, body := ts.post(chatPath, fedChatBody("busy", `"route":"remote"`)); resp.StatusCode != 503 {
		t.Errorf("saturated: %d %s", resp.StatusCode, body)
	}
	resp, body := ts.post(chatPath, fedChatBody("fake", `"route":"remote"`))
	if m := decodeJSON(t, body); resp.StatusCode != 200 || m["spillway_route"] != nil {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.do("GET", "/admin/federation", ""); resp.StatusCode != 404 {
		t.Errorf("/admin/federation: %d, want 404", resp.StatusCode)
	}
}

func TestWithRoute(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, `{"spillway_route":"up","a":1}`},
		{`{}`, `{"spillway_route":"up"}`},
		{`{"id":"x","choices":[`, `{"spillway_route":"up","id":"x","choices":[`},
		{`[1]`, `[1]`},
		{``, ``},
	}
	for _, tt := range tests {
		if got := string(withRoute([]byte(tt.in), "up")); got != tt.want {
			t.Errorf("withRoute(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

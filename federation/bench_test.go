package federation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// benchUpstream answers instantly with fixed bodies, so what a benchmark
// measures is the path, not the model.
func benchUpstream(b *testing.B) *httptest.Server {
	resp := []byte(`{"id":"chatcmpl-b","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,` +
		`"message":{"role":"assistant","content":"Hello, world!"},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14}}`)
	var stream bytes.Buffer
	for _, d := range []string{`{"role":"assistant","content":""}`, `{"content":"Hello"}`, `{"content":", world!"}`} {
		fmt.Fprintf(&stream, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":%s,"finish_reason":null}]}`+"\n\n", d)
	}
	stream.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	stream.WriteString(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}` + "\n\ndata: [DONE]\n\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Stream bool }
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &req)
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write(stream.Bytes())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(resp)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// proxyServer is the API's role reduced to its bones: parse, route,
// execute through the Spiller, write JSON or SSE.
func proxyServer(b *testing.B, s *Spiller) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ParseChatRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		d, err := s.Route(RouteInput{Model: req.Model, Tenant: "bench"})
		if err != nil {
			http.Error(w, err.Error(), 503)
			return
		}
		call := Call{Tenant: "bench", Decision: d, Req: req}
		if !req.Stream {
			resp, _, err := s.Complete(r.Context(), call)
			if err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(resp)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		_, _ = s.Stream(r.Context(), call, func(ch *ChatChunk) error {
			b, err := json.Marshal(ch)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return err
			}
			return rc.Flush()
		})
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	}))
	b.Cleanup(srv.Close)
	return srv
}

// post sends a chat request and returns the time to the first content
// byte of the body and to its end.
func post(b *testing.B, c *http.Client, url string, body []byte) (first, total time.Duration) {
	start := time.Now()
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.Peek(1); err != nil {
		b.Fatal(err)
	}
	first = time.Since(start)
	if _, err := io.Copy(io.Discard, br); err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
	return first, time.Since(start)
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkProxyOverhead measures the latency the federation adds on
// loopback: each iteration makes one request straight to the upstream
// and the same request through a proxy server running the Spiller
// (route, limiter, breaker, retries, accounting, translation, an extra
// HTTP hop), interleaved so both see the same machine load. It reports
// p50/p99 of both and of the difference.
func BenchmarkProxyOverhead(b *testing.B) {
	for _, stream := range []bool{false, true} {
		b.Run(fmt.Sprintf("stream=%v", stream), func(b *testing.B) {
			up := benchUpstream(b)
			cfg := Config{
				Providers: []ProviderConfig{{Name: "up", Kind: KindOpenAI, BaseURL: up.URL + "/v1", PriceInput: 1, PriceOutput: 1}},
				Routes:    []RouteConfig{{Model: "m", Targets: []Target{{Name: "up"}}}},
			}
			s, err := New(cfg, Options{})
			if err != nil {
				b.Fatal(err)
			}
			proxy := proxyServer(b, s)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			body := fmt.Appendf(nil, `{"model":"m","stream":%v,"messages":[{"role":"user","content":"Say hello."}]}`, stream)
			direct := make([]time.Duration, 0, b.N)
			proxied := make([]time.Duration, 0, b.N)
			for range 20 { // warm the connection pools
				post(b, client, up.URL+"/v1/chat/completions", body)
				post(b, client, proxy.URL+"/v1/chat/completions", body)
			}
			b.ResetTimer()
			for range b.N {
				d1, _ := post(b, client, up.URL+"/v1/chat/completions", body)
				d2, _ := post(b, client, proxy.URL+"/v1/chat/completions", body)
				direct, proxied = append(direct, d1), append(proxied, d2)
			}
			b.StopTimer()
			added := make([]time.Duration, len(direct))
			for i := range direct {
				added[i] = proxied[i] - direct[i]
			}
			us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
			b.ReportMetric(us(percentile(direct, 0.5)), "direct-p50-µs")
			b.ReportMetric(us(percentile(direct, 0.99)), "direct-p99-µs")
			b.ReportMetric(us(percentile(proxied, 0.5)), "proxy-p50-µs")
			b.ReportMetric(us(percentile(proxied, 0.99)), "proxy-p99-µs")
			b.ReportMetric(us(percentile(added, 0.5)), "added-p50-µs")
			b.ReportMetric(us(percentile(added, 0.99)), "added-p99-µs")
		})
	}
}

// BenchmarkSpillerComplete is the federation's own cost without the
// extra HTTP hop: a Complete against the instant upstream.
func BenchmarkSpillerComplete(b *testing.B) {
	up := benchUpstream(b)
	s, err := New(Config{Providers: []ProviderConfig{{Name: "up", Kind: KindOpenAI, BaseURL: up.URL + "/v1"}}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	call := Call{Tenant: "t", Decision: remote("m", "up"), Req: chatReq("m", false)}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Complete(bg, call); err != nil {
			b.Fatal(err)
		}
	}
}

package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestClientDisconnectCancels: a client that hangs up, streaming or not,
// cancels its request; the generator sees the cancellation and nothing
// stays behind.
func TestClientDisconnectCancels(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "json", true: "stream"}[stream]
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t)
			ts.gen.gate = make(chan struct{}) // no token is ever released
			ctx, cancel := context.WithCancel(context.Background())
			body := chatBody(`"stream":` + map[bool]string{false: "false", true: "true"}[stream])
			req, _ := http.NewRequestWithContext(ctx, "POST", ts.url+chatPath, strings.NewReader(body))
			done := make(chan error, 1)
			go func() {
				resp, err := ts.client.Do(req)
				if err == nil {
					_, err = io.ReadAll(resp.Body) // a stream sends its role chunk, then waits
					resp.Body.Close()
				}
				done <- err
			}()
			settle(t, "the request to reach the generator", func() bool { return ts.gen.open.Load() == 1 })
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("client: %v", err)
			}
			settle(t, "the generator to see the cancellation", func() bool { return ts.gen.open.Load() == 0 })
			settle(t, "request goroutines to end", func() bool { return apiGoroutines() == 0 })
		})
	}
}

// TestRequestTimeout: the per-request timeout aborts a generation that runs
// too long, with a 504 before the stream starts and an error event after.
func TestRequestTimeout(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.RequestTimeout = 100 * time.Millisecond })
	ts.gen.gate = make(chan struct{})
	resp, body := ts.post(chatPath, chatBody(""))
	if resp.StatusCode != 504 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if e := errorOf(t, body); e["code"] != "timeout" {
		t.Errorf("error %v", e)
	}
	resp, body = ts.post(chatPath, chatBody(`"stream":true`))
	evs := sseEvents(t, body)
	if resp.StatusCode != 200 || len(evs) != 3 {
		t.Fatalf("want role chunk, error event, [DONE]: %d %q", resp.StatusCode, evs)
	}
	if e := errorOf(t, []byte(evs[1])); e["code"] != "timeout" {
		t.Errorf("error event %v", e)
	}
	settle(t, "the generator to see the timeouts", func() bool { return ts.gen.open.Load() == 0 })
}

// TestGracefulShutdown: streams in flight when the shutdown starts may
// finish within the grace period; those still running at its end are
// ended with an error event and [DONE], never cut.
func TestGracefulShutdown(t *testing.T) {
	for _, finish := range []bool{true, false} {
		name := map[bool]string{true: "finishes in grace", false: "ended at grace"}[finish]
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t)
			ts.gen.gate = make(chan struct{})
			resp, err := ts.client.Post(ts.url+chatPath, "application/json", strings.NewReader(chatBody(`"stream":true`)))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			if line, _ := br.ReadString('\n'); !strings.Contains(line, `"role":"assistant"`) {
				t.Fatalf("first event %q", line)
			}
			grace := 200 * time.Millisecond
			if finish {
				grace = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- ts.s.Shutdown(ctx) }()
			settle(t, "draining", ts.s.draining.Load)
			if finish {
				ts.gen.gate <- struct{}{}
				ts.gen.gate <- struct{}{}
			}
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatalf("stream cut: %v", err)
			}
			evs := sseEvents(t, append([]byte("data: {}\n\n"), rest[1:]...))
			last := evs[len(evs)-2]
			if finish && !strings.Contains(last, `"finish_reason":"length"`) {
				t.Errorf("stream should have finished normally, last event %s", last)
			}
			if !finish {
				if e := errorOf(t, []byte(last)); e["code"] != "cancelled" {
					t.Errorf("last event %s", last)
				}
			}
			if err := <-shut; err != nil {
				t.Errorf("shutdown: %v", err)
			}
			settle(t, "the generator to finish", func() bool { return ts.gen.open.Load() == 0 })
		})
	}
}

// TestHealthWhileLoading: /health is 503 until every expected model is
// added, and a request for a loading model is a 503, not a 404.
func TestHealthWhileLoading(t *testing.T) {
	ts := newTestServer(t)
	ts.s.ExpectModels("later")
	resp, body := ts.do("GET", "/health", "")
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"status":"loading"`) {
		t.Fatalf("health while loading: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.post(chatPath, `{"model":"later","messages":[{"role":"user","content":"x"}]}`)
	if e := errorOf(t, body); resp.StatusCode != 503 || e["code"] != "model_loading" {
		t.Fatalf("request for a loading model: %d %s", resp.StatusCode, body)
	}
	if err := ts.s.AddModel(fakeModel(t, "later", ts.gen)); err != nil {
		t.Fatal(err)
	}
	if resp, body = ts.do("GET", "/health", ""); resp.StatusCode != 200 {
		t.Fatalf("health when ready: %d %s", resp.StatusCode, body)
	}
	ts.s.ExpectModels("broken")
	ts.s.FailModel("broken", errors.New("file is truncated"))
	resp, body = ts.do("GET", "/health", "")
	if resp.StatusCode != 503 || !strings.Contains(string(body), "file is truncated") {
		t.Fatalf("health after a failed load: %d %s", resp.StatusCode, body)
	}
}

// TestPipelining: requests pipelined on one connection are answered in
// order; one that arrives while a generation runs may have its first byte
// read by the disconnect probe, and then the server closes the connection
// after the current response, which stays complete.
func TestPipelining(t *testing.T) {
	ts := newTestServer(t)
	host := strings.TrimPrefix(ts.url, "http://")
	req := "POST " + chatPath + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(chatBody(""))) + "\r\n\r\n" + chatBody("")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, req+req) // both at once: fasthttp's reader holds the second
	br := bufio.NewReader(conn)
	for i := 0; i < 2; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `" Hello world"`) {
			t.Fatalf("response %d: %d %s", i, resp.StatusCode, b)
		}
	}

	ts.gen.gate = make(chan struct{})
	conn2, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	conn2.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn2, req)
	settle(t, "the first request to run", func() bool { return ts.gen.open.Load() == 1 })
	io.WriteString(conn2, req) // arrives while the first runs
	ts.gen.gate <- struct{}{}
	ts.gen.gate <- struct{}{}
	br = bufio.NewReader(conn2)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `" Hello world"`) {
		t.Fatalf("first response: %d %s", resp.StatusCode, b)
	}
	// Whether the probe read the second request's first byte before the
	// first finished is a race; either way no response may be corrupted.
	close(ts.gen.gate) // the second request, if served, runs ungated
	second, err := http.ReadResponse(br, nil)
	switch {
	case resp.Close && err == nil:
		t.Errorf("a response after Connection: close: %d", second.StatusCode)
	case !resp.Close && err != nil:
		t.Errorf("second response lost on a kept-alive connection: %v", err)
	case !resp.Close:
		b, _ = io.ReadAll(second.Body)
		if second.StatusCode != 200 || !strings.Contains(string(b), `" Hello world"`) {
			t.Errorf("second response: %d %s", second.StatusCode, b)
		}
	}
}

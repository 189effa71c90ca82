package bench

import (
	"context"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary play the server that StartServer starts:
// with BENCH_FAKE_SERVE set it serves the fake on --port and never runs
// the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("BENCH_FAKE_SERVE"); mode != "" {
		os.Exit(fakeServeMain(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeServeMain(mode string, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	port := fs.Int("port", 0, "")
	fs.String("model", "", "")
	fs.String("host", "", "")
	fs.Bool("static", false, "")
	if len(args) == 0 || args[0] != "serve" || fs.Parse(args[1:]) != nil {
		return 2
	}
	if mode == "exit" {
		return 3
	}
	_, h := newFakeHandler()
	if mode == "unhealthy" {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(*port))
	if err != nil {
		return 4
	}
	srv := &http.Server{Handler: h}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return 5
	}
	return 0
}

func startFake(t *testing.T, mode string, ready time.Duration) (*Server, string, error) {
	t.Setenv("BENCH_FAKE_SERVE", mode)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	log := filepath.Join(t.TempDir(), "server.log")
	args := []string{"serve", "--model", "m.gguf", "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--static"}
	s, err := StartServer(context.Background(), os.Args[0], args, url, log, ready)
	return s, log, err
}

func TestStartServerSweepStop(t *testing.T) {
	s, log, err := startFake(t, "ok", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{BaseURL: s.URL, Model: "fake-model", Endpoint: EndpointCompletions, Timeout: 10 * time.Second,
		HTTP: NewHTTPClient(4)}
	w := Workload{NumPrompts: 4, Warmup: 1, Synthetic: Synthetic{Input: LenDist{Kind: DistFixed, Mean: 3},
		Output: LenDist{Kind: DistFixed, Mean: 2}}}
	runs, err := RunSweep(context.Background(), SweepSpec{Client: c, Levels: []Level{{Concurrency: 2}}, Requests: w.Requests})
	if err != nil || len(runs) != 1 || runs[0].Metrics.Completed != 4 {
		t.Fatalf("sweep against the started server: %+v, %v", runs, err)
	}
	if err := s.Stop(10 * time.Second); err != nil {
		t.Errorf("stop: %v", err)
	}
	if !s.exited() || s.err != nil {
		t.Errorf("after Stop: exited %v, status %v (want a clean exit on SIGINT)", s.exited(), s.err)
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "--static") {
		t.Errorf("server log %q lacks the command line with the passthrough flag", b)
	}
}

func TestStartServerFailures(t *testing.T) {
	if _, _, err := startFake(t, "exit", 30*time.Second); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("a server that exits: %v", err)
	}
	start := time.Now()
	if _, _, err := startFake(t, "unhealthy", 500*time.Millisecond); err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("a server never healthy: %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("the readiness wait took %v", el)
	}
	if _, err := StartServer(context.Background(), os.Args[0], nil, "http://10.0.0.1:80", os.DevNull, time.Second); err == nil {
		t.Error("a non-loopback address was accepted")
	}
}

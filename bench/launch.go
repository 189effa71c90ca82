package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Server is a server process a sweep started and must stop.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
	log  *os.File
}

// FreePort asks the kernel for a free loopback port. Another process may
// take it before the server binds it; StartServer then fails clearly.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServer runs bin with args (which must make it listen on the
// loopback address of url), its output appended to logPath, and waits
// until GET url/health answers 200. It fails when the process exits or
// ready passes first, and then leaves nothing running.
func StartServer(ctx context.Context, bin string, args []string, url, logPath string, ready time.Duration) (*Server, error) {
	if !strings.HasPrefix(url, "http://127.0.0.1:") && !strings.HasPrefix(url, "http://localhost:") &&
		!strings.HasPrefix(url, "http://[::1]:") {
		return nil, fmt.Errorf("refusing to start a server at %s: only loopback addresses", url)
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	fmt.Fprintf(log, "$ %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &Server{URL: url, cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	if err := WaitHealthy(ctx, url, ready, s.done); err != nil {
		died := s.exited()
		s.Stop(5 * time.Second)
		if died {
			return nil, fmt.Errorf("%s exited before it was ready (%v); see %s", bin, s.err, logPath)
		}
		return nil, fmt.Errorf("%w; see %s", err, logPath)
	}
	return s, nil
}

func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// WaitHealthy polls GET url/health until it answers 200, exited is closed
// (the process died), ctx ends or timeout passes.
func WaitHealthy(ctx context.Context, url string, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := errors.New("no answer yet")
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(url, "/")+"/health", nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err != nil {
			last = err
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("/health answered %s", resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server at %s not ready after %v: %v", url, timeout, last)
		case <-exited:
			return errors.New("server exited")
		case <-tick.C:
		}
	}
}

// Stop asks the server to shut down (SIGINT) and kills it when it has not
// exited after grace. It returns once the process is gone.
func (s *Server) Stop(grace time.Duration) error {
	defer s.log.Close()
	if s.exited() {
		return nil
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		s.cmd.Process.Kill()
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-s.done:
		return nil
	case <-t.C:
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("server did not stop within %v of SIGINT; killed", grace)
	}
}

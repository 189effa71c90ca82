package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"spillway/federation"
)

// Config bounds and configures a Server. Zero values take the defaults
// noted beside each field.
type Config struct {
	Tenants          []Tenant      // API keys; none = an open server (logged as a warning)
	MaxBodyBytes     int           // request body limit; 0 = 16 MiB (413 above)
	MaxHeaderBytes   int           // request line plus headers; 0 = 16 KiB (431 above)
	ReadTimeout      time.Duration // to read one whole request; 0 = 60s
	WriteTimeout     time.Duration // per write, so streams of any length work; 0 = 60s
	IdleTimeout      time.Duration // keep-alive connections; 0 = 120s
	RequestTimeout   time.Duration // one generation, end to end; 0 = none
	MaxConnections   int           // concurrent connections; 0 = 16384
	CompressMinBytes int           // smallest JSON body worth compressing; 0 = 1024
	ForceStreamUsage bool          // every stream ends with a usage chunk, as if include_usage were set
	Fingerprint      string        // system_fingerprint; "" = derived from the build
	Logger           *slog.Logger  // nil = slog.Default()
	// Federation spills what the local engines cannot take to external
	// providers (chat completions of the models it routes); nil = no
	// spilling: a saturated model answers 503.
	Federation *federation.Spiller
	Now        func() time.Time
}

func (c *Config) setDefaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.MaxBodyBytes, 16<<20)
	def(&c.MaxHeaderBytes, 16<<10)
	def(&c.MaxConnections, 16384)
	def(&c.CompressMinBytes, 1024)
	defDur(&c.ReadTimeout, 60*time.Second)
	defDur(&c.WriteTimeout, 60*time.Second)
	defDur(&c.IdleTimeout, 120*time.Second)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Fingerprint == "" {
		c.Fingerprint = defaultFingerprint()
	}
}

// Server is the OpenAI-compatible HTTP server over one or more models.
type Server struct {
	cfg     Config
	log     *slog.Logger
	fs      *fasthttp.Server
	conns   sync.Map // net.Conn -> fasthttp.ConnState
	auth    *authenticator
	metrics *metrics
	fed     *fed // nil without a federation

	mu      sync.RWMutex
	models  map[string]*Model
	loading map[string]bool
	failed  map[string]string

	base     context.Context // parent of every request; cancelled when the grace period ends
	abort    context.CancelFunc
	draining atomic.Bool
	inflight atomic.Int64 // generation requests between Submit and their last event
}

// New builds a server; add models with AddModel, then Serve.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	auth, err := newAuthenticator(cfg.Tenants, cfg.Now)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, auth: auth, metrics: newMetrics(),
		models: map[string]*Model{}, loading: map[string]bool{}, failed: map[string]string{},
	}
	if cfg.Federation != nil {
		if err := s.metrics.reg.Register(cfg.Federation.Collector()); err != nil {
			return nil, fmt.Errorf("api: registering the federation's metrics: %w", err)
		}
		s.fed = newFed(cfg.Federation)
	}
	s.base, s.abort = context.WithCancel(context.Background())
	if !auth.enabled() {
		s.log.Warn("no API keys configured: the server is open to anyone who can reach it")
	}
	s.fs = &fasthttp.Server{
		Handler:                       s.Handler(),
		ErrorHandler:                  s.transportError,
		Name:                          "spillway",
		Concurrency:                   cfg.MaxConnections,
		ReadBufferSize:                cfg.MaxHeaderBytes,
		MaxRequestBodySize:            cfg.MaxBodyBytes,
		ReadTimeout:                   cfg.ReadTimeout,
		WriteTimeout:                  cfg.WriteTimeout,
		IdleTimeout:                   cfg.IdleTimeout,
		NoDefaultServerHeader:         false,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		Logger:                        fasthttpLogger{s.log},
		ConnState:                     s.trackConn,
	}
	return s, nil
}

// trackConn records each connection's state, so Shutdown can close the
// connections that hold it open for nothing: fasthttp closes the idle ones
// it sees when shutdown starts, but one that turns idle just after, or a
// client's pre-dialled connection that never sent a request, would keep
// shutdown waiting until its read timeout.
func (s *Server) trackConn(c net.Conn, st fasthttp.ConnState) {
	if st == fasthttp.StateClosed || st == fasthttp.StateHijacked {
		s.conns.Delete(c)
		return
	}
	s.conns.Store(c, st)
}

// closeIdle closes idle keep-alive connections until done, and every
// remaining connection once no generation request is in flight for two
// ticks (what is left then waits for a request that will be refused).
func (s *Server) closeIdle(done <-chan struct{}) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	quiet := 0
	for {
		if s.inflight.Load() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		s.conns.Range(func(k, v any) bool {
			if v.(fasthttp.ConnState) == fasthttp.StateIdle || quiet >= 2 {
				k.(net.Conn).Close()
			}
			return true
		})
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.fs.Serve(ln) }

// Shutdown stops accepting connections and lets in-flight requests finish
// until ctx is done; then it cancels them, so streams end with an error
// event and [DONE] rather than a cut connection, and waits for that.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	stop := context.AfterFunc(ctx, s.abort)
	defer stop()
	// After the abort every handler returns within one scheduler step; the
	// extra time only bounds a generator that ignores cancellation.
	hard, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(10 * time.Second)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-hard.Done():
			}
		case <-hard.Done():
		}
	}()
	idleDone := make(chan struct{})
	go s.closeIdle(idleDone)
	err := s.fs.ShutdownWithContext(hard)
	close(idleDone)
	s.abort()
	if err != nil {
		return fmt.Errorf("api: shutdown: %d generation requests did not end: %w", s.inflight.Load(), err)
	}
	return nil
}

// Handler is the server's request router, for embedding in another server.
func (s *Server) Handler() fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		start := time.Now()
		s.route(rc)
		if lvl := s.logLevel(rc); s.log.Enabled(context.Background(), lvl) {
			s.log.Log(context.Background(), lvl, "request", "method", string(rc.Method()), "path", string(rc.Path()),
				"status", rc.Response.StatusCode(), "dur", time.Since(start), "remote", rc.RemoteIP().String())
		}
	}
}

func (s *Server) logLevel(rc *fasthttp.RequestCtx) slog.Level {
	switch p := string(rc.Path()); {
	case p == "/health" || p == "/metrics":
		return slog.LevelDebug
	case rc.Response.StatusCode() >= 500:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

type route struct {
	method string
	auth   bool
	h      func(*fasthttp.RequestCtx, *tenantState) error
}

func (s *Server) routes(path string) (route, bool) {
	switch path {
	case "/v1/chat/completions":
		return route{"POST", true, s.chatCompletions}, true
	case "/v1/completions":
		return route{"POST", true, s.completions}, true
	case "/v1/models":
		return route{"GET", true, s.listModels}, true
	case "/tokenize":
		return route{"POST", true, s.tokenize}, true
	case "/detokenize":
		return route{"POST", true, s.detokenize}, true
	case "/health":
		return route{"GET", false, s.health}, true
	case "/metrics":
		return route{"GET", false, s.serveMetrics}, true
	case "/admin/federation":
		return route{"GET", true, s.adminFederation}, true
	}
	if len(path) > len("/v1/models/") && path[:len("/v1/models/")] == "/v1/models/" {
		return route{"GET", true, s.getModel}, true
	}
	return route{}, false
}

func (s *Server) route(rc *fasthttp.RequestCtx) {
	r, ok := s.routes(string(rc.Path()))
	if !ok {
		writeError(rc, notFound(fmt.Sprintf("no route for %s %s", rc.Method(), rc.Path()), "unknown_url"))
		return
	}
	if m := string(rc.Method()); m != r.method && !(r.method == "GET" && m == "HEAD") {
		rc.Response.Header.Set("Allow", r.method)
		writeError(rc, &apiError{Status: fasthttp.StatusMethodNotAllowed, Type: "invalid_request_error",
			Message: fmt.Sprintf("%s does not accept %s; use %s", rc.Path(), m, r.method), Code: "method_not_allowed"})
		return
	}
	var tenant *tenantState
	if r.auth {
		t, err := s.auth.authenticate(rc.Request.Header.Peek("Authorization"))
		if err != nil {
			writeError(rc, err)
			return
		}
		tenant = t
	}
	if err := r.h(rc, tenant); err != nil {
		writeError(rc, err)
	}
}

// transportError answers requests fasthttp could not read: oversize
// bodies and headers, timeouts, malformed HTTP, in OpenAI's error shape.
func (s *Server) transportError(rc *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		writeError(rc, &apiError{Status: fasthttp.StatusRequestEntityTooLarge, Type: "invalid_request_error",
			Message: fmt.Sprintf("the request body is over the %d-byte limit", s.cfg.MaxBodyBytes), Code: "request_too_large"})
	case errors.As(err, &small):
		writeError(rc, &apiError{Status: fasthttp.StatusRequestHeaderFieldsTooLarge, Type: "invalid_request_error",
			Message: fmt.Sprintf("the request headers are over the %d-byte limit", s.cfg.MaxHeaderBytes), Code: "headers_too_large"})
	case errors.As(err, &ne) && ne.Timeout():
		writeError(rc, &apiError{Status: fasthttp.StatusRequestTimeout, Type: "invalid_request_error",
			Message: "the request was not received in time", Code: "request_timeout"})
	default:
		writeError(rc, badRequest("", "malformed HTTP request: "+err.Error()))
	}
}

// health is 200 when every expected model is ready, else 503 saying why.
func (s *Server) health(rc *fasthttp.RequestCtx, _ *tenantState) error {
	s.mu.RLock()
	loading, ready := len(s.loading), len(s.models)
	failed := make(map[string]string, len(s.failed))
	for k, v := range s.failed {
		failed[k] = v
	}
	s.mu.RUnlock()
	status, code := "ok", fasthttp.StatusOK
	switch {
	case s.draining.Load():
		status, code = "draining", fasthttp.StatusServiceUnavailable
	case len(failed) > 0:
		status, code = "failed", fasthttp.StatusServiceUnavailable
	case loading > 0 || ready == 0:
		status, code = "loading", fasthttp.StatusServiceUnavailable
	}
	body, err := json.Marshal(map[string]any{"status": status, "models_ready": ready, "models_loading": loading, "errors": failed})
	if err != nil {
		return err
	}
	rc.SetStatusCode(code)
	rc.SetContentType("application/json")
	rc.SetBody(body)
	return nil
}

// fasthttpLogger routes fasthttp's own messages to slog at debug level:
// they are about misbehaving clients, not the server.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
}

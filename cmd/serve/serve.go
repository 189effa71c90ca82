package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"spillway/api"
	"spillway/engine"
	"spillway/engine/model"
	"spillway/federation"
)

func init() {
	register("serve", "serve models over an OpenAI-compatible HTTP API", runServe)
}

// serveConfig is the resolved configuration of 'spillway serve'.
type serveConfig struct {
	configPath, model, servedName, modelsDir string
	host                                     string
	port                                     int
	apiKey                                   string
	logLevel, logFormat                      string
	maxBody, maxHeader                       byteSize
	readTimeout, writeTimeout, idleTimeout   time.Duration
	requestTimeout, shutdownTimeout          time.Duration
	forceUsage                               bool
	federationPath                           string
	global                                   modelSettings

	models  []modelSpec
	tenants []api.Tenant
}

// modelSpec is one model to serve.
type modelSpec struct {
	name, path string
	settings   modelSettings
}

func (c *serveConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configPath, "config", "", "YAML config file (keys are these flag names, plus models: and tenants:)")
	fs.StringVar(&c.model, "model", "", "GGUF file, Hugging Face model directory, or the name of a pulled model")
	fs.StringVar(&c.servedName, "served-model-name", "", "the model's name in the API (default: derived from --model)")
	fs.StringVar(&c.modelsDir, "models-dir", defaultModelsDir(), "where 'spillway pull' puts models, searched by --model NAME")
	fs.StringVar(&c.host, "host", "127.0.0.1", "address to listen on (0.0.0.0 for all interfaces)")
	fs.IntVar(&c.port, "port", 8080, "TCP port to listen on (0 = any free port)")
	fs.StringVar(&c.apiKey, "api-key", "", "Bearer key required of clients, as tenant \"default\" (more keys: tenants: in --config)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", "text", "text or json")
	c.maxBody = 16 << 20
	c.maxHeader = 16 << 10
	fs.Var(&c.maxBody, "max-body-bytes", "largest request body (413 above), e.g. 16MiB")
	fs.Var(&c.maxHeader, "max-header-bytes", "largest request head (431 above), e.g. 16KiB")
	fs.DurationVar(&c.readTimeout, "read-timeout", 60*time.Second, "time to receive a whole request")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 60*time.Second, "time for one write to the client (streams may run longer)")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 120*time.Second, "keep-alive connections close after this idle time")
	fs.DurationVar(&c.requestTimeout, "request-timeout", 10*time.Minute, "a generation is aborted after this long (0 = never)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, time for in-flight requests to finish")
	fs.BoolVar(&c.forceUsage, "enable-force-include-usage", false, "end every stream with a usage chunk, as if stream_options.include_usage were set")
	fs.StringVar(&c.federationPath, "federation", "", "YAML file of spill providers, routes and budgets (see api/README.md); none = no spilling")
	c.global = defaultModelSettings()
	c.global.register(fs)
}

const serveUsage = `usage: spillway serve --model FILE|DIR|NAME [flags]
       spillway serve --config FILE [flags]

Serves one or more models over an OpenAI-compatible API: /v1/chat/completions,
/v1/completions, /v1/models, /tokenize, /detokenize, /health, /metrics.

Each setting comes from the command line, else from the environment variable
SPILLWAY_<FLAG> (upper case, dashes as underscores: SPILLWAY_MAX_NUM_SEQS),
else from the --config YAML file (whose keys are the flag names), else from
the default shown below.

flags:
`

// parseServe resolves flags, environment and config file.
func parseServe(args []string, stderr io.Writer) (*serveConfig, error) {
	fs := newFlags("serve", stderr)
	c := &serveConfig{}
	c.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (give the model with --model)", fs.Args())
	}
	set := setFlags(fs)
	if err := applyEnv(fs, set); err != nil {
		return nil, err
	}
	var fc *fileConfig
	if c.configPath != "" {
		var err error
		if fc, err = readConfigFile(c.configPath); err != nil {
			return nil, err
		}
		if err := fc.applyFile(fs, set); err != nil {
			return nil, err
		}
	}
	if err := c.resolve(fc); err != nil {
		return nil, err
	}
	return c, nil
}

// resolve builds the model list and the tenants.
func (c *serveConfig) resolve(fc *fileConfig) error {
	if c.model != "" {
		path, name, err := resolveModel(c.model, c.modelsDir)
		if err != nil {
			return err
		}
		if c.servedName != "" {
			name = c.servedName
		}
		c.models = append(c.models, modelSpec{name: name, path: path, settings: c.global})
	}
	if c.apiKey != "" {
		c.tenants = append(c.tenants, api.Tenant{Name: "default", Key: c.apiKey})
	}
	if fc != nil {
		for _, fm := range fc.models {
			if err := c.addFileModel(fm); err != nil {
				return err
			}
		}
		for _, t := range fc.tenants {
			c.tenants = append(c.tenants, api.Tenant{Name: t.Name, Key: t.Key, RequestsPerMinute: t.RequestsPerMinute,
				TokensPerMinute: t.TokensPerMinute, Priority: t.Priority})
		}
	}
	if len(c.models) == 0 {
		return errors.New("--model is required (or a models: list in --config)")
	}
	seen := map[string]bool{}
	for _, m := range c.models {
		if seen[m.name] {
			return fmt.Errorf("two models are named %q; give them distinct names", m.name)
		}
		seen[m.name] = true
	}
	return nil
}

func (c *serveConfig) addFileModel(fm fileModel) error {
	path, name, err := resolveModel(fm.model, c.modelsDir)
	if err != nil {
		return err
	}
	if fm.name != "" {
		name = fm.name
	}
	ms, err := modelSettingsFor(c.global, fm)
	if err != nil {
		return err
	}
	c.models = append(c.models, modelSpec{name: name, path: path, settings: ms})
	return nil
}

func runServe(args []string, stdout, stderr io.Writer) error {
	c, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := startServe(ctx, c, stderr)
	if err != nil {
		return err
	}
	return app.run(ctx)
}

func newLogger(c *serveConfig, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", c.logFormat)
}

func listenAddr(c *serveConfig) string { return net.JoinHostPort(c.host, strconv.Itoa(c.port)) }

// serveApp is a running server: the HTTP side starts at once (so /health
// can say "loading"), the models load behind it one after the other.
type serveApp struct {
	c       *serveConfig
	log     *slog.Logger
	srv     *api.Server
	ln      net.Listener
	loaded  chan struct{} // closed when every load has finished or failed
	gens    []*localGenerator
	failed  int
	lastErr error
}

func startServe(ctx context.Context, c *serveConfig, stderr io.Writer) (*serveApp, error) {
	log, err := newLogger(c, stderr)
	if err != nil {
		return nil, err
	}
	sp, err := loadFederation(c.federationPath)
	if err != nil {
		return nil, err
	}
	srv, err := api.New(api.Config{
		Tenants: c.tenants, MaxBodyBytes: int(c.maxBody), MaxHeaderBytes: int(c.maxHeader),
		ReadTimeout: c.readTimeout, WriteTimeout: c.writeTimeout, IdleTimeout: c.idleTimeout,
		RequestTimeout: c.requestTimeout, ForceStreamUsage: c.forceUsage, Logger: log, Federation: sp,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listenAddr(c))
	if err != nil {
		return nil, err
	}
	a := &serveApp{c: c, log: log, srv: srv, ln: ln, loaded: make(chan struct{})}
	names := make([]string, len(c.models))
	for i, m := range c.models {
		names[i] = m.name
	}
	srv.ExpectModels(names...)
	log.Info("listening", "addr", ln.Addr().String(), "models", names)
	go a.loadAll(ctx)
	return a, nil
}

// loadFederation reads --federation; "" means none (nil).
func loadFederation(path string) (*federation.Spiller, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--federation: %w", err)
	}
	cfg, err := federation.LoadConfig(b)
	if err != nil {
		return nil, fmt.Errorf("--federation %s: %w", path, err)
	}
	sp, err := federation.New(cfg, federation.Options{})
	if err != nil {
		return nil, fmt.Errorf("--federation %s: %w", path, err)
	}
	return sp, nil
}

// Addr is the address the server listens on.
func (a *serveApp) Addr() net.Addr { return a.ln.Addr() }

func (a *serveApp) loadAll(ctx context.Context) {
	defer close(a.loaded)
	for _, spec := range a.c.models {
		if ctx.Err() != nil {
			a.srv.FailModel(spec.name, errors.New("the server is shutting down"))
			continue
		}
		t0 := time.Now()
		gen, err := a.load(spec)
		if err != nil {
			a.failed++
			a.lastErr = fmt.Errorf("model %q (%s): %w", spec.name, spec.path, err)
			a.log.Error("loading model failed", "model", spec.name, "path", spec.path, "err", err)
			a.srv.FailModel(spec.name, err)
			continue
		}
		a.gens = append(a.gens, gen)
		a.log.Info("model ready", "model", spec.name, "path", spec.path, "backend", gen.eng.Backend().Name(),
			"context", gen.eng.Model.Cfg.ContextLen, "kv_blocks", gen.eng.NumBlocks(), "load_time", time.Since(t0).Round(time.Millisecond))
	}
}

// run serves until ctx ends or the server fails, then shuts down: in-flight
// requests get --shutdown-timeout to finish, then the models are closed.
func (a *serveApp) run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- a.srv.Serve(a.ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		a.log.Info("shutting down", "grace", a.c.shutdownTimeout)
	case <-a.allFailed():
		err = fmt.Errorf("no model could be loaded: %w", a.lastErr)
	}
	grace, cancel := context.WithTimeout(context.Background(), a.c.shutdownTimeout)
	defer cancel()
	err = errors.Join(err, a.srv.Shutdown(grace))
	<-a.loaded
	for _, g := range a.gens {
		err = errors.Join(err, g.Close())
	}
	a.log.Info("stopped")
	return err
}

// allFailed is closed when the loads are over and none succeeded.
func (a *serveApp) allFailed() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		<-a.loaded
		if a.failed == len(a.c.models) {
			close(ch)
		}
	}()
	return ch
}

// load builds one model: description, engine (KV pool sized here), the
// local generator (the scheduler over the engine) and its API entry.
func (a *serveApp) load(spec modelSpec) (*localGenerator, error) {
	ms := spec.settings
	d, err := model.Load(spec.path)
	if err != nil {
		return nil, err
	}
	if ms.maxModelLen > 0 {
		if ms.maxModelLen > d.Config.ContextLen {
			d.Close()
			return nil, fmt.Errorf("--max-model-len %d is over the model's context length %d", ms.maxModelLen, d.Config.ContextLen)
		}
		d.Config.ContextLen = ms.maxModelLen
	}
	kv, capped := kvBudget(&d.Config, ms, totalRAM())
	eo := engine.Options{Backend: ms.device, Threads: ms.threads, MaxTokens: ms.maxNumBatchedTokens,
		BlockSize: ms.blockSize, KVCacheMemory: kv, EnforceEager: ms.enforceEager, MaxGraphBatch: ms.maxNumSeqs}
	if ms.kvCacheMemory == 0 { // an explicit --kv-cache-memory holds on GPUs too
		eo.GPUMemoryUtilization = float64(ms.gpuMemUtil)
	}
	eng, err := engine.New(d, eo)
	if err != nil {
		d.Close()
		return nil, err
	}
	// On a GPU the default pool came from --gpu-memory-utilization, not RAM.
	if _, gpu := eng.Backend().(engine.DeviceMemory); capped && !gpu {
		a.log.Warn("the default KV cache holds fewer than --max-num-seqs full contexts (25% of RAM); set --kv-cache-memory to change it",
			"model", spec.name, "kv_bytes", kv)
	}
	gen, err := newLocalGenerator(eng, schedOptions{MaxNumSeqs: ms.maxNumSeqs, MaxNumBatchedTokens: ms.maxNumBatchedTokens,
		MaxQueue: ms.maxQueue, EnablePrefixCaching: ms.enablePrefixCaching, StaticBatching: ms.staticBatching})
	if err != nil {
		eng.Close()
		return nil, err
	}
	m, err := api.FromDescription(spec.name, d, gen)
	if err == nil {
		err = a.srv.AddModel(m)
	}
	if err != nil {
		gen.Close()
		return nil, err
	}
	return gen, nil
}

// totalRAM reads MemTotal from /proc/meminfo; 0 when unknown.
func totalRAM() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"spillway/bench"
)

func init() {
	register("bench", "serving benchmark: load generator (serve), sweeps, compare, plot", runBench)
}

const benchUsage = `usage: spillway bench <serve|sweep|compare|plot|model> [flags]

  serve    load an OpenAI-compatible server at --url and report TTFT, TPOT, ITL, E2E, throughput
  sweep    start bin/spillway serve (or use --url), run each concurrency level, plot, compare with $BASELINE_URL
  compare  A.json B.json: two reports side by side with ratios B/A
  plot     write PNG/SVG latency-vs-throughput plots of reports (one series each)
  model    raw forward speed of a model file, llama-bench style (pp512, tg128)

Run 'spillway bench <sub> -h' for its flags.`

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, benchUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub := map[string]func([]string, io.Writer, io.Writer) error{
		"serve": benchServe, "sweep": benchSweep, "compare": benchCompare, "plot": benchPlot,
		"model": benchModel,
	}[args[0]]
	if sub == nil {
		fmt.Fprintf(stderr, "spillway bench: unknown subcommand %q\n\n%s\n", args[0], benchUsage)
		return errUsage
	}
	return sub(args[1:], stdout, stderr)
}

// loadFlags are the flags of every command that generates load.
type loadFlags struct {
	url, model, apiKey, endpoint         string
	dataset, replay                      string
	numPrompts, warmup, waves, minPrompt int
	inLen, outLen                        int
	lenDist                              string
	inRange, outRange                    float64
	prefixes, prefixLen                  int
	concurrency, rate                    string
	burstiness                           float64
	goodput                              string
	timeout, maxDuration, drain          time.Duration
	seed                                 uint64
	out, name                            string
	quiet                                bool
}

func (lf *loadFlags) register(fs *flag.FlagSet, concurrency string, numPrompts int) {
	fs.StringVar(&lf.url, "url", "", "server base URL, e.g. http://127.0.0.1:8080")
	fs.StringVar(&lf.model, "model", "", "model name to request (default: the server's first in /v1/models)")
	fs.StringVar(&lf.apiKey, "api-key", "", "Bearer key (default $OPENAI_API_KEY)")
	fs.StringVar(&lf.endpoint, "endpoint", bench.EndpointCompletions, "chat (/v1/chat/completions) or completions (/v1/completions)")
	fs.StringVar(&lf.dataset, "dataset", bench.DatasetSynthetic, "synthetic, shared-prefix or replay")
	fs.StringVar(&lf.replay, "replay", "", "JSONL trace for --dataset replay: {\"prompt\":…,\"output_len\":…}")
	fs.IntVar(&lf.numPrompts, "num-prompts", numPrompts, "measured requests per level (0 = max(--min-prompts, --waves × concurrency))")
	fs.IntVar(&lf.waves, "waves", 4, "with --num-prompts 0: requests per unit of concurrency")
	fs.IntVar(&lf.minPrompt, "min-prompts", 16, "with --num-prompts 0: at least this many requests per level")
	fs.IntVar(&lf.warmup, "warmup", -1, "warm-up requests per level, excluded from figures (-1 = min(concurrency, 8))")
	fs.IntVar(&lf.inLen, "input-len", 128, "prompt words (≈ tokens) per request; mean or median per --len-dist")
	fs.IntVar(&lf.outLen, "output-len", 64, "output tokens per request (max_tokens with ignore_eos)")
	fs.StringVar(&lf.lenDist, "len-dist", bench.DistFixed, "length distribution: fixed, uniform, longtail")
	fs.Float64Var(&lf.inRange, "input-range", 0.5, "uniform: ± fraction of --input-len; longtail: log-normal sigma")
	fs.Float64Var(&lf.outRange, "output-range", 0.5, "the same for --output-len")
	fs.IntVar(&lf.prefixes, "prefixes", 4, "shared-prefix: number of distinct system prompts")
	fs.IntVar(&lf.prefixLen, "prefix-len", 512, "shared-prefix: words per system prompt")
	fs.StringVar(&lf.concurrency, "concurrency", concurrency, "max requests in flight; a list sweeps (1,4,16); empty = unbounded")
	fs.StringVar(&lf.rate, "rate", "inf", "request rate in req/s (Poisson); a list sweeps; inf = all at once")
	fs.Float64Var(&lf.burstiness, "burstiness", 1, "gamma shape of arrivals: 1 = Poisson, < 1 burstier")
	fs.StringVar(&lf.goodput, "goodput", "", "SLOs for goodput, e.g. ttft:200ms,tpot:50ms,e2el:5s")
	fs.DurationVar(&lf.timeout, "timeout", 5*time.Minute, "per-request timeout")
	fs.DurationVar(&lf.maxDuration, "max-duration", 0, "per level: send nothing after this (0 = no limit)")
	fs.DurationVar(&lf.drain, "drain", 30*time.Second, "with --max-duration: cancel requests still running this long after it")
	fs.Uint64Var(&lf.seed, "seed", 1, "dataset and arrival seed; the same seed sends the same prompts")
	fs.StringVar(&lf.out, "out", "bench/results", "directory for the JSON report (and plots); empty = none")
	fs.StringVar(&lf.name, "name", "", "report name (default: spillway for a Spillway server, else host_port)")
	fs.BoolVar(&lf.quiet, "quiet", false, "no progress bar")
}

// defaults fills what comes from the environment; keys are read here, not
// as flag defaults, so -h never prints them.
func (lf *loadFlags) defaults() {
	if lf.apiKey == "" {
		lf.apiKey = os.Getenv("OPENAI_API_KEY")
	}
}

func (lf *loadFlags) workload() (bench.Workload, error) {
	w := bench.Workload{Dataset: lf.dataset, NumPrompts: lf.numPrompts, Waves: lf.waves, MinPrompts: lf.minPrompt,
		Warmup: lf.warmup}
	w.Synthetic = bench.Synthetic{
		Input:    bench.LenDist{Kind: lf.lenDist, Mean: lf.inLen, Range: lf.inRange},
		Output:   bench.LenDist{Kind: lf.lenDist, Mean: lf.outLen, Range: lf.outRange},
		Prefixes: lf.prefixes, PrefixLen: lf.prefixLen, Seed: lf.seed,
	}
	if lf.lenDist == bench.DistFixed {
		w.Synthetic.Input.Range, w.Synthetic.Output.Range = 0, 0
	}
	if lf.dataset == bench.DatasetReplay {
		if lf.replay == "" {
			return w, errors.New("--dataset replay needs --replay FILE")
		}
		reqs, err := bench.LoadReplay(lf.replay)
		if err != nil {
			return w, err
		}
		w.Replay = reqs
	}
	return w, nil
}

// spec assembles a sweep against url; the model name is asked of the
// server when not given.
func (lf *loadFlags) spec(ctx context.Context, url, model, key string, stderr io.Writer) (bench.SweepSpec, error) {
	levels, err := bench.ParseLevels(lf.concurrency, lf.rate)
	if err != nil {
		return bench.SweepSpec{}, err
	}
	slo, err := bench.ParseSLO(lf.goodput)
	if err != nil {
		return bench.SweepSpec{}, err
	}
	wl, err := lf.workload()
	if err != nil {
		return bench.SweepSpec{}, err
	}
	if lf.endpoint != bench.EndpointChat && lf.endpoint != bench.EndpointCompletions {
		return bench.SweepSpec{}, fmt.Errorf("--endpoint %q: want chat or completions", lf.endpoint)
	}
	maxC := 0
	for _, l := range levels {
		maxC = max(maxC, l.Concurrency)
	}
	c := &bench.Client{BaseURL: url, Model: model, APIKey: key, Endpoint: lf.endpoint, Timeout: lf.timeout,
		HTTP: bench.NewHTTPClient(max(maxC, 64))}
	if c.Model == "" {
		ids, err := c.Models(ctx)
		if err != nil || len(ids) == 0 {
			return bench.SweepSpec{}, fmt.Errorf("no --model given and the server did not list one (%v)", err)
		}
		c.Model = ids[0]
	}
	s := bench.SweepSpec{
		Client: c, Levels: levels, SLO: slo, MaxDuration: lf.maxDuration, Drain: lf.drain, Seed: lf.seed, Scrape: true,
		Requests: wl.Requests,
		Params: bench.Params{Endpoint: lf.endpoint, Dataset: lf.dataset, Burstiness: lf.burstiness,
			Input: wl.Synthetic.Input, Output: wl.Synthetic.Output},
	}
	if lf.dataset == bench.DatasetSharedPrefix {
		s.Params.Prefixes, s.Params.PrefixLen = lf.prefixes, lf.prefixLen
	}
	if lf.dataset == bench.DatasetReplay { // lengths come from the trace
		s.Params.Dataset += ":" + filepath.Base(lf.replay)
		s.Params.Input, s.Params.Output = bench.LenDist{}, bench.LenDist{}
	}
	if !lf.quiet {
		s.Progress = stderr
	}
	return s, nil
}

// newReport records runs that started at t (which names its file).
func newReport(name string, srv bench.ServerInfo, runs []bench.Run, t time.Time) *bench.Report {
	return &bench.Report{Schema: bench.Schema, Time: t, Name: name, Machine: bench.DetectMachine(),
		Commit: bench.GitCommit("."), Server: srv, Runs: runs}
}

// save writes the report under dir (unless dir is empty) and says where.
func save(r *bench.Report, dir string, stdout io.Writer) error {
	if dir == "" || len(r.Runs) == 0 {
		return nil
	}
	path := filepath.Join(dir, r.FileName())
	if err := r.Save(path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return nil
}

func benchServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench serve", stderr)
	var lf loadFlags
	lf.register(fs, "", 100)
	if err := parse(fs, args); err != nil {
		return err
	}
	if lf.url == "" {
		return errors.New("--url is required (e.g. http://127.0.0.1:8080)")
	}
	lf.defaults()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	spec, err := lf.spec(ctx, lf.url, lf.model, lf.apiKey, stderr)
	if err != nil {
		return err
	}
	spec.Detail = stdout
	start := time.Now()
	runs, err := bench.RunSweep(ctx, spec)
	if len(runs) > 1 {
		bench.WriteSweep(stdout, runs)
	}
	name := lf.name
	if name == "" {
		name = reportName(lf.url, runs)
	}
	rep := newReport(name, bench.ServerInfo{URL: lf.url, Model: spec.Client.Model}, runs, start)
	return errors.Join(err, save(rep, lf.out, stdout))
}

// reportName names a report after its server: "spillway" when the server
// exposed Spillway's metrics, else its host and port.
func reportName(url string, runs []bench.Run) string {
	for _, r := range runs {
		if r.Server != nil {
			return "spillway"
		}
	}
	h := strings.TrimPrefix(strings.TrimPrefix(url, "http://"), "https://")
	h, _, _ = strings.Cut(h, "/")
	return strings.NewReplacer(":", "_", "[", "", "]", "").Replace(h)
}

func benchCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench compare", stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("want two reports: spillway bench compare A.json B.json")
	}
	a, err := bench.LoadReport(fs.Arg(0))
	if err != nil {
		return err
	}
	b, err := bench.LoadReport(fs.Arg(1))
	if err != nil {
		return err
	}
	if bench.WriteCompare(stdout, a, b) == 0 {
		return errors.New("the reports share no run labels")
	}
	return nil
}

func benchPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench plot", stderr)
	out := fs.String("o", "bench/results/plot", "output path without extension (.png and .svg are written)")
	title := fs.String("title", "latency vs throughput", "figure title")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("want one or more reports: spillway bench plot -o base A.json [B.json ...]")
	}
	var series []bench.Series
	for _, p := range fs.Args() {
		r, err := bench.LoadReport(p)
		if err != nil {
			return err
		}
		series = append(series, bench.Series{Name: r.Name, Runs: r.Runs})
	}
	paths, err := bench.PlotSweep(*out, *title, series)
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return err
}

func benchSweep(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench sweep", stderr)
	var lf loadFlags
	lf.register(fs, "1,4,16,64", 0)
	bin := fs.String("server-bin", "bin/spillway", "the spillway binary to start (unless --url)")
	modelPath := fs.String("model-path", "", "GGUF file the started server serves (unless --url)")
	serverArgs := fs.String("server-args", "", "extra flags for 'spillway serve', space-separated (e.g. \"--max-num-seqs 64\")")
	ready := fs.Duration("ready-timeout", 5*time.Minute, "how long the started server may take to load")
	baseURL := fs.String("baseline-url", os.Getenv("BASELINE_URL"), "also sweep this server and print ratios (default $BASELINE_URL)")
	baseModel := fs.String("baseline-model", os.Getenv("BASELINE_MODEL"), "model name at the baseline (default $BASELINE_MODEL, else its first)")
	baseKey := fs.String("baseline-api-key", "", "Bearer key for the baseline (default $BASELINE_API_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	lf.defaults()
	if *baseKey == "" {
		*baseKey = os.Getenv("BASELINE_API_KEY")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	stamp := start.UTC().Format("20060102-150405") // names the log, the plots and our report alike
	srv := bench.ServerInfo{URL: lf.url}
	stopServer := func() {}
	if lf.url == "" {
		if *modelPath == "" {
			return errors.New("give --url of a running server, or --model-path for the server to start")
		}
		s, info, err := startServer(ctx, *bin, *modelPath, *serverArgs, filepath.Join(lf.out, "server-"+stamp+".log"), *ready)
		if err != nil {
			return err
		}
		defer s.Stop(30 * time.Second)
		srv, lf.url = info, s.URL
		fmt.Fprintf(stderr, "started %s serve at %s\n", *bin, s.URL)
		stopServer = func() { s.Stop(30 * time.Second) }
	}
	ours, err := sweepOne(ctx, &lf, lf.url, lf.model, lf.apiKey, "spillway", srv, start, stdout, stderr)
	if err != nil {
		return err
	}
	stopServer() // a baseline on this machine must not share the CPU with an idle server
	series := []bench.Series{{Name: ours.Name, Runs: ours.Runs}}
	if *baseURL != "" {
		base, err := sweepOne(ctx, &lf, *baseURL, *baseModel, *baseKey, "baseline", bench.ServerInfo{URL: *baseURL},
			time.Now(), stdout, stderr)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		fmt.Fprintln(stdout, "\nspillway (B) against the baseline (A):")
		bench.WriteCompare(stdout, base, ours)
		series = append(series, bench.Series{Name: base.Name, Runs: base.Runs})
	}
	return plotSweep(&lf, stamp, ours, series, stdout)
}

// plotSweep draws the sweep's series under --out, titled with the model,
// the machine and the workload.
func plotSweep(lf *loadFlags, stamp string, ours *bench.Report, series []bench.Series, stdout io.Writer) error {
	if lf.out == "" {
		return nil
	}
	m := ours.Machine
	title := fmt.Sprintf("%s · %s, %d cores · %s %d→%d tokens", ours.Server.Model, m.CPU, m.Cores, lf.dataset, lf.inLen, lf.outLen)
	paths, err := bench.PlotSweep(filepath.Join(lf.out, "sweep-"+stamp), title, series)
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return err
}

// startServer starts 'bin serve' on a free loopback port.
func startServer(ctx context.Context, bin, model, extra, logPath string, ready time.Duration) (*bench.Server, bench.ServerInfo, error) {
	port, err := bench.FreePort()
	if err != nil {
		return nil, bench.ServerInfo{}, err
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, bench.ServerInfo{}, err
	}
	args := append([]string{"serve", "--model", model, "--host", "127.0.0.1", "--port", strconv.Itoa(port)},
		strings.Fields(extra)...)
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	s, err := bench.StartServer(ctx, bin, args, url, logPath, ready)
	return s, bench.ServerInfo{URL: url, ModelPath: model, Args: args}, err
}

// sweepOne sweeps one server, prints its table and saves its report; the
// report holds the runs that finished even when a later level failed.
func sweepOne(ctx context.Context, lf *loadFlags, url, model, key, name string, srv bench.ServerInfo, start time.Time,
	stdout, stderr io.Writer) (*bench.Report, error) {
	spec, err := lf.spec(ctx, url, model, key, stderr)
	if err != nil {
		return nil, err
	}
	srv.Model = spec.Client.Model
	runs, err := bench.RunSweep(ctx, spec)
	if lf.name != "" && name == "spillway" {
		name = lf.name
	}
	rep := newReport(name, srv, runs, start)
	fmt.Fprintf(stdout, "\n%s: %s at %s\n", name, srv.Model, url)
	bench.WriteSweep(stdout, runs)
	if err := errors.Join(err, save(rep, lf.out, stdout)); err != nil {
		return nil, err
	}
	return rep, nil
}

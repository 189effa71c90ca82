package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Schema is the version of the JSON report; readers refuse newer ones.
const Schema = 1

// Report is one benchmark invocation, as written to JSON: one Run for
// `bench serve`, one per level for a sweep.
type Report struct {
	Schema  int        `json:"schema"`
	Time    time.Time  `json:"time"`
	Name    string     `json:"name"` // which server: "spillway", "baseline", …
	Machine Machine    `json:"machine"`
	Commit  string     `json:"commit,omitempty"`
	Server  ServerInfo `json:"server"`
	Runs    []Run      `json:"runs"`
}

// ServerInfo says what was measured.
type ServerInfo struct {
	URL       string   `json:"url"`
	Model     string   `json:"model"`
	ModelPath string   `json:"model_path,omitempty"` // when the sweep started the server
	Args      []string `json:"args,omitempty"`
}

// Params are a run's load parameters.
type Params struct {
	Endpoint       string  `json:"endpoint"`
	Dataset        string  `json:"dataset"`
	NumRequests    int     `json:"num_requests"`
	Warmup         int     `json:"warmup"`
	Rate           float64 `json:"request_rate"` // 0 = all at once (inf)
	Burstiness     float64 `json:"burstiness"`
	MaxConcurrency int     `json:"max_concurrency"` // 0 = unbounded
	Input          LenDist `json:"input_len,omitzero"`
	Output         LenDist `json:"output_len,omitzero"`
	Prefixes       int     `json:"shared_prefixes,omitempty"`
	PrefixLen      int     `json:"shared_prefix_len,omitempty"`
	Seed           uint64  `json:"seed"`
	SLO            string  `json:"goodput_slo,omitempty"`
	Timeout        string  `json:"timeout"`
	MaxDuration    string  `json:"max_duration,omitempty"`
}

// Run is one measured window: its parameters and figures.
type Run struct {
	Label        string            `json:"label"` // "c=16", "rate=4"
	Params       Params            `json:"params"`
	Metrics      Metrics           `json:"metrics"`
	Skipped      int               `json:"skipped,omitempty"`       // never sent: MaxDuration passed
	ErrorSamples map[string]string `json:"error_samples,omitempty"` // first message of each error kind
	Server       *ServerStats      `json:"server_stats,omitempty"`  // Spillway servers only
}

// NewRun computes a Run's figures from what Execute measured.
func NewRun(label string, p Params, out *Outcome, slo SLO, stats *ServerStats) Run {
	r := Run{Label: label, Params: p, Metrics: Compute(out.Results, out.Duration, slo), Skipped: out.Skipped, Server: stats}
	for _, res := range out.Results {
		if !res.OK() {
			if r.ErrorSamples == nil {
				r.ErrorSamples = map[string]string{}
			}
			if _, ok := r.ErrorSamples[res.Err]; !ok {
				r.ErrorSamples[res.Err] = truncate(res.Detail, 300)
			}
		}
	}
	return r
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Machine describes the load generator's host (where the server ran too,
// for `make bench`).
type Machine struct {
	CPU         string `json:"cpu"`
	Cores       int    `json:"cores"`
	MemoryBytes int64  `json:"memory_bytes"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	GoVersion   string `json:"go_version"`
}

// DetectMachine reads the CPU model and memory from /proc where there is
// one; elsewhere those fields stay empty.
func DetectMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
	m.CPU = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "" {
		n, _ := strconv.ParseInt(strings.TrimSuffix(kb, " kB"), 10, 64)
		m.MemoryBytes = n << 10
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc
// file, reading at most 1 MiB of it.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// GitCommit is the commit of the checkout in dir ("+dirty" when it has
// uncommitted changes), or "" outside a git checkout.
func GitCommit(dir string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	st, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+dirty"
	}
	return c
}

// Save writes the report as indented JSON, creating its directory.
func (r *Report) Save(path string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding report: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(js, '\n'), 0o644)
}

// FileName is the report's file name: <name>-<time>.json.
func (r *Report) FileName() string {
	return fmt.Sprintf("%s-%s.json", r.Name, r.Time.UTC().Format("20060102-150405"))
}

// LoadReport reads a report written by Save.
func LoadReport(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r Report
	dec := json.NewDecoder(io.LimitReader(f, 256<<20))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: not a benchmark report: %v", path, err)
	}
	switch {
	case r.Schema == 0:
		return nil, fmt.Errorf("%s: not a benchmark report (no schema)", path)
	case r.Schema > Schema:
		return nil, fmt.Errorf("%s: report schema %d is newer than this binary's %d", path, r.Schema, Schema)
	case len(r.Runs) == 0:
		return nil, errors.New(path + ": report has no runs")
	}
	return &r, nil
}

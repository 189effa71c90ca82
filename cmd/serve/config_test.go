package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spillway/engine/model"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{"", 0, false}, {"0", 0, false}, {"1048576", 1 << 20, false}, {"2GiB", 2 << 30, false},
		{"512MiB", 512 << 20, false}, {"1.5GB", 1_500_000_000, false}, {"64k", 64 << 10, false},
		{" 3 gib ", 3 << 30, false}, {"10B", 10, false},
		{"-1", 0, true}, {"lots", 0, true}, {"1e30GiB", 0, true}, {"GiB", 0, true}, {"NaN", 0, true},
	}
	for _, tt := range tests {
		got, err := parseBytes(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// writeFile writes a file under t.TempDir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSettingsPrecedence: command line > environment > config file > default.
func TestSettingsPrecedence(t *testing.T) {
	modelFile := writeFile(t, "tiny.gguf", "not really a model")
	cfg := writeFile(t, "serve.yaml", `
port: 9001
host: 0.0.0.0
max-num-seqs: 8
max_queue: 77
request-timeout: 5s
kv-cache-memory: 1GiB
`)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		port int
		seqs int
		host string
	}{
		{"file over default", []string{"--config", cfg, "--model", modelFile}, nil, 9001, 8, "0.0.0.0"},
		{"env over file", []string{"--config", cfg, "--model", modelFile}, map[string]string{"SPILLWAY_PORT": "9002", "SPILLWAY_MAX_NUM_SEQS": "4"}, 9002, 4, "0.0.0.0"},
		{"flag over env", []string{"--config", cfg, "--model", modelFile, "--port", "9003"}, map[string]string{"SPILLWAY_PORT": "9002"}, 9003, 8, "0.0.0.0"},
		{"defaults", []string{"--model", modelFile}, nil, 8080, 64, "127.0.0.1"},
		{"config from env", []string{"--model", modelFile}, map[string]string{"SPILLWAY_CONFIG": cfg}, 9001, 8, "0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := parseServe(tt.args, new(bytes.Buffer))
			if err != nil {
				t.Fatal(err)
			}
			m := c.models[0]
			if c.port != tt.port || m.settings.maxNumSeqs != tt.seqs || c.host != tt.host {
				t.Errorf("port %d seqs %d host %s, want %d %d %s", c.port, m.settings.maxNumSeqs, c.host, tt.port, tt.seqs, tt.host)
			}
			if m.name != "tiny" || m.path != modelFile {
				t.Errorf("model %+v", m)
			}
		})
	}
	c, err := parseServe([]string{"--config", cfg, "--model", modelFile}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if c.global.maxQueue != 77 || c.requestTimeout != 5*time.Second || c.global.kvCacheMemory != 1<<30 {
		t.Errorf("file settings not applied: queue %d timeout %v kv %d", c.global.maxQueue, c.requestTimeout, c.global.kvCacheMemory)
	}
}

func TestConfigModelsAndTenants(t *testing.T) {
	a := writeFile(t, "a.gguf", "x")
	b := writeFile(t, "b.gguf", "x")
	t.Setenv("TEAM_B_KEY", "sk-b")
	cfg := writeFile(t, "serve.yaml", `
max-num-seqs: 16
models:
  - model: `+a+`
  - name: big
    model: `+b+`
    max-num-seqs: 2
    device: ref
tenants:
  - name: team-a
    key: sk-a
    requests-per-minute: 60
    priority: 1
  - name: team-b
    key-env: TEAM_B_KEY
    tokens-per-minute: 1000
`)
	c, err := parseServe([]string{"--config", cfg, "--api-key", "sk-root"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.models) != 2 || c.models[0].name != "a" || c.models[0].settings.maxNumSeqs != 16 ||
		c.models[1].name != "big" || c.models[1].settings.maxNumSeqs != 2 || c.models[1].settings.device != "ref" {
		t.Errorf("models %+v", c.models)
	}
	if len(c.tenants) != 3 || c.tenants[0].Name != "default" || c.tenants[0].Key != "sk-root" ||
		c.tenants[1].RequestsPerMinute != 60 || c.tenants[1].Priority != 1 || c.tenants[2].Key != "sk-b" || c.tenants[2].TokensPerMinute != 1000 {
		t.Errorf("tenants %+v", c.tenants)
	}
}

func TestConfigErrors(t *testing.T) {
	m := writeFile(t, "m.gguf", "x")
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "max-num-sequences: 3\n", "unknown setting"},
		{"bad value", "port: eighty\n", "port"},
		{"model without path", "models:\n  - name: x\n", "no \"model\""},
		{"unknown model key", "models:\n  - model: " + m + "\n    colour: red\n", "unknown setting"},
		{"tenant typo", "tenants:\n  - name: a\n    kye: k\n", "kye"},
		{"missing key env", "tenants:\n  - name: a\n    key-env: SPILLWAY_TEST_UNSET_VAR\n", "SPILLWAY_TEST_UNSET_VAR"},
		{"duplicate names", "models:\n  - model: " + m + "\n  - model: " + m + "\n", "two models"},
		{"not yaml", "port: [1,\n", "serve.yaml"},
		{"nested setting", "port:\n  a: 1\n", "single value"},
		{"utilization over 1", "gpu-memory-utilization: 1.5\n", "not a fraction in (0, 1]"},
		{"utilization zero", "gpu-memory-utilization: 0\n", "not a fraction in (0, 1]"},
		{"utilization word", "gpu-memory-utilization: most\n", "gpu-memory-utilization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeFile(t, "serve.yaml", tt.yaml)
			_, err := parseServe([]string{"--config", cfg}, new(bytes.Buffer))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := parseServe(nil, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "--model is required") {
		t.Errorf("no model: %v", err)
	}
	t.Setenv("SPILLWAY_MAX_NUM_SEQS", "many")
	if _, err := parseServe([]string{"--model", m}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "SPILLWAY_MAX_NUM_SEQS") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestServeHelp(t *testing.T) {
	var out bytes.Buffer
	if code := realMain([]string{"serve", "-h"}, new(bytes.Buffer), &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"--config", "-model", "-max-num-seqs", "-kv-cache-memory", "-api-key", "SPILLWAY_", "-shutdown-timeout",
		"-enable-prefix-caching", "-max-queue", "-block-size", "-max-num-batched-tokens", "-models-dir"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestKVBudget(t *testing.T) {
	cfg := &model.Config{NumLayers: 2, NumKVHeads: 2, HeadDim: 64, ContextLen: 4096} // 1 KiB per token at F16
	perCtx := int64(4096+16) * 1024
	tests := []struct {
		name   string
		ms     modelSettings
		ram    int64
		want   int64
		capped bool
	}{
		{"explicit", modelSettings{kvCacheMemory: 123456, maxNumSeqs: 64, blockSize: 16}, 1 << 40, 123456, false},
		{"seqs fit", modelSettings{maxNumSeqs: 4, blockSize: 16}, 1 << 40, 4 * perCtx, false},
		{"quarter of ram", modelSettings{maxNumSeqs: 64, blockSize: 16}, 64 << 20, 16 << 20, true},
		{"at least one context", modelSettings{maxNumSeqs: 64, blockSize: 16}, 1 << 20, perCtx, true},
		{"ram unknown", modelSettings{maxNumSeqs: 2, blockSize: 16}, 0, 2 * perCtx, false},
	}
	for _, tt := range tests {
		got, capped := kvBudget(cfg, tt.ms, tt.ram)
		if got != tt.want || capped != tt.capped {
			t.Errorf("%s: %d %v, want %d %v", tt.name, got, capped, tt.want, tt.capped)
		}
	}
}

// FuzzParseConfig: any config file parses or fails with an error; no panic.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"port: 1\n", "models:\n  - model: x\n    max-num-seqs: 2\n", "tenants:\n  - name: a\n    key: k\n",
		"a: [1, {b: c}]\n", "models: 5\n", "tenants: [{name: x, priority: y}]\n", "&a [*a]\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fc, err := parseConfig([]byte(s))
		if err == nil && fc == nil {
			t.Fatal("nil config without an error")
		}
	})
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"2GiB", "1.5gb", "", "-3", "1e309", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := parseBytes(s); err == nil && n < 0 {
			t.Fatalf("parseBytes(%q) = %d", s, n)
		}
	})
}

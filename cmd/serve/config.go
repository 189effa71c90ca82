package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"spillway/engine/model"
)

// Settings of 'spillway serve' come from, in order of precedence: the
// command line, SPILLWAY_* environment variables (the flag name upper-cased,
// dashes as underscores: --max-num-seqs is SPILLWAY_MAX_NUM_SEQS), the YAML
// file of --config, and the built-in defaults. The YAML file's top-level
// keys are the flag names; it adds "models:" (several models, each with its
// own engine and scheduler settings) and "tenants:" (API keys).

// modelSettings are the per-model flags: the engine's and the scheduler's.
type modelSettings struct {
	device              string
	threads             int
	maxModelLen         int
	maxNumSeqs          int
	maxNumBatchedTokens int
	maxQueue            int
	blockSize           int
	kvCacheMemory       byteSize
	gpuMemUtil          fraction
	enablePrefixCaching bool
	staticBatching      bool
	enforceEager        bool
}

func defaultModelSettings() modelSettings {
	return modelSettings{device: "auto", maxNumSeqs: 64, maxNumBatchedTokens: 512, maxQueue: 1024, blockSize: 16,
		gpuMemUtil: 0.9, enablePrefixCaching: true}
}

// register binds the per-model flags to m, with m's current values as the
// defaults: a model entry of the config file starts from the global values.
func (m *modelSettings) register(fs *flag.FlagSet) {
	fs.StringVar(&m.device, "device", m.device, "compute backend: auto, cpu, ref (pure Go), cuda")
	fs.IntVar(&m.threads, "threads", m.threads, "CPU threads (0 = all cores)")
	fs.IntVar(&m.maxModelLen, "max-model-len", m.maxModelLen, "context length to serve, at most the model's (0 = the model's)")
	fs.IntVar(&m.maxNumSeqs, "max-num-seqs", m.maxNumSeqs, "sequences running at once")
	fs.IntVar(&m.maxNumBatchedTokens, "max-num-batched-tokens", m.maxNumBatchedTokens, "tokens per forward step")
	fs.IntVar(&m.maxQueue, "max-queue", m.maxQueue, "waiting requests before new ones get 503")
	fs.IntVar(&m.blockSize, "block-size", m.blockSize, "KV cache block size in tokens")
	fs.Var(&m.kvCacheMemory, "kv-cache-memory", "KV cache size, e.g. 2GiB or 512MiB (default: on a GPU, see --gpu-memory-utilization; "+
		"else max-num-seqs full contexts, at most 25% of RAM)")
	fs.Var(&m.gpuMemUtil, "gpu-memory-utilization", "on a GPU without --kv-cache-memory: share of the device's memory in use "+
		"once the KV cache is allocated (weights, scratch, KV and other processes), in (0, 1]")
	fs.BoolVar(&m.enablePrefixCaching, "enable-prefix-caching", m.enablePrefixCaching, "reuse the KV blocks of shared prompt prefixes")
	fs.BoolVar(&m.staticBatching, "static-batching", m.staticBatching, "admit new requests only when none runs (for comparisons)")
	fs.BoolVar(&m.enforceEager, "enforce-eager", m.enforceEager, "on a GPU, run decode steps op by op instead of replaying them as CUDA graphs")
}

// fraction is a flag holding a number in (0, 1].
type fraction float64

func (f *fraction) String() string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(float64(*f), 'g', -1, 64)
}

func (f *fraction) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(v > 0 && v <= 1) {
		return fmt.Errorf("%q is not a fraction in (0, 1] (e.g. 0.9)", s)
	}
	*f = fraction(v)
	return nil
}

// byteSize is a flag holding a byte count written with an optional unit
// (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB); "" and 0 mean automatic.
type byteSize int64

func (b *byteSize) String() string {
	if b == nil || *b == 0 {
		return ""
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1},
}

// parseBytes reads "2GiB", "1.5GB", "512m", "1048576".
func parseBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, nil
	}
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size (use e.g. 2GiB, 512MiB, 1000000)", s)
	}
	return int64(v * mult), nil
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "SPILLWAY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets, from the environment, every flag the command line did not.
func applyEnv(fs *flag.FlagSet, set map[string]bool) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
			}
			set[f.Name] = true
		}
	})
	return errors.Join(errs...)
}

// setFlags is the set of flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// fileConfig is the YAML config file: flag settings plus models and tenants.
type fileConfig struct {
	settings map[string]string // flag name → value
	models   []fileModel
	tenants  []fileTenant
}

type fileModel struct {
	name, model string
	settings    map[string]string // per-model flags
}

type fileTenant struct {
	Name              string  `yaml:"name"`
	Key               string  `yaml:"key"`
	KeyEnv            string  `yaml:"key-env"`
	RequestsPerMinute float64 `yaml:"requests-per-minute"`
	TokensPerMinute   float64 `yaml:"tokens-per-minute"`
	Priority          int     `yaml:"priority"`
}

// readConfigFile parses a config file; unknown keys are errors, so a typo
// never silently leaves a default in place.
func readConfigFile(path string) (*fileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	fc, err := parseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fc, nil
}

// maxConfigBytes bounds a config file: it is configuration, not data.
const maxConfigBytes = 1 << 20

func parseConfig(b []byte) (*fileConfig, error) {
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("config file of %d bytes is over the %d-byte limit", len(b), maxConfigBytes)
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(b, &top); err != nil {
		return nil, err
	}
	fc := &fileConfig{settings: map[string]string{}}
	var err error
	for k, node := range top {
		key := strings.ReplaceAll(k, "_", "-")
		switch key {
		case "models":
			if fc.models, err = decodeModels(&node); err != nil {
				return nil, fmt.Errorf("models: %w", err)
			}
		case "tenants":
			if fc.tenants, err = decodeTenants(&node); err != nil {
				return nil, fmt.Errorf("tenants: %w", err)
			}
		default:
			if node.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: %s must be a single value", node.Line, k)
			}
			fc.settings[key] = node.Value
		}
	}
	return fc, nil
}

func decodeModels(node *yaml.Node) ([]fileModel, error) {
	var raw []map[string]yaml.Node
	if err := node.Decode(&raw); err != nil {
		return nil, err
	}
	out := make([]fileModel, 0, len(raw))
	for i, entry := range raw {
		m := fileModel{settings: map[string]string{}}
		for k, v := range entry {
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("model %d: %s must be a single value", i, k)
			}
			switch key := strings.ReplaceAll(k, "_", "-"); key {
			case "name":
				m.name = v.Value
			case "model", "path":
				m.model = v.Value
			default:
				m.settings[key] = v.Value
			}
		}
		if m.model == "" {
			return nil, fmt.Errorf("model %d has no \"model\" (a GGUF file, a model directory or a pulled model's name)", i)
		}
		out = append(out, m)
	}
	return out, nil
}

func decodeTenants(node *yaml.Node) ([]fileTenant, error) {
	b, err := yaml.Marshal(node)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var ts []fileTenant
	if err := dec.Decode(&ts); err != nil {
		return nil, err
	}
	for i := range ts {
		if ts[i].KeyEnv != "" {
			v, ok := os.LookupEnv(ts[i].KeyEnv)
			if !ok || v == "" {
				return nil, fmt.Errorf("tenant %q: environment variable %s (key-env) is unset", ts[i].Name, ts[i].KeyEnv)
			}
			ts[i].Key = v
		}
	}
	return ts, nil
}

// applyFile sets from the file every flag neither the command line nor
// the environment set.
func (fc *fileConfig) applyFile(fs *flag.FlagSet, set map[string]bool) error {
	for k, v := range fc.settings {
		if fs.Lookup(k) == nil {
			return fmt.Errorf("config file: unknown setting %q (the keys are the flag names of 'spillway serve -h')", k)
		}
		if set[k] {
			continue
		}
		if err := fs.Set(k, v); err != nil {
			return fmt.Errorf("config file: %s: %w", k, err)
		}
		set[k] = true
	}
	return nil
}

// modelSettingsFor applies a model entry's own settings over the globals.
func modelSettingsFor(global modelSettings, m fileModel) (modelSettings, error) {
	ms := global
	fs := flag.NewFlagSet("model", flag.ContinueOnError)
	fs.SetOutput(new(bytes.Buffer))
	ms.register(fs)
	for k, v := range m.settings {
		if fs.Lookup(k) == nil {
			return ms, fmt.Errorf("model %q: unknown setting %q (per-model settings are the engine and scheduler flags)", m.model, k)
		}
		if err := fs.Set(k, v); err != nil {
			return ms, fmt.Errorf("model %q: %s: %w", m.model, k, err)
		}
	}
	return ms, nil
}

// kvBudget is the KV pool size: --kv-cache-memory when given, else room
// for max-num-seqs full contexts at F16, at most a quarter of the RAM but
// never less than one full context (the engine refuses less). capped
// reports that the quarter of RAM was the limit.
func kvBudget(c *model.Config, ms modelSettings, ram int64) (bytes int64, capped bool) {
	if ms.kvCacheMemory > 0 {
		return int64(ms.kvCacheMemory), false
	}
	const f16 = 2
	perToken := int64(2*c.NumLayers*c.NumKVHeads*c.HeadDim) * f16 // K and V, every layer
	bs := int64(max(ms.blockSize, 1))
	blocks := (int64(c.ContextLen) + bs - 1) / bs
	one := (blocks + 1) * bs * perToken // a block of slack against rounding
	want := int64(max(ms.maxNumSeqs, 1)) * one
	limit := ram / 4
	if ram <= 0 {
		limit = 4 << 30
	}
	if want <= limit {
		return want, false
	}
	return max(limit, one), true
}

// defaultModelsDir is ~/.cache/spillway/models (XDG_CACHE_HOME honoured).
func defaultModelsDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "spillway", "models")
	}
	return filepath.Join(".cache", "spillway", "models")
}

// resolveModel finds a model: an existing file or directory is used as is;
// otherwise NAME is looked up among pulled models. The served name is the
// base name without .gguf for paths, NAME itself for pulled models.
func resolveModel(nameOrPath, modelsDir string) (path, name string, err error) {
	if _, err := os.Stat(nameOrPath); err == nil {
		return nameOrPath, strings.TrimSuffix(filepath.Base(filepath.Clean(nameOrPath)), ".gguf"), nil
	}
	path, err = findPulled(nameOrPath, modelsDir)
	if err != nil {
		return "", "", err
	}
	return path, nameOrPath, nil
}

// findPulled looks NAME up in the models directory: REPO:FILE, REPO (its
// only GGUF file), or a file name with or without .gguf anywhere below.
func findPulled(name, dir string) (string, error) {
	if repo, file, err := parseRef(name); err == nil {
		base := filepath.Join(dir, filepath.FromSlash(repo))
		if file != "" {
			p := filepath.Join(base, filepath.FromSlash(file))
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("model %q is not pulled (%s is absent); run: spillway pull %s", name, p, name)
			}
			return p, nil
		}
		return only(name, ggufsUnder(base))
	}
	var hits []string
	for _, p := range ggufsUnder(dir) {
		if b := filepath.Base(p); b == name || b == name+".gguf" {
			hits = append(hits, p)
		}
	}
	return only(name, hits)
}

func only(name string, paths []string) (string, error) {
	switch len(paths) {
	case 1:
		return paths[0], nil
	case 0:
		return "", fmt.Errorf("%q is neither a file nor a pulled model (run: spillway pull REPO[:FILE])", name)
	}
	return "", fmt.Errorf("%q matches several pulled models; name one as REPO:FILE: %s", name, strings.Join(paths, ", "))
}

// ggufsUnder lists the complete .gguf files below dir, sorted.
func ggufsUnder(dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".gguf") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

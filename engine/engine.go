package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"spillway/engine/model"
	"spillway/kernels"
)

// Options configure an engine.
type Options struct {
	Backend       string        // "auto", "cpu", "ref", "cuda" or "cuda:N"
	ActDType      kernels.DType // activations on GPU backends: F16 or BF16; 0 = backend default
	Threads       int           // CPU threads; 0 = all cores
	MaxTokens     int           // tokens per forward step (max-num-batched-tokens)
	BlockSize     int           // KV block size in tokens; 0 = 16
	KVCacheMemory int64         // bytes for the KV pool; 0 = enough for one full context
	KVDType       kernels.DType // F16 by default (llama.cpp's default cache type)
	// GPUMemoryUtilization, in (0, 1], sizes the KV pool on a backend that
	// reports its device memory (a GPU), as vLLM's flag does: after the
	// weights and scratch are loaded, the pool takes what keeps this share
	// of the device in use (other processes' memory counts), and
	// KVCacheMemory is ignored there. 0: KVCacheMemory on every backend.
	GPUMemoryUtilization float64
	// EnforceEager runs every step op by op, as vLLM's flag does, on a
	// backend that could replay decode steps as graphs (model.GraphCapturer).
	EnforceEager bool
	// MaxGraphBatch is the largest decode batch replayed as a graph; 0 =
	// 256 (bounded by MaxTokens).
	MaxGraphBatch int
}

// DeviceMemory is a backend that reports its device memory (the CUDA one);
// on such a backend GPUMemoryUtilization sizes the KV pool.
type DeviceMemory interface {
	MemInfo() (free, total int64, err error)
}

// Engine is a loaded model bound to a backend, with its paged KV pool.
type Engine struct {
	Desc   *model.Description
	Model  *model.Model
	KV     *kernels.KVCache
	be     kernels.Backend
	blocks int // blocks sequences may own: KV's less the graphs' scratch block
}

// ChooseBackend names the backend "auto" starts with: the fastest one
// registered (cuda, then cpu, then the pure-Go ref). openBackend falls
// back along that order when a backend cannot run here (no GPU).
func ChooseBackend(name string) string {
	if name != "" && name != "auto" {
		return name
	}
	if order := autoOrder(); len(order) > 0 {
		return order[0]
	}
	return "ref"
}

func autoOrder() []string {
	have := map[string]bool{}
	for _, n := range kernels.Names() {
		have[n] = true
	}
	var order []string
	for _, n := range []string{"cuda", "cpu", "ref"} {
		if have[n] {
			order = append(order, n)
		}
	}
	return order
}

// openBackend builds the named backend; "cuda:N" picks device N, and
// "auto" takes the first of cuda, cpu, ref that starts.
func openBackend(o Options) (kernels.Backend, error) {
	ko := kernels.Options{Threads: o.Threads, ActDType: o.ActDType}
	name := o.Backend
	if dev, ok := strings.CutPrefix(name, "cuda:"); ok {
		n, err := strconv.Atoi(dev)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("engine: bad device %q (want cuda:N)", name)
		}
		name, ko.Device = "cuda", n
	}
	if name != "" && name != "auto" {
		return kernels.New(name, ko)
	}
	var errs []error
	for _, n := range autoOrder() {
		be, err := kernels.New(n, ko)
		if err == nil {
			return be, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", n, err))
	}
	return nil, errors.Join(errs...)
}

// ParseActDType maps --dtype (auto, f16, float16, bf16, bfloat16) to the
// activation type GPU backends use.
func ParseActDType(s string) (kernels.DType, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return 0, nil
	case "f16", "fp16", "float16", "half":
		return kernels.F16, nil
	case "bf16", "bfloat16":
		return kernels.BF16, nil
	}
	return 0, fmt.Errorf("unknown --dtype %q (want auto, float16 or bfloat16)", s)
}

// New binds a loaded description to a backend and sizes the KV pool.
func New(d *model.Description, o Options) (*Engine, error) {
	if o.MaxTokens <= 0 {
		o.MaxTokens = 512
	}
	if o.BlockSize <= 0 {
		o.BlockSize = 16
	}
	if o.KVDType == 0 {
		o.KVDType = kernels.F16
	}
	be, err := openBackend(o)
	if err != nil {
		return nil, err
	}
	m, err := model.New(d, be, o.MaxTokens)
	if err != nil {
		be.Close()
		return nil, err
	}
	flag := "--kv-cache-memory"
	if dm, ok := be.(DeviceMemory); ok && o.GPUMemoryUtilization != 0 {
		free, total, err := dm.MemInfo()
		if err == nil {
			o.KVCacheMemory, err = gpuKVBudget(free, total, o.GPUMemoryUtilization)
		}
		if err != nil {
			be.Close()
			return nil, err
		}
		flag = "--gpu-memory-utilization"
	}
	_, graphs := be.(model.GraphCapturer)
	graphs = graphs && !o.EnforceEager
	reserve := 0
	if graphs {
		reserve = 1
	}
	spec, err := kvSpec(m, o, flag, reserve)
	if err != nil {
		be.Close()
		return nil, err
	}
	kv, err := be.AllocKV(spec)
	if err != nil {
		be.Close()
		return nil, fmt.Errorf("engine: allocating KV cache of %d MiB: %w", spec.Bytes()>>20, err)
	}
	e := &Engine{Desc: d, Model: m, KV: kv, be: be, blocks: spec.NumBlocks - reserve}
	if graphs {
		if o.MaxGraphBatch <= 0 {
			o.MaxGraphBatch = 256
		}
		gc := model.GraphConfig{ScratchBlock: int32(e.blocks), TableWidth: blocksPerContext(m, spec.BlockSize), MaxBatch: o.MaxGraphBatch}
		if err := m.EnableGraphs(gc); err != nil {
			be.Close()
			return nil, err
		}
	}
	return e, nil
}

// NumBlocks is the number of KV blocks sequences may own, [0, NumBlocks):
// the pool less the one block the rows that pad a graph's batch write to.
func (e *Engine) NumBlocks() int { return e.blocks }

func blocksPerContext(m *model.Model, bs int) int { return (m.Cfg.ContextLen + bs - 1) / bs }

// gpuKVBudget is the KV pool a device with free of total bytes left after
// loading can take while util of it stays in use at most.
func gpuKVBudget(free, total int64, util float64) (int64, error) {
	if !(util > 0 && util <= 1) {
		return 0, fmt.Errorf("engine: --gpu-memory-utilization %g is not in (0, 1]", util)
	}
	if total <= 0 || free < 0 || free > total {
		return 0, fmt.Errorf("engine: the device reports %d bytes free of %d", free, total)
	}
	keep := int64(float64(total) * (1 - util)) // bytes left for others
	if free <= keep {
		used := total - free
		return 0, fmt.Errorf("engine: --gpu-memory-utilization %g leaves no room for the KV cache: %d MiB of the device's "+
			"%d MiB are in use after loading the weights (%.0f%%); raise it or free device memory",
			util, used>>20, total>>20, 100*float64(used)/float64(total))
	}
	return free - keep, nil
}

// kvSpec sizes the block pool from the memory budget; a pool that cannot
// hold one full-context sequence besides the reserve blocks (the graphs'
// scratch block) is refused with what to change (flag names the setting
// that gave the budget).
func kvSpec(m *model.Model, o Options, flag string, reserve int) (kernels.KVSpec, error) {
	ctx := m.Cfg.ContextLen
	perSeq := blocksPerContext(m, o.BlockSize) + reserve
	one := m.KVSpec(1, o.BlockSize, o.KVDType).Bytes()
	if o.KVCacheMemory == 0 {
		return m.KVSpec(perSeq, o.BlockSize, o.KVDType), nil
	}
	n := int(o.KVCacheMemory / one)
	if n < perSeq {
		kept := ""
		if reserve > 0 {
			kept = fmt.Sprintf(" besides the %d block(s) kept for padding graph batches (--enforce-eager frees them)", reserve)
		}
		return kernels.KVSpec{}, fmt.Errorf("engine: %s gives the KV cache %d MiB, %d tokens, less than one %d-token context%s; "+
			"it needs at least %d MiB: raise it or lower the context length", flag, o.KVCacheMemory>>20,
			max(0, n-reserve)*o.BlockSize, ctx, kept, (int64(perSeq)*one+(1<<20)-1)>>20)
	}
	return m.KVSpec(n, o.BlockSize, o.KVDType), nil
}

// Backend is the engine's backend.
func (e *Engine) Backend() kernels.Backend { return e.be }

// Close frees the backend's memory and the model file mappings; the engine
// owns the description it was built from.
func (e *Engine) Close() error {
	return errors.Join(e.Model.ReleaseGraphs(), e.be.Close(), e.Desc.Close())
}

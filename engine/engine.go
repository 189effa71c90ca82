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
}

// Engine is a loaded model bound to a backend, with its paged KV pool.
type Engine struct {
	Desc  *model.Description
	Model *model.Model
	KV    *kernels.KVCache
	be    kernels.Backend
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
	spec, err := kvSpec(m, o)
	if err != nil {
		be.Close()
		return nil, err
	}
	kv, err := be.AllocKV(spec)
	if err != nil {
		be.Close()
		return nil, fmt.Errorf("engine: allocating KV cache of %d MiB: %w", spec.Bytes()>>20, err)
	}
	return &Engine{Desc: d, Model: m, KV: kv, be: be}, nil
}

// kvSpec sizes the block pool from the memory budget; a pool that cannot
// hold one full-context sequence is refused with what to change.
func kvSpec(m *model.Model, o Options) (kernels.KVSpec, error) {
	ctx := m.Cfg.ContextLen
	perSeq := (ctx + o.BlockSize - 1) / o.BlockSize
	one := m.KVSpec(1, o.BlockSize, o.KVDType).Bytes()
	if o.KVCacheMemory == 0 {
		return m.KVSpec(perSeq, o.BlockSize, o.KVDType), nil
	}
	n := int(o.KVCacheMemory / one)
	if n < perSeq {
		return kernels.KVSpec{}, fmt.Errorf("engine: --kv-cache-memory %d MiB holds %d tokens, less than one %d-token context; "+
			"raise it to at least %d MiB or lower the context length", o.KVCacheMemory>>20, n*o.BlockSize, ctx,
			(int64(perSeq)*one+(1<<20)-1)>>20)
	}
	return m.KVSpec(n, o.BlockSize, o.KVDType), nil
}

// Backend is the engine's backend.
func (e *Engine) Backend() kernels.Backend { return e.be }

// Close frees the backend's memory and the model file mappings; the engine
// owns the description it was built from.
func (e *Engine) Close() error { return errors.Join(e.be.Close(), e.Desc.Close()) }

package engine

import (
	"errors"
	"fmt"

	"spillway/engine/model"
	"spillway/kernels"
)

// Options configure an engine.
type Options struct {
	Backend       string        // registered backend name, or "auto"
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

// ChooseBackend picks the fastest registered backend for "auto": cpu when
// built with cgo, else the pure-Go reference.
func ChooseBackend(name string) string {
	if name != "" && name != "auto" {
		return name
	}
	for _, n := range kernels.Names() {
		if n == "cpu" {
			return n
		}
	}
	return "ref"
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
	be, err := kernels.New(ChooseBackend(o.Backend), kernels.Options{Threads: o.Threads})
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

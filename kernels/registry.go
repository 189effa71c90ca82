package kernels

import (
	"fmt"
	"sort"
	"sync"
)

// Options configure a backend at construction.
type Options struct {
	Threads  int   // CPU worker threads; 0 = one per core
	Device   int   // device ordinal for GPU backends
	ActDType DType // requested activation type; 0 (F32) lets the backend choose
}

// Factory builds a backend. It returns an error (never panics) when the
// backend cannot run here: no GPU, no kernels built, no driver.
type Factory func(Options) (Backend, error)

var (
	regMu    sync.Mutex
	registry = map[string]Factory{}
)

// Register makes a backend available under name. Backends register
// themselves from init; a second registration of a name panics, since two
// packages claiming one name is a build mistake.
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("kernels: backend registered twice: " + name)
	}
	registry[name] = f
}

// New builds the backend registered under name.
func New(name string, o Options) (Backend, error) {
	regMu.Lock()
	f, ok := registry[name]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown backend %q (have %v)", name, Names())
	}
	return f(o)
}

// Names lists the registered backends, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

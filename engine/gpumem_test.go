package engine_test

import (
	"strings"
	"sync"
	"testing"

	"spillway/engine"
	"spillway/engine/model"
	"spillway/kernels"
)

// memBackend is the reference backend reporting a device memory of its
// own (free, total), as the CUDA backend does, to size the KV pool by
// --gpu-memory-utilization without a GPU.
type memBackend struct {
	kernels.Backend
	free, total int64
}

func (b memBackend) MemInfo() (free, total int64, err error) { return b.free, b.total, nil }

var (
	memOnce sync.Once
	memFree int64 // what the next "memgpu" backend reports
)

const memTotal = 1 << 30

func openMemEngine(t *testing.T, free int64, o engine.Options) (*engine.Engine, error) {
	t.Helper()
	memOnce.Do(func() {
		kernels.Register("memgpu", func(ko kernels.Options) (kernels.Backend, error) {
			be, err := kernels.New("ref", ko)
			if err != nil {
				return nil, err
			}
			return memBackend{Backend: be, free: memFree, total: memTotal}, nil
		})
	})
	memFree = free
	d, err := model.Load(tinyModel(t))
	if err != nil {
		t.Fatal(err)
	}
	o.Backend, o.MaxTokens = "memgpu", 64
	e, err := engine.New(d, o)
	if err != nil {
		d.Close()
	}
	return e, err
}

// TestGPUMemoryUtilization: on a backend that reports device memory, the
// KV pool takes what keeps the given share of the device in use, an
// explicit budget is ignored there, and a share that leaves no room for
// one full context is refused with the flag to change.
func TestGPUMemoryUtilization(t *testing.T) {
	t.Run("fills the share", func(t *testing.T) {
		free, util := int64(200<<20), 0.9
		e, err := openMemEngine(t, free, engine.Options{GPUMemoryUtilization: util, KVCacheMemory: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		budget := free - int64(float64(memTotal)*(1-util))
		got := e.KV.Spec.Bytes()
		block := got / int64(e.KV.Spec.NumBlocks)
		if got > budget || got <= budget-block {
			t.Fatalf("KV pool %d bytes, want the largest whole number of %d-byte blocks in %d", got, block, budget)
		}
	})
	t.Run("zero keeps the explicit budget", func(t *testing.T) {
		e, err := openMemEngine(t, 900<<20, engine.Options{KVCacheMemory: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if got := e.KV.Spec.Bytes(); got > 8<<20 || got < 7<<20 {
			t.Fatalf("KV pool %d bytes, want about 8 MiB", got)
		}
	})
	for _, tt := range []struct {
		name string
		free int64
		util float64
		want []string
	}{
		{"no room left", 400 << 20, 0.5, []string{"--gpu-memory-utilization 0.5 leaves no room", "624 MiB of the device's 1024 MiB", "raise it"}},
		{"less than a context", 103<<20 - 1000, 0.9, []string{"--gpu-memory-utilization gives the KV cache 0 MiB", "less than one"}},
		{"out of range", 900 << 20, 1.5, []string{"not in (0, 1]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := openMemEngine(t, tt.free, engine.Options{GPUMemoryUtilization: tt.util})
			if err == nil {
				e.Close()
				t.Fatal("engine.New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

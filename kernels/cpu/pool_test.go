//go:build cgo

package cpu

import (
	"encoding/binary"
	"math"
	"runtime"
	"sync"
	"testing"

	"spillway/kernels"
)

func download(t testing.TB, b *Backend, x kernels.Tensor) []float32 {
	t.Helper()
	raw := make([]byte, x.Bytes())
	if err := b.Download(raw, x); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// TestPoolStress runs thousands of pool dispatches from several goroutines
// with more threads than cores, so workers often wake after the caller has
// closed a task. Every result must still be complete and exact.
func TestPoolStress(t *testing.T) {
	for _, threads := range []int{1, 2, 7} {
		b, err := New(kernels.Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		const T, d = 64, 512 // above the threshold for a pool dispatch
		var wg sync.WaitGroup
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				av, bv := make([]float32, T*d), make([]float32, T*d)
				for i := range av {
					av[i], bv[i] = float32(i%97), float32(g+1)
				}
				a, _ := b.FromHost(kernels.F32, T, d, f32bytes(av))
				bt, _ := b.FromHost(kernels.F32, T, d, f32bytes(bv))
				out, err := b.Alloc(kernels.F32, T, d)
				if err != nil {
					t.Error(err)
					return
				}
				for it := 0; it < 300; it++ {
					b.Add(out, a, bt)
					got := download(t, b, out)
					for i, v := range got {
						if v != av[i]+bv[i] {
							t.Errorf("threads=%d goroutine %d iteration %d: out[%d] = %g, want %g", threads, g, it, i, v, av[i]+bv[i])
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClose checks that Close frees the pool and memory and that a tensor
// used afterwards is reported, not read.
func TestClose(t *testing.T) {
	b, err := New(kernels.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	x, err := b.Alloc(kernels.F32, 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.Download(make([]byte, x.Bytes()), x); err == nil {
		t.Fatal("Download of a tensor freed by Close succeeded")
	}
	if _, err := b.Alloc(kernels.F32, 1, 1); err == nil {
		t.Fatal("Alloc after Close succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an op after Close did not panic")
		}
	}()
	b.Add(x, x, x)
}

// TestISASelection covers the SPILLWAY_CPU_ISA values.
func TestISASelection(t *testing.T) {
	for _, c := range []struct {
		env, want string
		ok        bool
	}{
		{"scalar", "scalar", true},
		{"avx2", "avx2", isaSupported(isaAVX2)},
		{"avx512", "avx512", isaSupported(isaAVX512)},
		{"sse9", "", false},
	} {
		t.Setenv(ISAEnv, c.env)
		b, err := kernels.New("cpu", kernels.Options{Threads: 1})
		if (err == nil) != c.ok {
			t.Errorf("%s=%s: err = %v, want ok=%v", ISAEnv, c.env, err, c.ok)
			continue
		}
		if err == nil {
			if got := b.(*Backend).ISA(); got != c.want {
				t.Errorf("%s=%s: ISA() = %s", ISAEnv, c.env, got)
			}
			b.Close()
		}
	}
}

// TestDefaultThreads checks the default pool size: at least one thread,
// at most one per logical CPU, and what New uses for Threads: 0.
func TestDefaultThreads(t *testing.T) {
	n := defaultThreads()
	if n < 1 || n > runtime.NumCPU() {
		t.Fatalf("defaultThreads() = %d with %d logical CPUs", n, runtime.NumCPU())
	}
	b, err := New(kernels.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Threads() != n {
		t.Fatalf("New(Threads: 0) has %d threads, want %d", b.Threads(), n)
	}
	if _, err := New(kernels.Options{Threads: -1}); err == nil {
		t.Fatal("New(Threads: -1) succeeded")
	}
}

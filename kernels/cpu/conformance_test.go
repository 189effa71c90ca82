//go:build cgo

package cpu

import (
	"testing"

	"spillway/kernels"
	"spillway/kernels/conformance"
)

// newFor returns a constructor for the conformance suite on one ISA path,
// skipping when this CPU lacks it.
func newFor(isa string, threads int) func(t *testing.T) kernels.Backend {
	return func(t *testing.T) kernels.Backend {
		t.Helper()
		if !isaSupported(isaNames[isa]) {
			t.Skipf("this CPU has no %s", isa)
		}
		b, err := newISA(kernels.Options{Threads: threads}, isa)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// TestConformance runs every op of every ISA path against kernels/ref,
// multithreaded and on a single thread (which takes other code paths in
// the pool and in the work split).
func TestConformance(t *testing.T) {
	for _, c := range []struct {
		isa     string
		threads int
	}{{"scalar", 2}, {"avx2", 2}, {"avx2", 1}, {"avx2", 3}, {"avx512", 2}, {"avx512", 1}} {
		t.Run(c.isa+"/threads="+string(rune('0'+c.threads)), func(t *testing.T) {
			conformance.Run(t, newFor(c.isa, c.threads))
		})
	}
}

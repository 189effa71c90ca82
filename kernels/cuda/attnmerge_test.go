//go:build cgo

package cuda

import (
	"path"
	"strings"
	"testing"

	"spillway/kernels"
	"spillway/kernels/conformance"
)

// TestAttnMergeEnv: SPILLWAY_CUDA_ATTN takes combine (or nothing) and
// merge; anything else stops New with an error naming the variable.
func TestAttnMergeEnv(t *testing.T) {
	for _, tc := range []struct {
		v     string
		merge bool
		ok    bool
	}{{"", false, true}, {"combine", false, true}, {"merge", true, true}, {"Merge", false, false}, {"1", false, false}} {
		got, err := attnMergeEnv(tc.v)
		if (err == nil) != tc.ok || got != tc.merge {
			t.Errorf("attnMergeEnv(%q) = %v, %v; want %v, ok=%v", tc.v, got, err, tc.merge, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "SPILLWAY_CUDA_ATTN") {
			t.Errorf("attnMergeEnv(%q): %v does not name the variable", tc.v, err)
		}
	}
	t.Setenv("SPILLWAY_CUDA_ATTN", "last")
	if _, err := New(kernels.Options{}); err == nil || !strings.Contains(err.Error(), "SPILLWAY_CUDA_ATTN") {
		t.Fatalf("New with SPILLWAY_CUDA_ATTN=last: %v", err)
	}
}

// TestConformanceAttnMerge runs the suite's attention groups (Attention,
// and Fused for its 8-bit output) with the key splits merged by their last
// block. The suite's contexts split their keys at 132 SMs (the emulator's
// count, an H100's), and the merged sums are the combine kernel's.
func TestConformanceAttnMerge(t *testing.T) {
	t.Setenv("SPILLWAY_CUDA_ATTN", "merge")
	conformance.Run(t, func(t *testing.T) kernels.Backend {
		if g := path.Base(t.Name()); g != "Attention" && g != "Fused" {
			t.Skipf("skipping: SPILLWAY_CUDA_ATTN changes attention only, not %s", g)
		}
		b := newCUDA(t, kernels.F16)
		if !b.attnMerge {
			t.Fatal("SPILLWAY_CUDA_ATTN=merge did not reach the backend")
		}
		return b
	})
}

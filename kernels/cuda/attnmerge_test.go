//go:build cgo

package cuda

import (
	"path"
	"testing"

	"spillway/kernels"
	"spillway/kernels/conformance"
)

// TestConformanceAttnMerge runs the suite's attention groups (Attention,
// and Fused for its 8-bit output) with the key splits merged by their last
// block. The suite's contexts split their keys at 132 SMs (the emulator's
// count, an H100's); the merge itself is attn_merge_row, which
// sw_attn_combine runs too.
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

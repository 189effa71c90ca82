//go:build cgo

package cuda

import (
	"bytes"
	"testing"

	"spillway/kernels"
)

// TestGemvSplit: the warps per row of the GEMV for Llama-3-8B's shapes and
// a few edge cases; the grid covers every row exactly once.
func TestGemvSplit(t *testing.T) {
	tests := []struct {
		name      string
		n, pieces int
		want      int
	}{
		{"q/o 4096×4096 Q4_K (to 4 at 8k warps: two pieces a lane)", 4096, 128, 2},
		{"k/v 1024×4096 Q4_K", 1024, 128, 4},
		{"gate/up 14336×4096 Q4_K", 14336, 128, 2},
		{"down 4096×14336 Q4_K", 4096, 448, 4},
		{"down 4096×14336 Q6_K (64-element units)", 4096, 224, 2},
		{"v 1024×4096 Q6_K", 1024, 64, 2},
		{"gate/up 14336×4096 Q6_K (1 to 2 needs one piece)", 14336, 64, 2},
		{"logits 128256×4096", 128256, 128, 1},
		{"gate/up 14336×4096 F16 (8-element chunks)", 14336, 512, 2},
		{"short rows stay one warp", 4096, 63, 1},
		{"rows of 64 pieces split once", 256, 64, 2},
		{"one row", 1, 1000, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := gemvSplit(tc.n, tc.pieces)
			if w != tc.want {
				t.Fatalf("gemvSplit(%d, %d) = %d, want %d", tc.n, tc.pieces, w, tc.want)
			}
			for _, R := range []int{1, ownGemvs[kernels.Q4_K].rows} {
				g := gemvGrid(tc.n, w, R)
				rowsPerBlock := gemvThreads / 32 / w * R
				if g[0]*rowsPerBlock < tc.n || (g[0]-1)*rowsPerBlock >= tc.n {
					t.Fatalf("grid %v of %d rows a block for %d rows", g, rowsPerBlock, tc.n)
				}
			}
		})
	}
}

// TestKernelNamesInImage: every kernel the backend launches is in the
// embedded fatbin, so a misspelt or missing kernel shows without a GPU
// (the backend would otherwise fail when it loads the module).
func TestKernelNamesInImage(t *testing.T) {
	img, err := kernelImage(fatbinFS)
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	for _, name := range kernelNames() {
		if !bytes.Contains(img, append([]byte(name), 0)) {
			t.Errorf("kernel %s is not in %s", name, fatbinPath)
		}
	}
}

package ref

import (
	"sync"

	"spillway/kernels"
)

// MatMul: out (T, n) = x (T, k) @ w (n, k)ᵀ, each dot product summed in
// float64 over the dequantized row of w. w may be any type quant knows.
//
// Rows of w are split into contiguous ranges, one goroutine each; a
// goroutine writes only its own columns of out, so no locking is needed.
func (b *Backend) MatMul(out, x, w kernels.Tensor) {
	const op = "MatMul"
	checkOut(op, "out", out)
	if x.Cols != w.Cols || out.Rows != x.Rows || out.Cols != w.Rows {
		shapePanic(op, "out %v = x %v @ w %vᵀ", out, x, w)
	}
	od, xd, wd := mustBytes(op, "out", out), mustBytes(op, "x", x), mustBytes(op, "w", w)
	checkAlias(op, "x", out, x, false)
	checkAlias(op, "w", out, w, false)
	xs := readAll(x, xd) // (T, k)
	n := w.Rows
	workers := min(b.threads, n)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		j0, j1 := g*n/workers, (g+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			matmulRows(out, od, xs, w, wd, j0, j1)
		}()
	}
	wg.Wait()
}

// matmulRows computes columns [j0, j1) of out (T, n) from xs (T, k) and
// rows [j0, j1) of w (n, k).
func matmulRows(out kernels.Tensor, od []byte, xs [][]float64, w kernels.Tensor, wd []byte, j0, j1 int) {
	wrow := make([]float32, w.Cols) // (k,)
	for j := j0; j < j1; j++ {
		readRow(w, wd, j, wrow)
		for t, xr := range xs {
			s := 0.0
			for i, v := range wrow {
				s += xr[i] * float64(v)
			}
			setElem(out, od, t, j, s)
		}
	}
}

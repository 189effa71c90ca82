package conformance

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// check compares got with want (both (rows, cols) flattened), allowing
// element i an error of bound(i). It logs the worst absolute error and the
// worst error as a fraction of its bound, and fails with the worst
// offenders. A NaN or Inf result always fails (references are finite).
func (h *harness) check(what string, cols int, got, want []float32, bound func(i int) float64) {
	h.t.Helper()
	if len(got) != len(want) {
		h.t.Fatalf("%s: %d values, reference has %d", what, len(got), len(want))
	}
	type miss struct {
		i        int
		err, tol float64
	}
	var misses []miss
	worstAbs, worstRatio, worstAt := 0.0, 0.0, -1
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		err := math.Abs(g - w)
		if math.IsNaN(g) || math.IsInf(g, 0) || math.IsNaN(w) {
			err = math.Inf(1)
		}
		tol := bound(i)
		ratio := err / tol
		if tol == 0 {
			ratio = 0
			if err > 0 {
				ratio = math.Inf(1)
			}
		}
		worstAbs = max(worstAbs, err)
		if worstAt < 0 || ratio > worstRatio {
			worstRatio, worstAt = ratio, i
		}
		if err > tol {
			misses = append(misses, miss{i, err, tol})
		}
	}
	if worstAt >= 0 {
		h.t.Logf("%s: %s: worst |err| %.3g; worst err/tol %.3g at (%d, %d): got %g, want %g, tol %.3g",
			h.be.Name(), what, worstAbs, worstRatio, worstAt/cols, worstAt%cols, got[worstAt], want[worstAt], bound(worstAt))
	}
	if len(misses) == 0 {
		return
	}
	sort.Slice(misses, func(a, b int) bool { return misses[a].err/misses[a].tol > misses[b].err/misses[b].tol })
	var sb strings.Builder
	for _, m := range misses[:min(len(misses), 5)] {
		fmt.Fprintf(&sb, "\n\t(%d, %d): got %g, want %g, |err| %.3g > tol %.3g", m.i/cols, m.i%cols, got[m.i], want[m.i], m.err, m.tol)
	}
	h.t.Errorf("%s: %s: %d of %d values out of tolerance; worst:%s", h.be.Name(), what, len(misses), len(want), sb.String())
}

// checkTol is check with one Tol for every element.
func (h *harness) checkTol(what string, cols int, got, want []float32, tol Tol) {
	h.t.Helper()
	h.check(what, cols, got, want, func(i int) float64 { return tol.Bound(float64(want[i])) })
}

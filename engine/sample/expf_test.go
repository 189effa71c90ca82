package sample

import (
	"math"
	"testing"
)

// TestExpNeg checks the fast exp against math.Exp, its slow reference.
func TestExpNeg(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 2_000_000; i++ {
		x := -float32(i) * 87.33 / 2_000_000
		got, want := float64(expNeg(x)), math.Exp(float64(x))
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 3e-7 {
		t.Errorf("largest relative error %.3g over [-87.33, 0], want ≤ 3e-7", worst)
	}
	cases := []struct {
		x, want float32
	}{
		{0, 1},
		{-87.34, 0},
		{-1000, 0},
		{float32(math.Inf(-1)), 0},
		{float32(math.NaN()), 0},
		{1e-30, 1}, // positive inputs are clamped to 0: callers subtract the max
	}
	for _, c := range cases {
		if got := expNeg(c.x); got != c.want {
			t.Errorf("expNeg(%v) = %v, want %v", c.x, got, c.want)
		}
	}
}

package quant

import (
	"fmt"
	"math"
	"testing"

	"spillway/kernels"
)

// TestRoundTripWithinBound: dequantize(quantize(x)) stays within
// ErrorBound for every type on every generated row kind.
func TestRoundTripWithinBound(t *testing.T) {
	r := &rng{s: 42}
	for _, dt := range allTypes {
		for kind, name := range rowKinds {
			t.Run(dt.String()+"/"+name, func(t *testing.T) {
				x := make([]float32, 8*kernels.QK_K) // (2048,)
				for b := 0; b < len(x); b += kernels.QK_K {
					genBlock(r, x[b:b+kernels.QK_K], kind)
				}
				checkWithinBound(t, dt, x)
			})
		}
	}
}

func checkWithinBound(t *testing.T, dt kernels.DType, x []float32) {
	t.Helper()
	bound := ErrorBound(dt, x)
	if math.IsInf(float64(bound), 0) || math.IsNaN(float64(bound)) {
		t.Fatalf("no finite bound for an in-range row (amax %g)", amaxOf(x))
	}
	y := roundTrip(dt, x)
	if e, i := maxAbsDiff(y, x); e > bound {
		t.Fatalf("max error %g at %d (x %g → %g) exceeds the bound %g", e, i, x[i], y[i], bound)
	}
}

func amaxOf(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, abs32(v))
	}
	return m
}

// edgeRows are hand-made rows of 512 values.
func edgeRows() map[string][]float32 {
	fill := func(f func(i int) float32) []float32 {
		x := make([]float32, 512) // (512,)
		for i := range x {
			x[i] = f(i)
		}
		return x
	}
	r := &rng{s: 7}
	return map[string][]float32{
		"all zeros":       fill(func(int) float32 { return 0 }),
		"constant 1":      fill(func(int) float32 { return 1 }),
		"constant -3.5":   fill(func(int) float32 { return -3.5 }),
		"one huge spike":  fill(func(i int) float32 { return map[bool]float32{true: 3e4, false: 0.01 * r.gauss()}[i == 300] }),
		"tiny 1e-8":       fill(func(int) float32 { return 1e-8 * r.gauss() }),
		"tiny 1e-30":      fill(func(int) float32 { return 1e-30 * r.gauss() }),
		"subnormal f32":   fill(func(int) float32 { return 1e-40 * (1 + r.uniform()) }),
		"negative only":   fill(func(int) float32 { return -0.5 - abs32(r.gauss()) }),
		"positive only":   fill(func(int) float32 { return 0.5 + abs32(r.gauss()) }),
		"alternating ±1":  fill(func(i int) float32 { return float32(1 - 2*(i%2)) }),
		"ramp":            fill(func(i int) float32 { return float32(i) - 255.5 }),
		"near f16 max":    fill(func(i int) float32 { return 65000 * (2*r.uniform() - 1) }),
		"half-step ties":  fill(func(i int) float32 { return float32(i%17) / 16 }),
		"single nonzero":  fill(func(i int) float32 { return map[bool]float32{true: -2, false: 0}[i == 77] }),
		"two magnitudes":  fill(func(i int) float32 { return map[bool]float32{true: 100, false: 1e-3}[i%64 < 32] * r.gauss() }),
		"signed zeros":    fill(func(i int) float32 { return float32(math.Copysign(0, float64(1-2*(i%2)))) }),
		"max/min symmetr": fill(func(i int) float32 { return map[bool]float32{true: 1, false: -1}[i%32 == 0] * float32(i%32) }),
	}
}

func TestRoundTripEdgeCases(t *testing.T) {
	for name, x := range edgeRows() {
		for _, dt := range allTypes {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				checkWithinBound(t, dt, x)
				y := roundTrip(dt, x)
				for i, v := range x {
					if v == 0 && y[i] != 0 && (name == "all zeros" || name == "signed zeros") {
						t.Fatalf("zero at %d came back as %g", i, y[i])
					}
				}
			})
		}
	}
}

// TestRoundTripRMSE: on N(0,1) data each type reaches its expected
// accuracy, and more bits (or a k-quant search) mean less error. The
// limits are the measured relative RMSE (in parentheses) plus ~10%.
func TestRoundTripRMSE(t *testing.T) {
	limits := []struct {
		dt   kernels.DType
		rmse float64
	}{
		{kernels.F32, 0}, {kernels.F16, 2.3e-4}, {kernels.BF16, 1.9e-3}, // (0.00021, 0.0017)
		{kernels.Q8_0, 0.0057}, {kernels.Q8_1, 0.0057}, {kernels.Q8_K, 0.0069}, // (0.0051, 0.0051, 0.0062)
		{kernels.Q6_K, 0.0187}, {kernels.Q5_K, 0.0384}, {kernels.Q5_1, 0.0404}, // (0.0170, 0.0349, 0.0367)
		{kernels.Q5_0, 0.0447}, {kernels.Q4_K, 0.0756}, {kernels.Q4_1, 0.0835}, // (0.0406, 0.0687, 0.0759)
		{kernels.Q4_0, 0.0902}, {kernels.Q3_K, 0.1604}, {kernels.Q2_K, 0.3174}, // (0.0820, 0.1458, 0.2885)
	}
	r := &rng{s: 3}
	x := make([]float32, 64*kernels.QK_K) // (16384,)
	for i := range x {
		x[i] = r.gauss()
	}
	got := map[kernels.DType]float64{}
	for _, l := range limits {
		got[l.dt] = relRMSE(roundTrip(l.dt, x), x)
		if got[l.dt] > l.rmse {
			t.Errorf("%s: relative RMSE %.5f above %.5f", l.dt, got[l.dt], l.rmse)
		}
	}
	t.Logf("relative RMSE on N(0,1): %v", fmtRMSE(got))
	for _, pair := range [][2]kernels.DType{
		{kernels.Q4_K, kernels.Q4_0}, {kernels.Q4_K, kernels.Q4_1}, {kernels.Q5_K, kernels.Q5_0},
		{kernels.Q6_K, kernels.Q5_K}, {kernels.Q5_K, kernels.Q4_K}, {kernels.Q4_K, kernels.Q3_K},
		{kernels.Q3_K, kernels.Q2_K}, {kernels.Q8_0, kernels.Q6_K},
	} {
		if got[pair[0]] >= got[pair[1]] {
			t.Errorf("%s (%.5f) should beat %s (%.5f)", pair[0], got[pair[0]], pair[1], got[pair[1]])
		}
	}
}

func relRMSE(y, x []float32) float64 {
	var se, sx float64
	for i := range x {
		d := float64(y[i]) - float64(x[i])
		se += d * d
		sx += float64(x[i]) * float64(x[i])
	}
	return math.Sqrt(se / sx)
}

func fmtRMSE(m map[kernels.DType]float64) string {
	s := ""
	for _, dt := range allTypes {
		s += fmt.Sprintf(" %s=%.4f", dt, m[dt])
	}
	return s
}

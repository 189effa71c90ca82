package bench

import (
	"math"
	"testing"
	"time"
)

// intervalStats gives the mean and coefficient of variation of the gaps
// between offsets, in seconds.
func intervalStats(offs []time.Duration) (mean, cv float64) {
	n := float64(len(offs) - 1)
	var sum, ss float64
	for i := 1; i < len(offs); i++ {
		sum += (offs[i] - offs[i-1]).Seconds()
	}
	mean = sum / n
	for i := 1; i < len(offs); i++ {
		d := (offs[i] - offs[i-1]).Seconds() - mean
		ss += d * d
	}
	return mean, math.Sqrt(ss/n) / mean
}

func TestArrivalsRateAndBurstiness(t *testing.T) {
	const n = 40001
	cases := []struct {
		rate, burst float64
		wantCV      float64 // 1/√burstiness
	}{
		{50, 1, 1}, // Poisson: exponential gaps
		{50, 0.25, 2},
		{5, 4, 0.5},
		{1000, 1, 1},
	}
	for _, c := range cases {
		offs, err := Arrivals(n, c.rate, c.burst, 42)
		if err != nil {
			t.Fatal(err)
		}
		mean, cv := intervalStats(offs)
		// The mean of 40000 gaps has relative standard error cv/200 ≤ 1%:
		// 4% is four of those at the burstiest setting.
		if rel := math.Abs(mean*c.rate - 1); rel > 0.04 {
			t.Errorf("rate %v burst %v: mean gap %.5fs, want %.5fs (off by %.1f%%)", c.rate, c.burst, mean, 1/c.rate, 100*rel)
		}
		if math.Abs(cv-c.wantCV)/c.wantCV > 0.05 {
			t.Errorf("rate %v burst %v: coefficient of variation %.3f, want %.3f", c.rate, c.burst, cv, c.wantCV)
		}
		if offs[0] != 0 {
			t.Errorf("first request waits %v, want 0", offs[0])
		}
	}
}

func TestArrivalsPoissonCounts(t *testing.T) {
	// In a Poisson process the number of arrivals in a unit window is
	// Poisson(rate): mean and variance both equal the rate.
	const rate, windows = 20.0, 2000
	offs, err := Arrivals(int(rate*windows), rate, 1, 9)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]float64, windows)
	for _, o := range offs {
		if w := int(o.Seconds()); w < windows {
			counts[w]++
		}
	}
	var sum, ss float64
	for _, c := range counts[:windows-1] { // the last window may be cut short
		sum += c
	}
	mean := sum / (windows - 1)
	for _, c := range counts[:windows-1] {
		ss += (c - mean) * (c - mean)
	}
	variance := ss / (windows - 2)
	if math.Abs(mean-rate) > 0.5 || math.Abs(variance-rate) > 2.5 {
		t.Errorf("arrivals per second: mean %.2f variance %.2f, want both ≈ %v", mean, variance, rate)
	}
}

func TestArrivalsAllAtOnceAndErrors(t *testing.T) {
	for _, rate := range []float64{0, math.Inf(1)} {
		offs, err := Arrivals(5, rate, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range offs {
			if o != 0 {
				t.Fatalf("rate %v: offsets %v, want all 0", rate, offs)
			}
		}
	}
	for _, c := range []struct {
		n           int
		rate, burst float64
	}{{-1, 1, 1}, {1, -1, 1}, {1, math.NaN(), 1}, {1, 1, 0}, {1, 1, math.NaN()}} {
		if _, err := Arrivals(c.n, c.rate, c.burst, 1); err == nil {
			t.Errorf("Arrivals(%d, %v, %v) accepted", c.n, c.rate, c.burst)
		}
	}
	a, _ := Arrivals(100, 3, 0.5, 77)
	b, _ := Arrivals(100, 3, 0.5, 77)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("the same seed gave different schedules")
		}
	}
}

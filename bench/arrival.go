package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Arrivals returns the send offsets of n requests arriving at rate
// requests/s. As in vLLM, the first request goes at once and each
// interval after it is drawn from a gamma distribution with shape
// burstiness and scale 1/(rate·burstiness): the mean interval is 1/rate
// whatever the burstiness, burstiness 1 is a Poisson process, and lower
// values are burstier (the intervals' coefficient of variation is
// 1/√burstiness). A rate of 0 or +Inf sends everything at once.
func Arrivals(n int, rate, burstiness float64, seed uint64) ([]time.Duration, error) {
	if n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("arrivals: request count %d out of range", n)
	}
	if math.IsNaN(rate) || rate < 0 {
		return nil, fmt.Errorf("arrivals: request rate %v must be ≥ 0 (0 or inf: all at once)", rate)
	}
	if !(burstiness > 0 && burstiness <= 1000) {
		return nil, fmt.Errorf("arrivals: burstiness %v must be in (0, 1000]", burstiness)
	}
	offs := make([]time.Duration, n) // (n,)
	if rate == 0 || math.IsInf(rate, 1) {
		return offs, nil
	}
	r := rand.New(rand.NewPCG(seed, 0xa441))
	scale := 1 / (rate * burstiness)
	var t float64 // seconds
	for i := 1; i < n; i++ {
		t += gamma(r, burstiness) * scale
		offs[i] = time.Duration(math.Min(t, 1e9) * float64(time.Second))
	}
	return offs, nil
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang's method; for
// shape < 1 it boosts a Gamma(shape+1) draw by U^(1/shape).
func gamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := 1 - r.Float64() // (0, 1]: never log(0)
		return gamma(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	// Acceptance is above 95% per try, so 1000 tries never all fail in
	// practice; the bound only keeps the loop finite.
	for range 1000 {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
	return shape
}

package sample

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refNucleus is the slow reference for nucleus: sort everything, walk.
func refNucleus(c []cand, p float32) []int32 {
	s := slices.Clone(c)
	slices.SortFunc(s, cmpBetter)
	var total float64
	for _, x := range s {
		total += float64(x.w)
	}
	var acc float64
	var kept []int32
	for _, x := range s {
		if acc >= float64(p)*total {
			break
		}
		kept = append(kept, x.id)
		acc += float64(x.w)
	}
	slices.Sort(kept)
	return kept
}

// weightShapes are inputs that stress quickselect: random, few distinct
// values (ties), and already sorted either way (bad pivots).
var weightShapes = map[string]func(r *rand.Rand, i, n int) float32{
	"random":     func(r *rand.Rand, i, n int) float32 { return float32(r.ExpFloat64()) },
	"few values": func(r *rand.Rand, i, n int) float32 { return float32(1 + r.IntN(3)) },
	"ascending":  func(r *rand.Rand, i, n int) float32 { return float32(i + 1) },
	"descending": func(r *rand.Rand, i, n int) float32 { return float32(n - i) },
	"all equal":  func(r *rand.Rand, i, n int) float32 { return 1 },
	"one spike": func(r *rand.Rand, i, n int) float32 {
		if i == n/3 {
			return 1000
		}
		return 0.001
	},
}

func TestNucleus(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for name, shape := range weightShapes {
		for _, n := range []int{1, 2, 31, 33, 100, 1000, 5000} {
			for _, p := range []float32{1e-6, 0.1, 0.5, 0.9, 0.999} {
				c := make([]cand, n)
				var total float64
				for i := range c {
					c[i] = cand{int32(i), shape(r, i, n)}
					total += float64(c[i].w)
				}
				want := refNucleus(c, p)
				k := nucleus(c, total, p)
				got := make([]int32, k)
				for i := range got {
					got[i] = c[i].id
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("%s n=%d p=%v: kept %d tokens, reference %d", name, n, p, len(got), len(want))
				}
			}
		}
	}
}

func TestTopLogits(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, shape := range weightShapes {
		for _, n := range []int{1, 5, 100, 3000} {
			for _, k := range []int{0, 1, 3, 40, 5000} {
				x := make([]float32, n)
				all := make([]cand, 0, n)
				for i := range x {
					x[i] = shape(r, i, n)
					if i%17 == 5 {
						x[i] = float32(math.NaN()) // never selected
						continue
					}
					all = append(all, cand{int32(i), x[i]})
				}
				slices.SortFunc(all, cmpBetter)
				want := all[:min(k, len(all))]
				got := topLogits(make([]cand, 0, k), x, k)
				if !slices.Equal(got, want) {
					t.Fatalf("%s n=%d k=%d: got %v, want %v", name, n, k, got, want)
				}
			}
		}
	}
}

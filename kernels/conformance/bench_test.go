package conformance

import (
	"flag"
	"fmt"
	"math"
	"testing"

	"spillway/kernels"
	"spillway/kernels/ref"
)

// benchTime sets -test.benchtime for the rest of the test, so that
// testing.Benchmark runs a fixed number of iterations instead of a second.
func benchTime(t *testing.T, v string) {
	f := flag.Lookup("test.benchtime")
	if f == nil {
		t.Fatal("no -test.benchtime flag")
	}
	old := f.Value.String()
	if err := f.Value.Set(v); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Value.Set(old) })
}

// TestBenchMetrics checks BenchMatMul's figures: GFLOP/s over GB/s must
// be the op's FLOPs per weight byte.
func TestBenchMetrics(t *testing.T) {
	be, err := ref.New(kernels.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n, k, T = 33, 512, 3
	benchTime(t, "20x")
	r := testing.Benchmark(func(b *testing.B) { BenchMatMul(b, be, kernels.Q4_K, n, k, T) })
	gbs, gflops := r.Extra["GB/s"], r.Extra["GFLOP/s"]
	if r.N == 0 || gbs <= 0 || gflops <= 0 {
		t.Fatalf("BenchMatMul reported N=%d, %g GB/s, %g GFLOP/s", r.N, gbs, gflops)
	}
	want := 2 * float64(T*n*k) / float64(n*kernels.Q4_K.RowBytes(k))
	if got := gflops / gbs; math.Abs(got-want) > 1e-9*want {
		t.Errorf("GFLOP/s / GB/s = %g, want %g FLOP per weight byte", got, want)
	}
}

// shapeLog records the MatMul shapes it is asked for.
type shapeLog struct {
	*ref.Backend
	seen map[string]bool
}

func (m shapeLog) MatMul(out, x, w kernels.Tensor) {
	m.seen[fmt.Sprintf("%s/%dx%d/T=%d", w.DType, w.Rows, w.Cols, x.Rows)] = true
	m.Backend.MatMul(out, x, w)
}

// TestBenchGrid runs Bench on the reference at toy sizes and checks that
// every type × shape × T combination was measured.
func TestBenchGrid(t *testing.T) {
	shapes, types, tokens := BenchShapes, BenchTypes, BenchTokens
	defer func() { BenchShapes, BenchTypes, BenchTokens = shapes, types, tokens }()
	BenchShapes = []MatMulShape{{"toy", 33, 512}, {"toy2", 7, 256}}
	BenchTypes = []kernels.DType{kernels.Q4_K, kernels.F16}
	BenchTokens = []int{1, 3}
	benchTime(t, "1x")
	log := shapeLog{seen: map[string]bool{}}
	testing.Benchmark(func(b *testing.B) {
		Bench(b, func(b *testing.B) kernels.Backend {
			r, err := ref.New(kernels.Options{})
			if err != nil {
				b.Fatal(err)
			}
			log.Backend = r
			return log
		})
	})
	for _, dt := range BenchTypes {
		for _, s := range BenchShapes {
			for _, T := range BenchTokens {
				if key := fmt.Sprintf("%s/%dx%d/T=%d", dt, s.N, s.K, T); !log.seen[key] {
					t.Errorf("Bench did not measure %s", key)
				}
			}
		}
	}
}

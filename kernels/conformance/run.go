package conformance

import (
	"hash/fnv"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
	"spillway/kernels/ref"
)

// WeightTypes are the types MatMul and Embed are checked with: every type
// in kernels/dtype.go except Q8_1 and Q8_K, which only hold activations.
var WeightTypes = []kernels.DType{
	kernels.F32, kernels.F16, kernels.BF16,
	kernels.Q4_0, kernels.Q4_1, kernels.Q5_0, kernels.Q5_1, kernels.Q8_0,
	kernels.Q2_K, kernels.Q3_K, kernels.Q4_K, kernels.Q5_K, kernels.Q6_K,
}

// KVTypes are the KV cache types StoreKV and Attention are checked with.
var KVTypes = []kernels.DType{kernels.F16, kernels.F32, kernels.BF16}

// Run checks every op of the backend under test against kernels/ref on
// random inputs. newBackend is called once per op group (Memory, Embed,
// RMSNorm, Add, SiLUMul, MatMul, RoPE, StoreKV, Attention, Shapes, Fused) with
// that group's *testing.T; Run closes the backend when the group ends.
func Run(t *testing.T, newBackend func(t *testing.T) kernels.Backend) {
	groups := []struct {
		name string
		run  func(*harness)
	}{
		{"Memory", testMemory},
		{"Embed", testEmbed},
		{"RMSNorm", testRMSNorm},
		{"Add", testAdd},
		{"SiLUMul", testSiLUMul},
		{"MatMul", testMatMul},
		{"RoPE", testRoPE},
		{"StoreKV", testStoreKV},
		{"Attention", testAttention},
		{"Shapes", testShapes},
		{"Fused", testFused},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			h := newHarness(t, newBackend)
			g.run(h)
			if err := h.be.Sync(); err != nil {
				t.Errorf("Sync after %s: %v", g.name, err)
			}
		})
	}
}

// harness holds the backend under test and the reference for one group;
// sub returns a copy bound to a sub-test.
type harness struct {
	t   *testing.T
	be  kernels.Backend // under test
	ref kernels.Backend // kernels/ref
	act kernels.DType   // be.ActDType()
	rng *rand.Rand
}

func newHarness(t *testing.T, newBackend func(t *testing.T) kernels.Backend) *harness {
	t.Helper()
	be := newBackend(t)
	if be == nil {
		t.Fatal("newBackend returned nil")
	}
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	rb, err := ref.New(kernels.Options{})
	if err != nil {
		t.Fatalf("reference backend: %v", err)
	}
	act := be.ActDType()
	if act != kernels.F32 && act != kernels.F16 && act != kernels.BF16 {
		t.Fatalf("%s: ActDType %s is not F32, F16 or BF16", be.Name(), act)
	}
	return &harness{t: t, be: be, ref: rb, act: act, rng: seeded(t)}
}

// sub binds h to the sub-test t with a generator seeded from t's name.
func (h *harness) sub(t *testing.T) *harness {
	c := *h
	c.t = t
	c.rng = seeded(t)
	return &c
}

// seeded returns a generator whose seed is a hash of the test's name, so
// each sub-test is reproducible on its own.
func seeded(t *testing.T) *rand.Rand {
	f := fnv.New64a()
	f.Write([]byte(t.Name()))
	return rand.New(rand.NewPCG(f.Sum64(), 0x5eed))
}

// must fails the test on err; setup errors make the rest meaningless.
func (h *harness) must(err error, what string) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("%s: %s: %v", h.be.Name(), what, err)
	}
}

// sync waits for both backends and fails on a device error.
func (h *harness) sync() {
	h.t.Helper()
	h.must(h.be.Sync(), "Sync")
	h.must(h.ref.Sync(), "reference Sync")
}

// normal returns a generator of N(0, σ²) values.
func (h *harness) normal(sigma float64) func(r, c int) float32 {
	return func(int, int) float32 { return float32(h.rng.NormFloat64() * sigma) }
}

// activations returns N(0, 1) values with rare ×12 outliers, like the
// hidden states of real models, which stress 8-bit block scales: about
// 40% of 256-blocks and 6% of 32-blocks hold one.
func (h *harness) activations() func(r, c int) float32 {
	return func(int, int) float32 {
		v := h.rng.NormFloat64()
		if h.rng.IntN(512) == 0 {
			v *= 12
		}
		return float32(v)
	}
}

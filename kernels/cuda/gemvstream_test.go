//go:build cgo

package cuda

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"spillway/kernels"
	"spillway/kernels/quant"
)

// randomWeights returns n rows of k elements of dt with random levels and
// small positive F16 scales (at the byte offsets of dt's block).
func randomWeights(rng *rand.Rand, dt kernels.DType, n, k int) []byte {
	w := make([]byte, n*dt.RowBytes(k))
	for i := range w {
		w[i] = byte(rng.Uint32())
	}
	var scales []int // offsets of F16 scales in a block
	switch dt {
	case kernels.Q4_K:
		scales = []int{0, 2}
	case kernels.Q6_K:
		scales = []int{208}
	}
	for blk := 0; blk < len(w); blk += dt.BlockBytes() {
		for _, o := range scales {
			h := quant.F32ToF16(0.001 + 0.01*rng.Float32())
			w[blk+o], w[blk+o+1] = byte(h), byte(h>>8)
		}
	}
	return w
}

// TestGemvStreamMatchesDirect: the streamed GEMV gives the direct
// kernels' bits, alone and for three matrices a launch, at 1 to 11
// tokens (two passes). The streamed backend is told its GPU has 2 SMs,
// so that each block streams several stages and some blocks' rows run
// from one matrix into the next.
func TestGemvStreamMatchesDirect(t *testing.T) {
	direct := newCUDA(t, kernels.F16)
	defer direct.Close()
	stream := newCUDA(t, kernels.F16)
	defer stream.Close()
	stream.gemvPath = gemvStream
	stream.g.info.sms = 2
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		dt kernels.DType
		k  int
		ns []int // rows of each matrix of the launch
	}{
		{kernels.Q4_K, 1024, []int{333}},
		{kernels.Q4_K, 512, []int{100, 37, 61}},
		{kernels.Q4_K, 4096, []int{64, 16, 16}},
		{kernels.Q6_K, 2048, []int{90}},
		{kernels.Q6_K, 2048, []int{40, 9, 23}},
	} {
		if !gemvStreamed(tc.dt, tc.k) {
			t.Fatalf("%v k=%d: the streamed GEMV does not take it", tc.dt, tc.k)
		}
		for _, T := range []int{1, 3, 8, 11} {
			t.Run(fmt.Sprintf("%v/k=%d/n=%v/T=%d", tc.dt, tc.k, tc.ns, T), func(t *testing.T) {
				x := make([]byte, T*tc.k*2)
				for i := 0; i < len(x); i += 2 {
					h := quant.F32ToF16(float32(rng.NormFloat64()))
					x[i], x[i+1] = byte(h), byte(h>>8)
				}
				ws := make([][]byte, len(tc.ns))
				for i, n := range tc.ns {
					ws[i] = randomWeights(rng, tc.dt, n, tc.k)
				}
				want := runMatMulN(t, direct, tc.dt, tc.k, tc.ns, T, x, ws)
				got := runMatMulN(t, stream, tc.dt, tc.k, tc.ns, T, x, ws)
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("matrix %d: streamed output differs from the direct kernel's", i)
					}
				}
			})
		}
	}
}

// runMatMulN uploads x (T, k) F16 and the weights, runs MatMulN and
// returns each F32 output's bytes.
func runMatMulN(t *testing.T, b *Backend, dt kernels.DType, k int, ns []int, T int, x []byte, ws [][]byte) [][]byte {
	t.Helper()
	xt, err := b.FromHost(kernels.F16, T, k, x)
	if err != nil {
		t.Fatal(err)
	}
	outs := make([]kernels.Tensor, len(ns))
	wts := make([]kernels.Tensor, len(ns))
	for i, n := range ns {
		if wts[i], err = b.FromHost(dt, n, k, ws[i]); err != nil {
			t.Fatal(err)
		}
		if outs[i], err = b.Alloc(kernels.F32, T, n); err != nil {
			t.Fatal(err)
		}
	}
	b.MatMulN(outs, xt, wts)
	res := make([][]byte, len(ns))
	for i, o := range outs {
		res[i] = make([]byte, o.Bytes())
		if err := b.Download(res[i], o); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestSegsAligned: the streamed GEMV takes a launch only when every
// matrix starts on a 16-byte boundary (its copies' unit).
func TestSegsAligned(t *testing.T) {
	for _, tc := range []struct {
		pw   []uint64
		want bool
	}{
		{[]uint64{0x1000}, true},
		{[]uint64{0x1000, 0x2010, 0x3020}, true},
		{[]uint64{0x1008}, false},
		{[]uint64{0x1000, 0x2020, 0x3004}, false},
		{nil, true},
	} {
		segs := make([]gemvSeg, len(tc.pw))
		for i, p := range tc.pw {
			segs[i] = gemvSeg{pw: p, n: 1}
		}
		if got := segsAligned(segs, 16); got != tc.want {
			t.Errorf("segsAligned(%#x) = %v, want %v", tc.pw, got, tc.want)
		}
	}
}

package ref_test

import (
	"math"
	"testing"

	"spillway/kernels"
)

func TestHandAttention(t *testing.T) {
	// Cache (block size 2): block 2 holds the sequence k0=[1 0] v0=[1 2],
	// k1=[0 1] v1=[3 4]; block 0 holds one token k=[5 5] v=[7 8].
	ln3 := float32(math.Log(3))
	// q=[1 0] scores [1 0]: softmax [e/(e+1), 1/(e+1)].
	w0 := math.E / (math.E + 1)
	both := []float64{w0 + 3*(1-w0), 2*w0 + 4*(1-w0)}
	cases := []struct {
		name   string
		heads  int
		q      []float32 // (T, heads·2)
		qstart []int32
		ctx    []int32
		tables [][]int32
		window int
		scale  float32
		want   []float64
	}{
		{"prefill: first sees itself, second both", 1, []float32{1, 0, 1, 0}, []int32{0, 2}, []int32{2}, [][]int32{{2}}, 0, 1,
			append([]float64{1, 2}, both...)},
		{"decode: scores [0 ln3] weigh 1/4, 3/4", 1, []float32{0, ln3}, []int32{0, 1}, []int32{2}, [][]int32{{2}}, 0, 1,
			[]float64{2.5, 3.5}},
		{"scale halves the scores", 1, []float32{0, 2 * ln3}, []int32{0, 1}, []int32{2}, [][]int32{{2}}, 0, 0.5,
			[]float64{2.5, 3.5}},
		{"window 1: only itself", 1, []float32{1, 0, 1, 0}, []int32{0, 2}, []int32{2}, [][]int32{{2}}, 1, 1,
			[]float64{1, 2, 3, 4}},
		{"GQA 2:1: both heads read kv head 0", 2, []float32{1, 0, 0, ln3}, []int32{0, 1}, []int32{2}, [][]int32{{2}}, 0, 1,
			append(both, 2.5, 3.5)},
		{"two sequences, one token of the second", 1, []float32{0, ln3, 1, 1}, []int32{0, 1, 2}, []int32{2, 1}, [][]int32{{2}, {0, 1}}, 0, 1,
			[]float64{2.5, 3.5, 7, 8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newRef(t)
			kv, err := b.AllocKV(kernels.KVSpec{NumLayers: 1, NumBlocks: 3, BlockSize: 2, NumKVHeads: 1, HeadDim: 2, DType: kernels.F32})
			if err != nil {
				t.Fatal(err)
			}
			k := tensor(t, b, 3, 2, 1, 0, 0, 1, 5, 5)
			v := tensor(t, b, 3, 2, 1, 2, 3, 4, 7, 8)
			b.StoreKV(kv, 0, k, v, []int32{4, 5, 0})
			T := len(c.q) / (2 * c.heads)
			q := tensor(t, b, T, 2*c.heads, c.q...)
			out := tensor(t, b, T, 2*c.heads)
			b.Attention(out, q, kv, 0, &kernels.AttnBatch{
				QStart: c.qstart, CtxLen: c.ctx, BlockTables: c.tables,
				NumHeads: c.heads, NumKVHeads: 1, HeadDim: 2, Scale: c.scale, Window: c.window,
			})
			near(t, "out", values(t, b, out), c.want, 1e-6)
		})
	}
}

func TestHandRoPE(t *testing.T) {
	c1, s1 := math.Cos(1), math.Sin(1)
	c2, s2 := math.Cos(0.01), math.Sin(0.01) // pair 1 of 4 dims, base 1e4: 1e4^(-2/4)
	cases := []struct {
		name string
		p    kernels.RoPEParams
		pos  int32
		x    []float32
		want []float64
	}{
		{"norm pair", kernels.RoPEParams{HeadDim: 2, NDims: 2, Base: 10000}, 1, []float32{1, 0}, []float64{c1, s1}},
		{"norm 4 dims", kernels.RoPEParams{HeadDim: 4, NDims: 4, Base: 10000}, 1, []float32{1, 2, 3, 4},
			[]float64{c1 - 2*s1, s1 + 2*c1, 3*c2 - 4*s2, 3*s2 + 4*c2}},
		{"neox 4 dims", kernels.RoPEParams{HeadDim: 4, NDims: 4, Base: 10000, Style: kernels.RoPENeoX}, 1, []float32{1, 2, 3, 4},
			[]float64{c1 - 3*s1, 2*c2 - 4*s2, s1 + 3*c1, 2*s2 + 4*c2}},
		{"partial: dims past NDims pass", kernels.RoPEParams{HeadDim: 4, NDims: 2, Base: 10000}, 1, []float32{1, 2, 3, 4},
			[]float64{c1 - 2*s1, s1 + 2*c1, 3, 4}},
		{"freq factor 2 halves theta", kernels.RoPEParams{HeadDim: 2, NDims: 2, Base: 10000, FreqFactors: []float32{2}}, 2,
			[]float32{1, 0}, []float64{c1, s1}},
		{"freq scale 0.5 halves theta", kernels.RoPEParams{HeadDim: 2, NDims: 2, Base: 10000, FreqScale: 0.5}, 2,
			[]float32{1, 0}, []float64{c1, s1}},
		{"two heads turn alike", kernels.RoPEParams{HeadDim: 2, NDims: 2, Base: 10000, FreqScale: 1}, 1,
			[]float32{1, 0, 0, 1}, []float64{c1, s1, -s1, c1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newRef(t)
			x := tensor(t, b, 1, len(c.x), c.x...)
			b.RoPE(x, []int32{c.pos}, c.p)
			near(t, "x", values(t, b, x), c.want, 1e-6)
		})
	}
}

// TestRoPEPositionZero: every style and option leaves position 0 as it is.
func TestRoPEPositionZero(t *testing.T) {
	b := newRef(t)
	x0 := make([]float32, 2*8) // (1, 2 heads·8)
	for i := range x0 {
		x0[i] = float32(i) - 7.5
	}
	for _, style := range []kernels.RoPEStyle{kernels.RoPENorm, kernels.RoPENeoX} {
		for _, nd := range []int{8, 4} {
			p := kernels.RoPEParams{HeadDim: 8, NDims: nd, Base: 500000, Style: style, FreqScale: 0.25, FreqFactors: make([]float32, nd/2)}
			for i := range p.FreqFactors {
				p.FreqFactors[i] = float32(i + 1)
			}
			x := tensor(t, b, 1, len(x0), x0...)
			b.RoPE(x, []int32{0}, p)
			want := make([]float64, len(x0))
			for i, v := range x0 {
				want[i] = float64(v)
			}
			near(t, "x", values(t, b, x), want, 0)
		}
	}
}

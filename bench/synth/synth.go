package synth

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"spillway/engine/gguf"
	"spillway/engine/model"
	"spillway/kernels"
	"spillway/kernels/quant"
)

// Options choose what Write produces.
type Options struct {
	Preset Preset
	Mix    Mix
	Vocab  *Vocab // nil: a synthetic SPM vocabulary of Preset.Vocab tokens
	Seed   uint64
	// Progress, when set, is told the bytes of each tensor as it is written.
	Progress func(written int64)
}

// tensorPlan is one tensor to write: its GGUF name, shape (out, in), type
// and the std of its random values (norms: 1 + 0.05·N(0,1)).
type tensorPlan struct {
	name       string
	rows, cols int
	dt         kernels.DType
	std        float64
	norm       bool
	values     []float32    // fixed values (rope_freqs) instead of random ones
	quiet      map[int]bool // rows written as zeros (see Vocab.Quiet)
}

// smallTensor is the size up to which every value is drawn independently;
// larger tensors are assembled from a shared pool of pre-quantized blocks
// so an 8B model is written at disk speed instead of quantizer speed.
const smallTensor = 1 << 22

// poolElems is the size of each pre-quantized pool (a multiple of QK_K).
const poolElems = 1 << 20

// Write streams a random-weight GGUF model to w.
func Write(w io.Writer, o Options) error {
	p := o.Preset
	if o.Vocab == nil {
		v, err := SyntheticSPM(p.Vocab)
		if err != nil {
			return err
		}
		o.Vocab = &v
	}
	p.Vocab = o.Vocab.Tokens
	plans := plan(p, o.Mix)
	for i := range plans {
		if plans[i].name == "output.weight" || (p.Tied && plans[i].name == "token_embd.weight") {
			plans[i].quiet = o.Vocab.Quiet
		}
	}
	gw := gguf.NewWriter()
	for _, kv := range metadata(p, o) {
		gw.Add(kv.Key, kv.Value)
	}
	for _, t := range plans {
		dims := []uint64{uint64(t.cols), uint64(t.rows)}
		if t.rows == 1 { // vectors are 1-D in GGUF, as llama.cpp writes them
			dims = dims[:1]
		}
		if err := gw.AddTensor(t.name, gguf.Type(t.dt), dims); err != nil {
			return err
		}
	}
	g := &generator{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), pools: map[poolKey][]byte{}}
	_, err := gw.WriteTo(w, func(i int, _ gguf.TensorInfo, tw io.Writer) error {
		n, err := g.tensor(tw, plans[i])
		if o.Progress != nil {
			o.Progress(n)
		}
		return err
	})
	return err
}

// WriteFile writes a model to path through a buffered file.
func WriteFile(path string, o Options) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 4<<20)
	if err := Write(bw, o); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func plan(p Preset, m Mix) []tensorPlan {
	hd, n := p.HeadDim(), p.Layers
	q, kv := p.Heads*hd, p.KVHeads*hd
	embStd := 0.5
	t := []tensorPlan{{name: "token_embd.weight", rows: p.Vocab, cols: p.Dim,
		dt: m.TypeFor("token_embd", 0, n, p.Dim, p.Tied), std: embStd}}
	for i := 0; i < n; i++ {
		b := func(s string) string { return fmt.Sprintf("blk.%d.%s", i, s) }
		mat := func(kind string, rows, cols int, std float64) tensorPlan {
			return tensorPlan{name: b(kind + ".weight"), rows: rows, cols: cols, dt: m.TypeFor(kind, i, n, cols, false), std: std}
		}
		in := 1 / math.Sqrt(float64(p.Dim))
		t = append(t,
			tensorPlan{name: b("attn_norm.weight"), rows: 1, cols: p.Dim, dt: kernels.F32, norm: true},
			mat("attn_q", q, p.Dim, in), mat("attn_k", kv, p.Dim, in), mat("attn_v", kv, p.Dim, in),
			mat("attn_output", p.Dim, q, 8/math.Sqrt(float64(q))),
			tensorPlan{name: b("ffn_norm.weight"), rows: 1, cols: p.Dim, dt: kernels.F32, norm: true},
			mat("ffn_gate", p.FFN, p.Dim, in), mat("ffn_up", p.FFN, p.Dim, in),
			mat("ffn_down", p.Dim, p.FFN, 8/math.Sqrt(float64(p.FFN))))
	}
	t = append(t, tensorPlan{name: "output_norm.weight", rows: 1, cols: p.Dim, dt: kernels.F32, norm: true})
	if !p.Tied {
		t = append(t, tensorPlan{name: "output.weight", rows: p.Vocab, cols: p.Dim,
			dt: m.TypeFor("output", 0, n, p.Dim, false), std: 1 / math.Sqrt(float64(p.Dim))})
	}
	if p.Llama3Rope != nil {
		r := p.Llama3Rope
		f := model.Llama3FreqFactors(p.RopeBase, p.HeadDim(), r[0], r[1], r[2], int(r[3]))
		t = append(t, tensorPlan{name: "rope_freqs.weight", rows: 1, cols: len(f), dt: kernels.F32, values: f})
	}
	return t
}

func metadata(p Preset, o Options) []gguf.KV {
	a := func(k string) string { return "llama." + k }
	u := func(v int) gguf.Value { return gguf.Uint32Value(uint32(v)) }
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.StringValue("llama")},
		{Key: "general.name", Value: gguf.StringValue(fmt.Sprintf("synthetic %s %s (random weights)", p.Name, o.Mix.Name))},
		{Key: "general.description", Value: gguf.StringValue("RANDOM WEIGHTS made by spillway mkmodel: real shapes, meaningless output")},
		{Key: "general.file_type", Value: gguf.Uint32Value(o.Mix.FileType)},
		{Key: "general.quantization_version", Value: gguf.Uint32Value(2)},
		{Key: a("vocab_size"), Value: u(p.Vocab)},
		{Key: a("context_length"), Value: u(p.Context)},
		{Key: a("embedding_length"), Value: u(p.Dim)},
		{Key: a("block_count"), Value: u(p.Layers)},
		{Key: a("feed_forward_length"), Value: u(p.FFN)},
		{Key: a("rope.dimension_count"), Value: u(p.HeadDim())},
		{Key: a("attention.head_count"), Value: u(p.Heads)},
		{Key: a("attention.head_count_kv"), Value: u(p.KVHeads)},
		{Key: a("attention.layer_norm_rms_epsilon"), Value: gguf.Float32Value(p.RMSEps)},
		{Key: a("rope.freq_base"), Value: gguf.Float32Value(p.RopeBase)},
	}
	return append(kv, o.Vocab.KV...)
}

type poolKey struct {
	dt  kernels.DType
	std float64
}

// generator produces tensor bytes from a seeded RNG.
type generator struct {
	rng   *rand.Rand
	pools map[poolKey][]byte
}

func (g *generator) tensor(w io.Writer, t tensorPlan) (int64, error) {
	rb := t.dt.RowBytes(t.cols)
	if t.norm || int64(t.rows)*int64(t.cols) <= smallTensor {
		row := make([]float32, t.cols)
		buf := make([]byte, rb)
		for r := 0; r < t.rows; r++ {
			switch {
			case t.values != nil:
				copy(row, t.values)
			case t.quiet[r]:
				clear(row)
			default:
				g.fill(row, t)
			}
			quant.QuantizeRow(t.dt, buf, row)
			if _, err := w.Write(buf); err != nil {
				return 0, err
			}
		}
		return int64(t.rows * rb), nil
	}
	pool := g.pool(t.dt, t.std)
	bb, nb := t.dt.BlockBytes(), t.cols/t.dt.BlockSize()
	poolBlocks := len(pool) / bb
	zero := make([]byte, rb) // all-zero bytes are zero in every block format
	for r := 0; r < t.rows; r++ {
		o := g.rng.IntN(poolBlocks - nb + 1)
		src := pool[o*bb : (o+nb)*bb]
		if t.quiet[r] {
			src = zero
		}
		if _, err := w.Write(src); err != nil {
			return 0, err
		}
	}
	return int64(t.rows * rb), nil
}

func (g *generator) fill(row []float32, t tensorPlan) {
	for i := range row {
		if t.norm {
			row[i] = float32(1 + 0.05*g.rng.NormFloat64())
		} else {
			row[i] = float32(t.std * g.rng.NormFloat64())
		}
	}
}

func (g *generator) pool(dt kernels.DType, std float64) []byte {
	k := poolKey{dt, std}
	if p, ok := g.pools[k]; ok {
		return p
	}
	src := make([]float32, poolElems)
	for i := range src {
		src[i] = float32(std * g.rng.NormFloat64())
	}
	p := make([]byte, dt.RowBytes(poolElems))
	quant.QuantizeRow(dt, p, src)
	g.pools[k] = p
	return p
}

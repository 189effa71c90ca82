package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"spillway/kernels"
)

// logitChunk bounds the logits buffer: eval asks for every prompt
// position, and 423 rows × 128256 vocab would be 217 MB at once.
const logitChunk = 32

// Model is a description bound to a backend, ready to run forward passes.
// It owns scratch activations for up to MaxTokens tokens per call and is
// not safe for concurrent use: one goroutine (the scheduler) drives it.
type Model struct {
	Cfg       Config
	be        kernels.Backend
	tokEmbd   kernels.Tensor // (V, d)
	outNorm   kernels.Tensor // (1, d)
	output    kernels.Tensor // (V, d): token_embd when tied
	layers    []layer
	maxTokens int
	s         scratch
	g         *graphs // decode steps replayed as graphs; nil: all eager
}

// scratch activations, each (maxTokens, width) in the backend's ActDType.
type scratch struct {
	x, h, q, k, v, att, o, gate, up kernels.Tensor
	xo                              kernels.Tensor // (logitChunk, d)
	logits                          kernels.Tensor // (logitChunk, V) F32
	host                            []byte         // logitChunk × V × 4, big-endian hosts only
}

// New binds d's weights to be and allocates scratch for maxTokens tokens
// per Forward call.
func New(d *Description, be kernels.Backend, maxTokens int) (*Model, error) {
	c := d.Config
	if maxTokens <= 0 {
		return nil, fmt.Errorf("model: max tokens per step %d must be positive", maxTokens)
	}
	m := &Model{Cfg: c, be: be, maxTokens: maxTokens}
	b := &binder{d: d, be: be}
	var err error
	if m.tokEmbd, err = b.bind("token_embd.weight", c.VocabSize, c.Dim); err != nil {
		return nil, err
	}
	if m.outNorm, err = b.bindF32("output_norm.weight", 1, c.Dim); err != nil {
		return nil, err
	}
	m.output = m.tokEmbd
	if !c.TiedOutput {
		if m.output, err = b.bind("output.weight", c.VocabSize, c.Dim); err != nil {
			return nil, err
		}
	}
	for i := 0; i < c.NumLayers; i++ {
		L, err := b.layer(i, &c)
		if err != nil {
			return nil, err
		}
		m.layers = append(m.layers, L)
	}
	if err := m.prepareWeights(); err != nil {
		return nil, err
	}
	if err := m.allocScratch(); err != nil {
		return nil, err
	}
	return m, nil
}

// prepareWeights lets a backend that re-lays MatMul weights
// (kernels.WeightPreparer) do it at load rather than on the first request.
func (m *Model) prepareWeights() error {
	p, ok := m.be.(kernels.WeightPreparer)
	if !ok {
		return nil
	}
	ws := []kernels.Tensor{m.output}
	for _, L := range m.layers {
		ws = append(ws, L.wq, L.wk, L.wv, L.wo, L.wGate, L.wUp, L.wDown)
	}
	if err := p.PrepareWeights(ws...); err != nil {
		return fmt.Errorf("model: preparing weights: %w", err)
	}
	return nil
}

func (m *Model) allocScratch() error {
	c, act, T := &m.Cfg, m.be.ActDType(), m.maxTokens
	q, kv := c.NumHeads*c.HeadDim, c.NumKVHeads*c.HeadDim
	bufs := []struct {
		dst        *kernels.Tensor
		dt         kernels.DType
		rows, cols int
	}{
		{&m.s.x, act, T, c.Dim}, {&m.s.h, act, T, c.Dim}, {&m.s.o, act, T, c.Dim},
		{&m.s.q, act, T, q}, {&m.s.att, act, T, q},
		{&m.s.k, act, T, kv}, {&m.s.v, act, T, kv},
		{&m.s.gate, act, T, c.FFNDim}, {&m.s.up, act, T, c.FFNDim},
		{&m.s.xo, act, logitChunk, c.Dim},
		{&m.s.logits, kernels.F32, logitChunk, c.VocabSize},
	}
	for _, b := range bufs {
		t, err := m.be.Alloc(b.dt, b.rows, b.cols)
		if err != nil {
			return fmt.Errorf("model: allocating scratch (%d, %d): %w", b.rows, b.cols, err)
		}
		*b.dst = t
	}
	if !nativeLE { // else logits download straight into the caller's floats
		m.s.host = make([]byte, logitChunk*c.VocabSize*4)
	}
	return nil
}

// MaxTokens is the most tokens one Forward call accepts.
func (m *Model) MaxTokens() int { return m.maxTokens }

// Backend is the backend the model runs on.
func (m *Model) Backend() kernels.Backend { return m.be }

// KVSpec sizes a cache of numBlocks blocks for this model.
func (m *Model) KVSpec(numBlocks, blockSize int, dt kernels.DType) kernels.KVSpec {
	return kernels.KVSpec{NumLayers: m.Cfg.NumLayers, NumBlocks: numBlocks, BlockSize: blockSize,
		NumKVHeads: m.Cfg.NumKVHeads, HeadDim: m.Cfg.HeadDim, DType: dt}
}

// Input is one step's flat batch: T tokens from any number of sequences.
type Input struct {
	Tokens    []int32            // (T,)
	Pos       []int32            // (T,) position of each token in its sequence
	Slots     []int32            // (T,) KV cache slot each token's k, v go to
	Attn      *kernels.AttnBatch // query ranges, context lengths, block tables
	LogitRows []int32            // rows of the batch whose logits are wanted
}

// Forward runs the model over in and writes the logits of in.LogitRows to
// logits, (len(LogitRows), VocabSize) row-major.
func (m *Model) Forward(in *Input, kv *kernels.KVCache, logits []float32) error {
	T, c := len(in.Tokens), &m.Cfg
	if T == 0 || T > m.maxTokens || len(in.Pos) != T || len(in.Slots) != T {
		return fmt.Errorf("model: batch of %d tokens (%d positions, %d slots), limit %d", T, len(in.Pos), len(in.Slots), m.maxTokens)
	}
	if len(logits) != len(in.LogitRows)*c.VocabSize {
		return fmt.Errorf("model: logits buffer %d, want %d", len(logits), len(in.LogitRows)*c.VocabSize)
	}
	ab := *in.Attn
	m.attnShape(&ab)
	if err := ab.Validate(T, kv); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	for _, r := range in.LogitRows {
		if r < 0 || int(r) >= T {
			return fmt.Errorf("model: logit row %d outside batch of %d", r, T)
		}
	}
	if n := m.graphBucket(in); n > 0 {
		err := m.forwardGraph(n, in, kv, logits)
		if !errors.Is(err, errReplay) {
			return err
		}
		// The recording is dropped (made anew on next use); this step
		// runs eagerly, and fails too if the device itself has failed.
		if eager := m.forwardEager(in, kv, &ab, logits); eager != nil {
			return errors.Join(err, eager)
		}
		return nil
	}
	return m.forwardEager(in, kv, &ab, logits)
}

// attnShape sets the model's head layout, scale and window on ab.
func (m *Model) attnShape(ab *kernels.AttnBatch) {
	c := &m.Cfg
	ab.NumHeads, ab.NumKVHeads, ab.HeadDim = c.NumHeads, c.NumKVHeads, c.HeadDim
	ab.Scale = float32(1 / math.Sqrt(float64(c.HeadDim)))
	ab.Window = c.SlidingWindow
}

// forwardEager issues the step op by op.
func (m *Model) forwardEager(in *Input, kv *kernels.KVCache, ab *kernels.AttnBatch, logits []float32) error {
	x := m.s.x.Slice(0, len(in.Tokens))
	m.be.Embed(x, m.tokEmbd, in.Tokens)
	m.blocks(x, in, kv, ab)
	return m.logits(x, in.LogitRows, logits)
}

// blocks runs every layer over x (T, d) in place. Each layer leaves its
// feed-forward output in o for the next to add to x together with its
// first RMSNorm (kernels.AddRMSNorm: one pass, one launch on a GPU); the
// last one is added here.
func (m *Model) blocks(x kernels.Tensor, in *Input, kv *kernels.KVCache, ab *kernels.AttnBatch) {
	for l := range m.layers {
		m.block(l, x, in, kv, ab)
	}
	if len(m.layers) > 0 {
		m.be.Add(x, x, m.s.o.Slice(0, x.Rows))
	}
}

// block is one transformer layer: x (T, d) += o (the previous layer's
// output, if any), then x += attention, and o = the feed-forward output,
// which the caller adds.
func (m *Model) block(l int, x kernels.Tensor, in *Input, kv *kernels.KVCache, ab *kernels.AttnBatch) {
	be, L, c, T := m.be, &m.layers[l], &m.Cfg, x.Rows
	h, q, k, v := m.s.h.Slice(0, T), m.s.q.Slice(0, T), m.s.k.Slice(0, T), m.s.v.Slice(0, T)
	att, o := m.s.att.Slice(0, T), m.s.o.Slice(0, T)
	if l == 0 {
		be.RMSNorm(h, x, L.attnNorm, c.RMSEps)
	} else {
		kernels.AddRMSNorm(be, h, x, o, L.attnNorm, c.RMSEps)
	}
	m.matmuls(h, []kernels.Tensor{q, k, v}, []kernels.Tensor{L.wq, L.wk, L.wv})
	if L.bq != nil {
		be.Add(q, q, *L.bq)
		be.Add(k, k, *L.bk)
		be.Add(v, v, *L.bv)
	}
	kernels.RoPEStoreKV(be, q, k, v, in.Pos, c.RoPEParams(), kv, l, in.Slots)
	be.Attention(att, q, kv, l, ab)
	be.MatMul(o, att, L.wo)

	gate, up := m.s.gate.Slice(0, T), m.s.up.Slice(0, T)
	kernels.AddRMSNorm(be, h, x, o, L.ffnNorm, c.RMSEps)
	m.matmuls(h, []kernels.Tensor{gate, up}, []kernels.Tensor{L.wGate, L.wUp})
	be.SiLUMul(gate, gate, up)
	be.MatMul(o, gate, L.wDown)
}

// matmuls computes outs[i] = x @ ws[i]ᵀ, in one call where the backend
// takes several weights of one x (kernels.MultiMatMuler).
func (m *Model) matmuls(x kernels.Tensor, outs, ws []kernels.Tensor) {
	if mm, ok := m.be.(kernels.MultiMatMuler); ok {
		mm.MatMulN(outs, x, ws)
		return
	}
	for i := range ws {
		m.be.MatMul(outs[i], x, ws[i])
	}
}

// logits projects the wanted rows of x to the vocabulary, logitChunk rows
// at a time, and copies them to the host.
func (m *Model) logits(x kernels.Tensor, rows []int32, dst []float32) error {
	V := m.Cfg.VocabSize
	for start := 0; start < len(rows); start += logitChunk {
		n := min(logitChunk, len(rows)-start)
		xo, lg := m.s.xo.Slice(0, n), m.s.logits.Slice(0, n)
		m.be.Embed(xo, x, rows[start:start+n])
		m.be.RMSNorm(xo, xo, m.outNorm, m.Cfg.RMSEps)
		m.be.MatMul(lg, xo, m.output)
		d := dst[start*V : (start+n)*V]
		if nativeLE {
			// The F32 bytes are d's own: no staging, no decode (which
			// took 0.1 ms a token at a 128k vocabulary, the GPU idle).
			if err := m.be.Download(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), 4*len(d)), lg); err != nil {
				return err
			}
			continue
		}
		host := m.s.host[:n*V*4]
		if err := m.be.Download(host, lg); err != nil {
			return err
		}
		decodeF32(d, host)
	}
	return m.be.Sync()
}

// nativeLE says the host stores a float32 as its little-endian F32 bytes,
// as every backend's Download writes them.
var nativeLE = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func decodeF32(dst []float32, b []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
}

package model

import (
	"errors"
	"fmt"

	"spillway/kernels"
)

// GraphCapturer is a backend that records the ops of one step and replays
// them with one launch (the CUDA backend: a CUDA graph, which spares the
// hundreds of kernel launches of a decode step). The contract is
// kernels/cuda.GraphCapturer's: step issues ops only (no Download, Upload,
// Alloc or Sync) and is recorded, not run; every replay reads again the
// host slices and the *AttnBatch the ops were given, so the caller updates
// them in place and keeps their lengths; device tensors stay allocated
// while the graph lives.
type GraphCapturer interface {
	CaptureGraph(step func() error) (replay func() error, release func() error, err error)
}

// GraphConfig turns on graph replay of decode steps (EnableGraphs).
type GraphConfig struct {
	// ScratchBlock is a KV block no sequence owns: the rows that pad a
	// batch to its bucket write their k, v there and attend to it.
	ScratchBlock int32
	// TableWidth is the block-table width every graph is recorded with
	// (the blocks of one full context); a batch with a longer table runs
	// eagerly.
	TableWidth int
	// MaxBatch is the largest bucket; larger decode batches run eagerly.
	MaxBatch int
}

// graphBuckets are the batch sizes graphs are recorded for, as vLLM's
// capture sizes: 1, 2, 4, then every multiple of 8 up to max. A decode
// batch runs in the smallest bucket that holds it, padded.
func graphBuckets(max int) []int {
	var b []int
	for _, n := range []int{1, 2, 4} {
		if n <= max {
			b = append(b, n)
		}
	}
	for n := 8; n <= max; n += 8 {
		b = append(b, n)
	}
	return b
}

// decodeGraph is the recording of one bucket's decode step and the host
// inputs its replays read: n rows, each one sequence's single query.
type decodeGraph struct {
	n               int
	in              Input             // Tokens, Pos, Slots (n,)
	ab              kernels.AttnBatch // QStart (n+1,), CtxLen (n,), BlockTables n × width
	tables          []int32           // (n, width): the rows of ab.BlockTables
	kv              *kernels.KVCache  // the cache the recording writes
	replay, release func() error
}

// errReplay marks a failed replay, after which Forward runs the step
// eagerly.
var errReplay = errors.New("replaying the decode graph")

type graphs struct {
	gc      GraphCapturer
	cfg     GraphConfig
	buckets []int
	byN     map[int]*decodeGraph
}

// EnableGraphs records decode steps as graphs, one per bucket on first
// use, and replays them; prefill and mixed steps stay eager. The backend
// must be a GraphCapturer.
func (m *Model) EnableGraphs(c GraphConfig) error {
	gc, ok := m.be.(GraphCapturer)
	if !ok {
		return fmt.Errorf("model: backend %s cannot record graphs", m.be.Name())
	}
	if c.TableWidth <= 0 {
		return fmt.Errorf("model: graph block-table width %d must be positive", c.TableWidth)
	}
	if c.ScratchBlock < 0 {
		return fmt.Errorf("model: graph scratch block %d must not be negative", c.ScratchBlock)
	}
	c.MaxBatch = min(c.MaxBatch, m.maxTokens)
	b := graphBuckets(c.MaxBatch)
	if len(b) == 0 {
		return fmt.Errorf("model: graph batch limit %d leaves no bucket", c.MaxBatch)
	}
	if err := m.ReleaseGraphs(); err != nil {
		return err
	}
	m.g = &graphs{gc: gc, cfg: c, buckets: b, byN: map[int]*decodeGraph{}}
	return nil
}

// GraphBuckets lists the batch sizes recorded so far, in no order.
func (m *Model) GraphBuckets() []int {
	if m.g == nil {
		return nil
	}
	var out []int
	for n := range m.g.byN {
		out = append(out, n)
	}
	return out
}

// ReleaseGraphs frees every recording (Close of the engine calls it before
// the backend goes); graphs stay enabled and are recorded anew on use.
func (m *Model) ReleaseGraphs() error {
	if m.g == nil {
		return nil
	}
	var errs []error
	for n, g := range m.g.byN {
		errs = append(errs, g.release())
		delete(m.g.byN, n)
	}
	return errors.Join(errs...)
}

// graphBucket is the bucket a batch replays in, or 0 when it runs eagerly:
// graphs off, a row that is not one sequence's single query, more rows
// than the largest bucket, or a block table wider than the recordings.
func (m *Model) graphBucket(in *Input) int {
	if m.g == nil {
		return 0
	}
	T, a := len(in.Tokens), in.Attn
	if len(a.QStart) != T+1 || len(a.CtxLen) != T || len(a.BlockTables) != T {
		return 0
	}
	for i := 0; i <= T; i++ {
		if a.QStart[i] != int32(i) {
			return 0
		}
	}
	for _, t := range a.BlockTables {
		if len(t) > m.g.cfg.TableWidth {
			return 0
		}
	}
	for _, n := range m.g.buckets {
		if n >= T {
			return n
		}
	}
	return 0
}

// forwardGraph runs a decode batch through its bucket's recording (made
// now if it is the first), then projects the logits eagerly: they end in
// a Download, which a recording may not hold.
func (m *Model) forwardGraph(n int, in *Input, kv *kernels.KVCache, logits []float32) error {
	g := m.g.byN[n]
	if g != nil && g.kv != kv {
		if err := g.release(); err != nil {
			return err
		}
		delete(m.g.byN, n)
		g = nil
	}
	fresh := g == nil
	if fresh {
		g = m.newDecodeGraph(n, kv)
	}
	g.fill(in, m.g.cfg, kv.Spec.BlockSize)
	if err := g.ab.Validate(n, kv); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if fresh {
		// Recorded with this batch in place: backends check their inputs
		// when an op is issued.
		replay, release, err := m.g.gc.CaptureGraph(func() error { return m.decodeStep(g) })
		if err != nil {
			return fmt.Errorf("model: recording the decode graph of %d sequences: %w", n, err)
		}
		g.replay, g.release = replay, release
		m.g.byN[n] = g
	}
	if err := g.replay(); err != nil {
		delete(m.g.byN, n)
		return errors.Join(fmt.Errorf("model: %w of %d sequences: %w", errReplay, n, err), g.release())
	}
	return m.logits(m.s.x.Slice(0, n), in.LogitRows, logits)
}

// decodeStep issues what Forward issues before the logits, over g's
// inputs; recorded once per bucket.
func (m *Model) decodeStep(g *decodeGraph) error {
	x := m.s.x.Slice(0, g.n)
	m.be.Embed(x, m.tokEmbd, g.in.Tokens)
	m.blocks(x, &g.in, g.kv, &g.ab)
	return nil
}

func (m *Model) newDecodeGraph(n int, kv *kernels.KVCache) *decodeGraph {
	w := m.g.cfg.TableWidth
	g := &decodeGraph{n: n, kv: kv, tables: make([]int32, n*w)}
	g.in = Input{Tokens: make([]int32, n), Pos: make([]int32, n), Slots: make([]int32, n)}
	g.ab = kernels.AttnBatch{QStart: make([]int32, n+1), CtxLen: make([]int32, n), BlockTables: make([][]int32, n)}
	m.attnShape(&g.ab)
	for i := range g.ab.BlockTables {
		g.ab.BlockTables[i] = g.tables[i*w : (i+1)*w : (i+1)*w]
	}
	for i := range g.ab.QStart {
		g.ab.QStart[i] = int32(i)
	}
	return g
}

// fill copies the batch into g's inputs in place. Rows past the batch are
// padding: token 0 at position 0, its k, v stored in the scratch block,
// which is also all its table, so it attends to itself alone. Unused table
// entries point at the scratch block too (a valid block: the attention
// kernels never read past a sequence's context, but its tables must hold
// only real block ids).
func (g *decodeGraph) fill(in *Input, c GraphConfig, bs int) {
	T := len(in.Tokens)
	for i := 0; i < g.n; i++ {
		row := g.ab.BlockTables[i]
		n := 0
		if i < T {
			g.in.Tokens[i], g.in.Pos[i], g.in.Slots[i] = in.Tokens[i], in.Pos[i], in.Slots[i]
			g.ab.CtxLen[i] = in.Attn.CtxLen[i]
			n = copy(row, in.Attn.BlockTables[i])
		} else {
			g.in.Tokens[i], g.in.Pos[i], g.in.Slots[i] = 0, 0, c.ScratchBlock*int32(bs)
			g.ab.CtxLen[i] = 1
		}
		for j := n; j < len(row); j++ {
			row[j] = c.ScratchBlock
		}
	}
}

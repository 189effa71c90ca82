//go:build cgo

package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// GraphCapturer is implemented by *Backend: it records the ops of one
// decode step as a CUDA graph and replays them with one launch, which
// removes the per-kernel launch cost (hundreds of launches a token) from
// every step after the first.
//
// The engine type-asserts it without importing this package, as
// model.GraphCapturer (the method uses only standard types), and replays
// its decode steps through it unless --enforce-eager is set.
//
// Contract, per batch-size bucket (e.g. 1, 2, 4, 8, 16, ... sequences):
//   - step issues the ops of one forward pass (no Download, Upload,
//     FromHost, Alloc or Sync inside); it runs once, recorded, not executed.
//   - The host inputs the ops were given (ids, positions, slots, the
//     AttnBatch and its slices) are read again by every replay, so the
//     engine must keep passing the same slices and the same *AttnBatch,
//     updating their contents in place before each replay, with the same
//     lengths: pad the batch to the bucket size (padding rows attend to a
//     scratch block) and keep every block table the same width.
//   - A replay whose inputs no longer fit the recording (another token
//     count or table width) returns an error; capture that shape anew.
//   - Device tensors used by the step must stay allocated while the graph
//     lives; replays run on the backend's stream, in order with other ops,
//     and results are read with Download as usual.
type GraphCapturer interface {
	CaptureGraph(step func() error) (replay func() error, release func() error, err error)
}

var _ GraphCapturer = (*Backend)(nil)

// Graph is a recorded step.
type Graph struct {
	b        *Backend
	exec     unsafe.Pointer
	arena    *capture
	done     unsafe.Pointer // recorded after each replay's launch
	launched bool
}

// capture is the recording state: pinned staging memory owned by the
// graph, and the fills that refresh it.
type capture struct {
	chunks []arenaChunk
	fills  []fillRec
	staged []stagedRec
}

type arenaChunk struct {
	host      unsafe.Pointer
	dev       uint64
	size, off int
}

type fillRec struct {
	host []byte // the fill's region of pinned memory, or a Go buffer for a dup
	fill fillFunc
	dup  int // ≥ 0: this array equalled fills[dup]'s at capture and shares its copy
}

// stagedRec is an array staged during the capture, for sharing its copy.
type stagedRec struct {
	kind stageKind
	fill int // index in fills
	dev  uint64
}

const arenaChunkSize = 1 << 20

// stage reserves n bytes of graph-owned pinned memory, fills them and
// records their copy to the device as a node of the graph. An array equal
// to one staged earlier in the capture with the same kind (the attention
// metadata of every layer, the positions of q and k, the KV slots) shares
// that copy instead: one copy node a step rather than one per layer, as
// the eager stager's memo does. Launch checks that such arrays are still
// equal on every replay.
func (c *capture) stage(g *gpu, kind stageKind, n int, fill fillFunc) (uint64, error) {
	data := make([]byte, n)
	if err := fill(data); err != nil {
		return 0, err
	}
	for _, st := range c.staged {
		if st.kind == kind && bytes.Equal(data, c.fills[st.fill].host) {
			c.fills = append(c.fills, fillRec{host: data, fill: fill, dup: st.fill})
			return st.dev, nil
		}
	}
	m := (n + stageAlign - 1) &^ (stageAlign - 1)
	if len(c.chunks) == 0 || c.chunks[len(c.chunks)-1].off+m > c.chunks[len(c.chunks)-1].size {
		if err := c.grow(g, max(arenaChunkSize, m)); err != nil {
			return 0, err
		}
	}
	ch := &c.chunks[len(c.chunks)-1]
	host := hostBytes(unsafe.Add(ch.host, ch.off), n)
	dev := ch.dev + uint64(ch.off)
	ch.off += m
	copy(host, data)
	c.staged = append(c.staged, stagedRec{kind: kind, fill: len(c.fills), dev: dev})
	c.fills = append(c.fills, fillRec{host: host, fill: fill, dup: -1})
	return dev, g.htodAsync(dev, unsafe.Pointer(unsafe.SliceData(host)), n)
}

// grow adds a chunk of size bytes of pinned memory and its device mirror.
func (c *capture) grow(g *gpu, size int) error {
	host, err := g.hostAlloc(size)
	if err != nil {
		return err
	}
	dev, err := g.alloc(size)
	if err != nil {
		g.hostFree(host)
		return err
	}
	c.chunks = append(c.chunks, arenaChunk{host: host, dev: dev, size: size})
	return nil
}

func (c *capture) free(g *gpu) error {
	var errs []error
	for _, ch := range c.chunks {
		errs = append(errs, g.free(ch.dev), g.hostFree(ch.host))
	}
	c.chunks = nil
	return errors.Join(errs...)
}

// Capture records the ops that step issues as a graph; see GraphCapturer.
func (b *Backend) Capture(step func() error) (*Graph, error) {
	if b.cap != nil {
		return nil, errors.New("cuda: Capture inside a capture")
	}
	if err := b.Sync(); err != nil {
		return nil, err
	}
	// Cached 8-bit activations must not cross the recording's edges: a
	// graph that skipped a quantization would replay stale scratch.
	b.q8 = q8memo{}
	// The first chunk of pinned staging memory is allocated before
	// recording starts: host allocations are best kept out of a capture.
	c := &capture{}
	if err := c.grow(b.g, arenaChunkSize); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := b.g.captureBegin(); err != nil {
		c.free(b.g)
		return nil, fmt.Errorf("cuda: %w", err)
	}
	b.cap = c
	serr := safeStep(step)
	exec, eerr := b.g.captureEnd()
	b.cap = nil
	b.q8 = q8memo{}
	err := errors.Join(serr, b.err, eerr)
	b.err = nil
	var done unsafe.Pointer
	if err == nil {
		done, err = b.g.eventCreate(false)
	}
	if err != nil {
		if exec != nil {
			b.g.graphDestroy(exec)
		}
		c.free(b.g)
		return nil, fmt.Errorf("cuda: capturing a graph: %w", err)
	}
	gr := &Graph{b: b, exec: exec, arena: c, done: done}
	b.graphs[gr] = struct{}{}
	return gr, nil
}

// safeStep runs step, turning a panic (a shape error inside the recorded
// ops) into an error so that the capture is always ended.
func safeStep(step func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic during capture: %v", r)
		}
	}()
	return step()
}

// CaptureGraph is Capture in the form of GraphCapturer.
func (b *Backend) CaptureGraph(step func() error) (replay func() error, release func() error, err error) {
	g, err := b.Capture(step)
	if err != nil {
		return nil, nil, err
	}
	return g.Launch, g.Close, nil
}

// Launch refreshes the staged inputs from the host slices the ops were
// given and replays the graph on the stream. It waits only for the
// previous replay of this graph, whose copies read the same pinned bytes.
func (gr *Graph) Launch() error {
	if gr.exec == nil || gr.b.closed {
		return errors.New("cuda: Launch of a closed graph")
	}
	g := gr.b.g
	// The replay rewrites the q8 scratch behind the memo's back.
	gr.b.q8 = q8memo{}
	if gr.launched {
		if err := g.eventSync(gr.done); err != nil {
			return fmt.Errorf("cuda: graph replay: %w", err)
		}
	}
	fills := gr.arena.fills
	for _, f := range fills {
		if err := f.fill(f.host); err != nil {
			return fmt.Errorf("cuda: graph replay: %w (capture this shape anew)", err)
		}
		if f.dup >= 0 && !bytes.Equal(f.host, fills[f.dup].host) {
			return errors.New("cuda: graph replay: two inputs that shared one copy when recorded now differ (capture this shape anew)")
		}
	}
	if err := g.graphLaunch(gr.exec); err != nil {
		return fmt.Errorf("cuda: graph replay: %w", err)
	}
	gr.launched = true
	if err := g.eventRecord(gr.done); err != nil {
		return fmt.Errorf("cuda: graph replay: %w", err)
	}
	return nil
}

// Close waits for the graph's replays and frees it.
func (gr *Graph) Close() error {
	if gr.exec == nil {
		return nil
	}
	g := gr.b.g
	errs := []error{g.sync(), g.graphDestroy(gr.exec), g.eventDestroy(gr.done), gr.arena.free(g)}
	gr.exec = nil
	delete(gr.b.graphs, gr)
	return errors.Join(errs...)
}

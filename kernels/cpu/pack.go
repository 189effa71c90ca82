//go:build cgo

package cpu

import (
	"fmt"
	"os"
	"unsafe"

	"spillway/kernels"
)

// PackEnv names the environment variable that turns weight packing off
// ("off"): MatMul then reads every weight in its GGUF layout, as before
// packing existed. It is there to measure what packing buys, side by side.
const PackEnv = "SPILLWAY_CPU_PACK"

// twinKey identifies a weight view: the same bytes seen with the same type
// and shape share one packed twin.
type twinKey struct {
	off, rows, cols int
	dt              kernels.DType
}

// packedTwin is the packed copy of a weight view, in C memory the backend owns.
type packedTwin struct {
	p unsafe.Pointer
	n int
}

// twinLocked returns w's packed twin, making it on first use, or nil when
// this backend keeps weights of w's type as they are. b.mu is held.
func (b *Backend) twinLocked(w kernels.Tensor, wv view) (unsafe.Pointer, error) {
	if b.noPack {
		return nil, nil
	}
	buf := w.Buf.(*buffer)
	key := twinKey{off: w.Off, rows: w.Rows, cols: w.Cols, dt: w.DType}
	if t, ok := b.twins[buf][key]; ok {
		return t.p, nil
	}
	n := b.ctx.packBytes(w.DType, w.Rows, w.Cols)
	if n == 0 {
		return nil, nil
	}
	p := cAlloc(n)
	if p == nil {
		return nil, fmt.Errorf("cpu: cannot allocate %d bytes to pack weight %v", n, w)
	}
	b.ctx.pack(wv, p)
	if buf.host != nil && b.ctx.packMinT(w.DType) == 1 {
		releaseHost(wv.p, w.Bytes())
	}
	if b.twins == nil {
		b.twins = map[*buffer]map[twinKey]packedTwin{}
	}
	if b.twins[buf] == nil {
		b.twins[buf] = map[twinKey]packedTwin{}
	}
	b.twins[buf][key] = packedTwin{p: p, n: n}
	return p, nil
}

// dropTwinsLocked frees the twins made from buf (its bytes are changing).
func (b *Backend) dropTwinsLocked(buf *buffer) {
	for _, t := range b.twins[buf] {
		cFree(t.p)
	}
	delete(b.twins, buf)
}

// PrepareWeights packs MatMul weights now, so the first request does not
// pay for it (kernels.WeightPreparer). Weights of types this backend keeps
// as they are are skipped.
func (b *Backend) PrepareWeights(ws ...kernels.Tensor) error {
	for _, w := range ws {
		buf, err := checkView(w)
		if err != nil {
			return fmt.Errorf("cpu: PrepareWeights: %w", err)
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return fmt.Errorf("cpu: PrepareWeights after Close")
		}
		_, err = b.twinLocked(w, view{p: unsafe.Add(buf.p, w.Off), dt: w.DType, rows: w.Rows, cols: w.Cols})
		b.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// PackedBytes is the memory the packed twins of weights hold.
func (b *Backend) PackedBytes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, ts := range b.twins {
		for _, t := range ts {
			n += t.n
		}
	}
	return n
}

func packDisabled() bool { return os.Getenv(PackEnv) == "off" }

package ref

import (
	"fmt"
	"runtime"

	"spillway/kernels"
)

// HostBuffer is the ref backend's storage: plain host bytes.
type HostBuffer struct {
	Data []byte
}

// Bytes is the size of the storage in bytes.
func (h *HostBuffer) Bytes() int { return len(h.Data) }

// maxAlloc bounds a single allocation so that a corrupt shape (from a model
// file, say) fails with an error instead of exhausting memory.
const maxAlloc = 1 << 40

// Backend is the pure-Go reference backend.
type Backend struct {
	threads int // goroutines MatMul spreads rows of w over
}

var _ kernels.Backend = (*Backend)(nil)

func init() {
	kernels.Register("ref", func(o kernels.Options) (kernels.Backend, error) { return New(o) })
}

// New returns a reference backend. Options.Threads bounds the goroutines of
// MatMul (0 = GOMAXPROCS); the other options do not apply.
func New(o kernels.Options) (*Backend, error) {
	if o.Threads < 0 {
		return nil, fmt.Errorf("ref: negative thread count %d", o.Threads)
	}
	n := o.Threads
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Backend{threads: n}, nil
}

// Name returns "ref".
func (b *Backend) Name() string { return "ref" }

// ActDType is F32: the reference computes activations at full precision.
func (b *Backend) ActDType() kernels.DType { return kernels.F32 }

// Alloc returns a zeroed (rows, cols) tensor of type dt.
func (b *Backend) Alloc(dt kernels.DType, rows, cols int) (kernels.Tensor, error) {
	n, err := tensorBytes(dt, rows, cols)
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("ref: Alloc: %w", err)
	}
	return kernels.Tensor{DType: dt, Rows: rows, Cols: cols, Buf: &HostBuffer{Data: make([]byte, n)}}, nil
}

// FromHost wraps data, which must be exactly rows × dt.RowBytes(cols)
// bytes, without copying it.
func (b *Backend) FromHost(dt kernels.DType, rows, cols int, data []byte) (kernels.Tensor, error) {
	n, err := tensorBytes(dt, rows, cols)
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("ref: FromHost: %w", err)
	}
	if len(data) != n {
		return kernels.Tensor{}, fmt.Errorf("ref: FromHost: %s(%d, %d) needs %d bytes, got %d", dt, rows, cols, n, len(data))
	}
	return kernels.Tensor{DType: dt, Rows: rows, Cols: cols, Buf: &HostBuffer{Data: data}}, nil
}

// Upload copies src, exactly dst.Bytes() long, into dst.
func (b *Backend) Upload(dst kernels.Tensor, src []byte) error {
	d, err := viewBytes(dst)
	if err != nil {
		return fmt.Errorf("ref: Upload: %w", err)
	}
	if len(src) != len(d) {
		return fmt.Errorf("ref: Upload: %v holds %d bytes, source has %d", dst, len(d), len(src))
	}
	copy(d, src)
	return nil
}

// Download copies src into dst, exactly src.Bytes() long.
func (b *Backend) Download(dst []byte, src kernels.Tensor) error {
	s, err := viewBytes(src)
	if err != nil {
		return fmt.Errorf("ref: Download: %w", err)
	}
	if len(dst) != len(s) {
		return fmt.Errorf("ref: Download: %v holds %d bytes, destination has %d", src, len(s), len(dst))
	}
	copy(dst, s)
	return nil
}

// AllocKV allocates a zeroed paged KV cache of spec.DType (F32, F16 or BF16).
func (b *Backend) AllocKV(spec kernels.KVSpec) (*kernels.KVCache, error) {
	if spec.NumLayers <= 0 || spec.NumBlocks <= 0 || spec.BlockSize <= 0 || spec.NumKVHeads <= 0 || spec.HeadDim <= 0 {
		return nil, fmt.Errorf("ref: AllocKV: every size must be positive: %+v", spec)
	}
	if !isFloat(spec.DType) {
		return nil, fmt.Errorf("ref: AllocKV: cache type %s is not F32, F16 or BF16", spec.DType)
	}
	if spec.NumBlocks > maxAlloc/spec.BlockSize {
		return nil, fmt.Errorf("ref: AllocKV: %d blocks of %d slots is too many", spec.NumBlocks, spec.BlockSize)
	}
	if spec.Bytes() > maxAlloc {
		return nil, fmt.Errorf("ref: AllocKV: cache of %d bytes exceeds the %d-byte limit", spec.Bytes(), int64(maxAlloc))
	}
	c := &kernels.KVCache{Spec: spec}
	width := spec.NumKVHeads * spec.HeadDim
	for l := 0; l < spec.NumLayers; l++ {
		k, err := b.Alloc(spec.DType, spec.Slots(), width)
		if err != nil {
			return nil, err
		}
		v, err := b.Alloc(spec.DType, spec.Slots(), width)
		if err != nil {
			return nil, err
		}
		c.K = append(c.K, k)
		c.V = append(c.V, v)
	}
	return c, nil
}

// Sync returns nil: every op has finished when it returns.
func (b *Backend) Sync() error { return nil }

// Close returns nil: buffers are Go memory, freed when unreferenced.
func (b *Backend) Close() error { return nil }

// tensorBytes is the byte size of a (rows, cols) tensor of dt, or an error
// naming why no such tensor exists.
func tensorBytes(dt kernels.DType, rows, cols int) (int, error) {
	if err := dt.CheckRow(cols); err != nil {
		return 0, err
	}
	if rows < 0 {
		return 0, fmt.Errorf("negative row count %d", rows)
	}
	rb := dt.RowBytes(cols)
	if rows > 0 && rb > maxAlloc/rows {
		return 0, fmt.Errorf("%s(%d, %d) exceeds the %d-byte limit", dt, rows, cols, int64(maxAlloc))
	}
	return rows * rb, nil
}

// viewBytes returns the bytes a view covers in its HostBuffer.
func viewBytes(t kernels.Tensor) ([]byte, error) {
	h, ok := t.Buf.(*HostBuffer)
	if !ok || h == nil {
		return nil, fmt.Errorf("tensor %v is not a ref tensor (buffer %T)", t, t.Buf)
	}
	if !t.DType.Known() || t.Rows < 0 || t.Cols < 0 {
		return nil, fmt.Errorf("tensor %v has an invalid shape", t)
	}
	n := t.Bytes()
	if t.Off < 0 || t.Off > len(h.Data) || n > len(h.Data)-t.Off {
		return nil, fmt.Errorf("view %v at offset %d overruns its %d-byte buffer", t, t.Off, len(h.Data))
	}
	return h.Data[t.Off : t.Off+n : t.Off+n], nil
}

// mustBytes is viewBytes for ops, where a bad tensor is a programming error.
func mustBytes(op, name string, t kernels.Tensor) []byte {
	d, err := viewBytes(t)
	if err != nil {
		panic(fmt.Sprintf("ref: %s: %s: %v", op, name, err))
	}
	return d
}

// shapePanic panics with a message naming the op and the offending shapes.
func shapePanic(op, format string, args ...any) {
	panic(fmt.Sprintf("ref: %s: shape mismatch: %s", op, fmt.Sprintf(format, args...)))
}

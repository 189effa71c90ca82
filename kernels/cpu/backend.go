//go:build cgo

package cpu

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"spillway/kernels"
)

// maxAlloc bounds one allocation so a corrupt shape (from a model file, say)
// fails with an error instead of exhausting memory.
const maxAlloc = 1 << 40

// maxThreads bounds the pool; more threads than this never pay on a CPU.
const maxThreads = 256

// ISAEnv names the environment variable that forces an instruction-set
// level: "scalar", "avx2" or "avx512" (an error where the CPU lacks it).
const ISAEnv = "SPILLWAY_CPU_ISA"

var isaNames = map[string]int{"scalar": isaScalar, "avx2": isaAVX2, "avx512": isaAVX512}

func init() {
	kernels.Register("cpu", func(o kernels.Options) (kernels.Backend, error) { return New(o) })
}

// buffer is the cpu backend's storage: 64-byte-aligned C memory (Alloc,
// AllocKV), or the caller's own bytes aliased by FromHost.
type buffer struct {
	p     unsafe.Pointer // first byte
	n     int
	host  []byte // the aliased bytes, kept reachable while the tensor is
	owned bool   // C memory that Close frees
	freed bool
}

// Bytes is the size of the storage in bytes.
func (b *buffer) Bytes() int { return b.n }

// Backend is the fast CPU backend: C kernels behind cgo, a persistent
// thread pool, run-time ISA dispatch. Its methods may be called from any
// goroutine; ops run one at a time.
type Backend struct {
	mu     sync.Mutex
	ctx    *cctx
	isa    string
	owned  []*buffer
	err    error // first scratch failure since the last Sync
	closed bool
	// Packed twins of MatMul weights (pack.go), by the buffer they copy.
	twins  map[*buffer]map[twinKey]packedTwin
	noPack bool // SPILLWAY_CPU_PACK=off
}

var _ kernels.Backend = (*Backend)(nil)

// New builds a cpu backend with o.Threads threads (0: one per physical
// core) on the best instruction set of this CPU, or the one
// SPILLWAY_CPU_ISA names.
// o.ActDType is ignored: activations are always F32 here.
func New(o kernels.Options) (*Backend, error) {
	return newISA(o, os.Getenv(ISAEnv))
}

func newISA(o kernels.Options, name string) (*Backend, error) {
	isa := isaBest()
	if name != "" {
		v, ok := isaNames[name]
		if !ok {
			return nil, fmt.Errorf("cpu: %s=%q is not scalar, avx2 or avx512", ISAEnv, name)
		}
		if !isaSupported(v) {
			return nil, fmt.Errorf("cpu: instruction set %s is not available on this CPU (or has no kernels in this build)", name)
		}
		isa = v
	}
	n := o.Threads
	if n < 0 {
		return nil, fmt.Errorf("cpu: negative thread count %d", n)
	}
	if n == 0 {
		n = defaultThreads()
	}
	n = min(n, maxThreads)
	ctx := newCtx(isa, n)
	if ctx == nil {
		return nil, fmt.Errorf("cpu: cannot start a pool of %d threads", n)
	}
	b := &Backend{ctx: ctx, noPack: packDisabled()}
	for k, v := range isaNames {
		if v == isa {
			b.isa = k
		}
	}
	return b, nil
}

// Name returns "cpu".
func (b *Backend) Name() string { return "cpu" }

// ISA names the instruction set the kernels run on: scalar, avx2, avx512.
func (b *Backend) ISA() string { return b.isa }

// Threads is the size of the thread pool, the calling thread included.
func (b *Backend) Threads() int { return b.ctx.threads() }

// ActDType is F32.
func (b *Backend) ActDType() kernels.DType { return kernels.F32 }

// defaultThreads is one thread per physical core available to the process:
// runtime.NumCPU (which honours the affinity mask) divided by the number of
// hardware threads per core that sysfs reports. A second hardware thread of
// a core adds little to these kernels and slows the pool's joins.
func defaultThreads() int {
	n := runtime.NumCPU()
	lists, _ := filepath.Glob("/sys/devices/system/cpu/cpu[0-9]*/topology/thread_siblings_list")
	cores := map[string]bool{}
	for _, f := range lists {
		b, err := os.ReadFile(f)
		if err != nil {
			return n
		}
		cores[strings.TrimSpace(string(b))] = true
	}
	if len(cores) == 0 || len(lists) < len(cores) {
		return n
	}
	return max(1, n*len(cores)/len(lists))
}

// tensorBytes is the size of a (rows, cols) tensor of dt, or why none exists.
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

func (b *Backend) alloc(n int) (*buffer, error) {
	p := cAlloc(n)
	if p == nil {
		return nil, fmt.Errorf("cpu: cannot allocate %d bytes", n)
	}
	buf := &buffer{p: p, n: n, owned: true}
	b.owned = append(b.owned, buf)
	return buf, nil
}

// Alloc returns a zeroed (rows, cols) tensor in 64-byte-aligned memory.
func (b *Backend) Alloc(dt kernels.DType, rows, cols int) (kernels.Tensor, error) {
	n, err := tensorBytes(dt, rows, cols)
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("cpu: Alloc: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return kernels.Tensor{}, fmt.Errorf("cpu: Alloc after Close")
	}
	buf, err := b.alloc(n)
	if err != nil {
		return kernels.Tensor{}, err
	}
	return kernels.Tensor{DType: dt, Rows: rows, Cols: cols, Buf: buf}, nil
}

// FromHost wraps data (exactly rows × dt.RowBytes(cols) bytes) without
// copying: the caller keeps it alive and unchanged while the tensor is used.
func (b *Backend) FromHost(dt kernels.DType, rows, cols int, data []byte) (kernels.Tensor, error) {
	n, err := tensorBytes(dt, rows, cols)
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("cpu: FromHost: %w", err)
	}
	if len(data) != n {
		return kernels.Tensor{}, fmt.Errorf("cpu: FromHost: %s(%d, %d) needs %d bytes, got %d", dt, rows, cols, n, len(data))
	}
	buf := &buffer{n: n, host: data}
	if n > 0 {
		buf.p = unsafe.Pointer(&data[0])
	}
	return kernels.Tensor{DType: dt, Rows: rows, Cols: cols, Buf: buf}, nil
}

// bytesOf is the byte slice a view covers.
func bytesOf(t kernels.Tensor) ([]byte, error) {
	buf, err := checkView(t)
	if err != nil {
		return nil, err
	}
	if t.Bytes() == 0 {
		return nil, nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(buf.p, t.Off)), t.Bytes()), nil
}

// Upload copies src, exactly dst.Bytes() long, into dst.
func (b *Backend) Upload(dst kernels.Tensor, src []byte) error {
	d, err := bytesOf(dst)
	if err != nil {
		return fmt.Errorf("cpu: Upload: %w", err)
	}
	if len(src) != len(d) {
		return fmt.Errorf("cpu: Upload: %v holds %d bytes, source has %d", dst, len(d), len(src))
	}
	b.mu.Lock()
	b.dropTwinsLocked(dst.Buf.(*buffer))
	b.mu.Unlock()
	copy(d, src)
	return nil
}

// Download copies src into dst, exactly src.Bytes() long.
func (b *Backend) Download(dst []byte, src kernels.Tensor) error {
	s, err := bytesOf(src)
	if err != nil {
		return fmt.Errorf("cpu: Download: %w", err)
	}
	if len(dst) != len(s) {
		return fmt.Errorf("cpu: Download: %v holds %d bytes, destination has %d", src, len(s), len(dst))
	}
	copy(dst, s)
	return nil
}

// AllocKV allocates a zeroed paged KV cache of spec.DType (F16, BF16, F32):
// one allocation per layer for K and one for V.
func (b *Backend) AllocKV(spec kernels.KVSpec) (*kernels.KVCache, error) {
	s := spec
	if s.NumLayers <= 0 || s.NumBlocks <= 0 || s.BlockSize <= 0 || s.NumKVHeads <= 0 || s.HeadDim <= 0 {
		return nil, fmt.Errorf("cpu: AllocKV: every size must be positive: %+v", s)
	}
	if !isFloat(s.DType) {
		return nil, fmt.Errorf("cpu: AllocKV: cache type %s is not F32, F16 or BF16", s.DType)
	}
	if s.NumBlocks > maxAlloc/s.BlockSize || s.NumKVHeads > maxAlloc/s.HeadDim || s.Bytes() > maxAlloc {
		return nil, fmt.Errorf("cpu: AllocKV: a cache of %d blocks of %d slots exceeds the %d-byte limit", s.NumBlocks, s.BlockSize, int64(maxAlloc))
	}
	c := &kernels.KVCache{Spec: s}
	for l := 0; l < s.NumLayers; l++ {
		k, err := b.Alloc(s.DType, s.Slots(), s.NumKVHeads*s.HeadDim)
		if err != nil {
			return nil, err
		}
		v, err := b.Alloc(s.DType, s.Slots(), s.NumKVHeads*s.HeadDim)
		if err != nil {
			return nil, err
		}
		c.K, c.V = append(c.K, k), append(c.V, v)
	}
	return c, nil
}

// Sync returns the first scratch-allocation failure since the last Sync;
// ops themselves finish before they return.
func (b *Backend) Sync() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.err
	b.err = nil
	return err
}

// Close stops the thread pool and frees every Alloc'd tensor and cache.
// Tensors of the backend must not be used afterwards.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, buf := range b.owned {
		cFree(buf.p)
		buf.p, buf.freed = nil, true
	}
	b.owned = nil
	for buf := range b.twins {
		b.dropTwinsLocked(buf)
	}
	b.ctx.free()
	return nil
}

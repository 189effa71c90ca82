//go:build cgo

package cuda

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"spillway/kernels"
)

// maxAlloc bounds one allocation, so that a corrupt shape (from a model
// file, say) fails with an error instead of asking the driver for exabytes.
const maxAlloc = 1 << 40

// devBuf is device memory of this backend.
type devBuf struct {
	ptr  uint64
	size int
	// gen counts writes by ops, so that a cached quantization of an
	// activation knows when it went stale.
	gen uint64
}

// Bytes is the size of the allocation.
func (d *devBuf) Bytes() int { return d.size }

// Backend runs kernels.Backend ops on one CUDA device. Like every backend
// it is used by one goroutine at a time.
type Backend struct {
	g    *gpu
	act  kernels.DType
	bufs map[*devBuf]struct{}
	// retired holds scratch that a captured graph may still use; it is
	// freed by Close.
	retired []uint64
	st      *stager
	scr     scratch
	q8      q8memo
	quantW  bool // a block-quantized weight is loaded (see q8Out)
	// gemvPath is how the decode GEMV runs (SPILLWAY_CUDA_GEMV): each type's
	// own kernel, the generic one for every type (gemvKernel), or Q4_K
	// and Q6_K streamed where their rows allow (gemvStreamed).
	gemvPath gemvMode
	// gemvWarps, when not 0, is the warps a row (1, 2 or 4) of every
	// GEMV instead of gemvSplit's choice: SPILLWAY_CUDA_GEMV_SPLIT, for
	// tuning gemvSplit against measurements.
	gemvWarps int
	// attnMerge has the last key split of sw_attn merge the splits'
	// partials instead of sw_attn_combine: SPILLWAY_CUDA_ATTN=merge, for
	// side-by-side measurement (attention.cu).
	attnMerge bool
	pdlErr    error // why PDL is off although allowed (pdl.go)
	// noFuse runs every fused op as its sequence of ops and skips the
	// 8-bit output of q8Out: SPILLWAY_CUDA_FUSE=0, for side-by-side
	// measurement, or to step around a fused kernel that misbehaves.
	noFuse bool
	cap    *capture // non-nil while a graph is being recorded
	graphs map[*Graph]struct{}
	err    error // first failure since the last Sync
	closed bool
}

var _ kernels.Backend = (*Backend)(nil)

func init() {
	kernels.Register("cuda", func(o kernels.Options) (kernels.Backend, error) { return New(o) })
}

// New opens device o.Device. Activations are F16 unless o.ActDType is
// BF16. The errors say why CUDA cannot run here: no driver, no device, or
// a binary built without kernels.
// SPILLWAY_CUDA_DRIVER names another driver library, such as the emulator
// of emu/ that tests the kernels' logic on a machine without a GPU.
func New(o kernels.Options) (*Backend, error) {
	lib := driverLib
	if l := os.Getenv("SPILLWAY_CUDA_DRIVER"); l != "" {
		lib = l
	}
	return open(o, lib, fatbinFS)
}

// gemvWarpsEnv reads SPILLWAY_CUDA_GEMV_SPLIT's value v: 0 (gemvSplit
// chooses) when empty, else the warps a row every GEMV takes.
func gemvWarpsEnv(v string) (int, error) {
	switch v {
	case "":
		return 0, nil
	case "1", "2", "4":
		return int(v[0] - '0'), nil
	}
	return 0, fmt.Errorf("cuda: SPILLWAY_CUDA_GEMV_SPLIT=%q: want 1, 2 or 4 warps a row", v)
}

// gemvMode is how the decode GEMV runs: SPILLWAY_CUDA_GEMV, for
// side-by-side measurement.
type gemvMode int

const (
	gemvDirect  gemvMode = iota // each type's own kernel where it has one (the default)
	gemvGeneric                 // "generic": the generic kernels for every type
	gemvStream                  // "stream": Q4_K and Q6_K rows streamed through shared memory (gemv_stream.cuh)
)

// gemvModeEnv reads SPILLWAY_CUDA_GEMV's value v.
func gemvModeEnv(v string) (gemvMode, error) {
	switch v {
	case "":
		return gemvDirect, nil
	case "generic":
		return gemvGeneric, nil
	case "stream":
		return gemvStream, nil
	}
	return 0, fmt.Errorf("cuda: SPILLWAY_CUDA_GEMV=%q: want generic or stream (or unset)", v)
}

// attnMergeEnv reads SPILLWAY_CUDA_ATTN's value v: whether attention's
// key splits merge in their last block ("merge") or in sw_attn_combine
// ("combine", or unset: the default).
func attnMergeEnv(v string) (bool, error) {
	switch v {
	case "", "combine":
		return false, nil
	case "merge":
		return true, nil
	}
	return false, fmt.Errorf("cuda: SPILLWAY_CUDA_ATTN=%q: want combine or merge (or unset)", v)
}

func open(o kernels.Options, lib string, image fs.FS) (*Backend, error) {
	act, err := actType(o.ActDType)
	if err != nil {
		return nil, err
	}
	warps, err := gemvWarpsEnv(os.Getenv("SPILLWAY_CUDA_GEMV_SPLIT"))
	if err != nil {
		return nil, err
	}
	mode, err := gemvModeEnv(os.Getenv("SPILLWAY_CUDA_GEMV"))
	if err != nil {
		return nil, err
	}
	merge, err := attnMergeEnv(os.Getenv("SPILLWAY_CUDA_ATTN"))
	if err != nil {
		return nil, err
	}
	if err := openDriver(lib); err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	n, err := deviceCount()
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	if o.Device < 0 || o.Device >= n {
		return nil, fmt.Errorf("cuda: device %d requested, %d present", o.Device, n)
	}
	img, err := kernelImage(image)
	if err != nil {
		return nil, fmt.Errorf("cuda: %w", err)
	}
	g, err := openGPU(o.Device, img)
	if err != nil {
		return nil, fmt.Errorf("cuda: device %d: %w", o.Device, err)
	}
	if g.info.cc < 80 {
		g.close()
		return nil, fmt.Errorf("cuda: %s has compute capability %d.%d; the kernels need 8.0 or newer", g.info.name, g.info.cc/10, g.info.cc%10)
	}
	b := &Backend{g: g, act: act, bufs: map[*devBuf]struct{}{}, graphs: map[*Graph]struct{}{}}
	b.gemvPath = mode
	b.gemvWarps = warps
	b.attnMerge = merge
	b.noFuse = os.Getenv("SPILLWAY_CUDA_FUSE") == "0"
	if err := b.prepare(); err != nil {
		b.Close()
		return nil, fmt.Errorf("cuda: %w", err)
	}
	b.enablePDL()
	if err := b.g.sync(); err != nil { // a probe that failed on the device leaves nothing behind
		b.Close()
		return nil, fmt.Errorf("cuda: after probing programmatic dependent launch (SPILLWAY_CUDA_PDL=0 skips it): %w", err)
	}
	return b, nil
}

// actType maps the requested activation type to F16 (the default) or BF16.
func actType(dt kernels.DType) (kernels.DType, error) {
	switch dt {
	case kernels.F32, kernels.F16: // F32 is the zero value: no preference
		return kernels.F16, nil
	case kernels.BF16:
		return kernels.BF16, nil
	}
	return 0, fmt.Errorf("cuda: activation type %s unsupported (F16 or BF16)", dt)
}

// prepare resolves every kernel up front, so that a stale fatbin fails at
// start-up rather than in the middle of a step, and sets up staging.
func (b *Backend) prepare() error {
	for _, name := range kernelNames() {
		if _, err := b.g.function(name); err != nil {
			return fmt.Errorf("%w (the embedded kernels are out of date: rebuild with make cuda)", err)
		}
	}
	f, _ := b.g.function("sw_attn")
	if err := b.g.allowSmem(f, attnSmem(maxHeadDim)); err != nil {
		return err
	}
	for _, own := range ownGemvs {
		for _, nt := range gemvTokens {
			if own.stream[nt] == "" {
				continue
			}
			f, _ := b.g.function(own.stream[nt])
			if err := b.g.allowSmem(f, gemvStreamSmemMax); err != nil {
				return err
			}
		}
	}
	// Keys are split only when a launch has fewer than 2·sms blocks
	// (planAttention), so that many counters serve every merging launch.
	if b.attnMerge {
		if err := b.scr.allocCounters(b.g, 2*max(b.g.info.sms, 1)); err != nil {
			return err
		}
	}
	st, err := newStager(b.g, 1<<20)
	if err != nil {
		return err
	}
	b.st = st
	return nil
}

// Name returns "cuda".
func (b *Backend) Name() string { return "cuda" }

// ActDType is F16 or BF16, as chosen at construction.
func (b *Backend) ActDType() kernels.DType { return b.act }

// Device describes the GPU: name, compute capability, SM count, memory.
func (b *Backend) Device() string {
	i := b.g.info
	pdl := "off"
	switch {
	case b.g.pdl:
		pdl = "on"
	case b.pdlErr != nil:
		pdl = "off: " + b.pdlErr.Error()
	}
	return fmt.Sprintf("%s (sm_%d, %d SMs, %.1f GiB, driver %d.%d, PDL %s)", i.name, i.cc, i.sms,
		float64(i.totalMem)/(1<<30), i.driver/1000, i.driver%1000/10, pdl)
}

// MemInfo returns the free and total device memory in bytes, for sizing
// the KV pool (--gpu-memory-utilization).
func (b *Backend) MemInfo() (free, total int64, err error) { return b.g.memInfo() }

// fail records the first error; Sync returns it.
func (b *Backend) fail(err error) {
	if err != nil && b.err == nil {
		b.err = err
	}
}

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

// newBuf allocates n bytes (at least 256, so that empty tensors have an
// address) and zeroes them on the stream.
func (b *Backend) newBuf(n int) (*devBuf, error) {
	if b.closed {
		return nil, errors.New("backend is closed")
	}
	size := max(n, 256)
	p, err := b.g.alloc(size)
	if err != nil {
		return nil, err
	}
	if err := b.g.memsetAsync(p, size); err != nil {
		b.g.free(p)
		return nil, err
	}
	d := &devBuf{ptr: p, size: n}
	b.bufs[d] = struct{}{}
	return d, nil
}

// Alloc returns a zeroed (rows, cols) tensor of type dt in device memory.
func (b *Backend) Alloc(dt kernels.DType, rows, cols int) (kernels.Tensor, error) {
	n, err := tensorBytes(dt, rows, cols)
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("cuda: Alloc: %w", err)
	}
	d, err := b.newBuf(n)
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("cuda: Alloc %s(%d, %d): %w", dt, rows, cols, err)
	}
	return kernels.Tensor{DType: dt, Rows: rows, Cols: cols, Buf: d}, nil
}

// FromHost copies data (exactly rows × dt.RowBytes(cols) bytes) to the
// device: weights are uploaded once, and data may be unmapped afterwards.
func (b *Backend) FromHost(dt kernels.DType, rows, cols int, data []byte) (kernels.Tensor, error) {
	n, err := tensorBytes(dt, rows, cols)
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("cuda: FromHost: %w", err)
	}
	if len(data) != n {
		return kernels.Tensor{}, fmt.Errorf("cuda: FromHost: %s(%d, %d) needs %d bytes, got %d", dt, rows, cols, n, len(data))
	}
	if b.cap != nil {
		return kernels.Tensor{}, errors.New("cuda: FromHost during graph capture")
	}
	d, err := b.newBuf(n)
	if err == nil {
		err = b.g.htod(d.ptr, data)
	}
	if err != nil {
		return kernels.Tensor{}, fmt.Errorf("cuda: FromHost %s(%d, %d): %w", dt, rows, cols, err)
	}
	b.quantW = b.quantW || dt.Quantized()
	return kernels.Tensor{DType: dt, Rows: rows, Cols: cols, Buf: d}, nil
}

// Upload copies src, exactly dst.Bytes() long, into dst.
func (b *Backend) Upload(dst kernels.Tensor, src []byte) error {
	d, p, err := b.resolve(dst)
	if err != nil {
		return fmt.Errorf("cuda: Upload: %w", err)
	}
	if len(src) != dst.Bytes() {
		return fmt.Errorf("cuda: Upload: %v holds %d bytes, source has %d", dst, dst.Bytes(), len(src))
	}
	if b.cap != nil {
		return errors.New("cuda: Upload during graph capture (stage inputs through the ops instead)")
	}
	d.gen++
	if err := b.g.htod(p, src); err != nil {
		return fmt.Errorf("cuda: Upload: %w", err)
	}
	return nil
}

// Download copies src into dst, exactly src.Bytes() long, after the queued
// work: the one point where a step waits for the device.
func (b *Backend) Download(dst []byte, src kernels.Tensor) error {
	_, p, err := b.resolve(src)
	if err != nil {
		return fmt.Errorf("cuda: Download: %w", err)
	}
	if len(dst) != src.Bytes() {
		return fmt.Errorf("cuda: Download: %v holds %d bytes, destination has %d", src, src.Bytes(), len(dst))
	}
	if b.cap != nil {
		return errors.New("cuda: Download during graph capture")
	}
	if err := b.g.dtoh(dst, p); err != nil {
		return fmt.Errorf("cuda: Download: %w", err)
	}
	return nil
}

// AllocKV allocates a zeroed paged KV cache of spec.DType (F16, BF16, F32).
func (b *Backend) AllocKV(spec kernels.KVSpec) (*kernels.KVCache, error) {
	if spec.NumLayers <= 0 || spec.NumBlocks <= 0 || spec.BlockSize <= 0 || spec.NumKVHeads <= 0 || spec.HeadDim <= 0 {
		return nil, fmt.Errorf("cuda: AllocKV: every size must be positive: %+v", spec)
	}
	if !isFloat(spec.DType) {
		return nil, fmt.Errorf("cuda: AllocKV: cache type %s is not F16, BF16 or F32", spec.DType)
	}
	if spec.NumBlocks > maxAlloc/spec.BlockSize || spec.Bytes() > maxAlloc {
		return nil, fmt.Errorf("cuda: AllocKV: %d blocks of %d slots is too many", spec.NumBlocks, spec.BlockSize)
	}
	c := &kernels.KVCache{Spec: spec}
	width := spec.NumKVHeads * spec.HeadDim
	for l := 0; l < spec.NumLayers; l++ {
		for _, dst := range []*[]kernels.Tensor{&c.K, &c.V} {
			t, err := b.Alloc(spec.DType, spec.Slots(), width)
			if err != nil {
				return nil, fmt.Errorf("cuda: AllocKV layer %d: %w", l, err)
			}
			*dst = append(*dst, t)
		}
	}
	return c, nil
}

// Sync waits for the queued work and returns the first error since the
// last Sync: a failed launch, or a fault of a kernel.
func (b *Backend) Sync() error {
	if b.closed {
		return errors.New("cuda: Sync after Close")
	}
	if b.cap != nil {
		return errors.New("cuda: Sync during graph capture")
	}
	err := b.g.sync()
	if b.err != nil {
		err = b.err
	}
	b.err = nil
	if err != nil {
		return fmt.Errorf("cuda: %w", err)
	}
	return nil
}

// Close waits for the device and frees every allocation of the backend.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	errs := []error{b.g.sync()}
	for gr := range b.graphs {
		errs = append(errs, gr.Close())
	}
	b.closed = true
	for d := range b.bufs {
		errs = append(errs, b.g.free(d.ptr))
	}
	b.bufs = nil
	errs = append(errs, b.scr.free(b.g))
	for _, p := range b.retired {
		errs = append(errs, b.g.free(p))
	}
	if b.st != nil {
		errs = append(errs, b.st.free())
	}
	errs = append(errs, b.g.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cuda: Close: %w", err)
	}
	return nil
}

// resolve returns t's buffer and the device address of its first byte.
func (b *Backend) resolve(t kernels.Tensor) (*devBuf, uint64, error) {
	if b.closed {
		return nil, 0, errors.New("backend is closed")
	}
	d, ok := t.Buf.(*devBuf)
	if !ok || d == nil {
		return nil, 0, fmt.Errorf("tensor %v is not a cuda tensor (buffer %T)", t, t.Buf)
	}
	if _, live := b.bufs[d]; !live {
		return nil, 0, fmt.Errorf("tensor %v belongs to another backend or was freed", t)
	}
	if !t.DType.Known() || t.Rows < 0 || t.Cols < 0 {
		return nil, 0, fmt.Errorf("tensor %v has an invalid shape", t)
	}
	if n := t.Bytes(); t.Off < 0 || t.Off > d.size || n > d.size-t.Off {
		return nil, 0, fmt.Errorf("view %v at offset %d overruns its %d-byte buffer", t, t.Off, d.size)
	}
	return d, d.ptr + uint64(t.Off), nil
}

// isFloat: see kernels.DType.Float.
func isFloat(dt kernels.DType) bool { return dt.Float() }

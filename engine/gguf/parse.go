package gguf

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"sort"
)

const (
	magic            = "GGUF"
	defaultAlignment = 32
	// maxDims is ggml's GGML_MAX_DIMS; llama.cpp rejects more.
	maxDims = 4
	// minKVBytes and minTensorBytes are the smallest encodings of one
	// key/value (empty key, type, one-byte value) and one tensor info
	// (empty name, n_dims 0, type, offset).
	minKVBytes     = 8 + 4 + 1
	minTensorBytes = 8 + 4 + 4 + 8
	// AlignmentKey names the metadata key that overrides the alignment.
	AlignmentKey = "general.alignment"
)

// ErrV1 is returned (wrapped) for GGUF version 1 files.
var ErrV1 = errors.New("GGUF v1 is not supported (it stores 32-bit counts); convert the file to v3")

// Parse reads a GGUF file held in data. The File keeps data (tensor bytes
// are not copied): data must not change while the File is in use.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	return f, nil
}

// parse does Parse's work; its errors lack the package prefix so Open can
// put the path after it.
func parse(data []byte) (*File, error) {
	d := &decoder{buf: data}
	f := &File{data: data}
	nTensors, nKV, err := f.header(d)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := f.readKV(d, nKV); err != nil {
		return nil, err
	}
	if err := f.setAlignment(); err != nil {
		return nil, err
	}
	if err := f.readTensors(d, nTensors); err != nil {
		return nil, err
	}
	f.DataOffset = alignUp(int64(d.pos), int64(f.Alignment))
	if err := f.checkLayout(); err != nil {
		return nil, err
	}
	return f, nil
}

// header reads magic, version and the two counts.
func (f *File) header(d *decoder) (nTensors, nKV uint64, err error) {
	m, err := d.take(4)
	if err != nil {
		return 0, 0, fmt.Errorf("file of %d bytes is too short for a GGUF header", len(d.buf))
	}
	if string(m) != magic {
		return 0, 0, fmt.Errorf("not a GGUF file: magic %q, want %q", m, magic)
	}
	if f.Version, err = d.u32(); err != nil {
		return 0, 0, fmt.Errorf("version: %w", err)
	}
	if err := checkVersion(f.Version); err != nil {
		return 0, 0, err
	}
	if nTensors, err = d.u64(); err != nil {
		return 0, 0, fmt.Errorf("tensor count: %w", err)
	}
	if nKV, err = d.u64(); err != nil {
		return 0, 0, fmt.Errorf("key/value count: %w", err)
	}
	if err := d.checkCount("key/value count", nKV, minKVBytes); err != nil {
		return 0, 0, err
	}
	if err := d.checkCount("tensor count", nTensors, minTensorBytes); err != nil {
		return 0, 0, err
	}
	return nTensors, nKV, nil
}

func checkVersion(v uint32) error {
	switch {
	case v == 2 || v == 3:
		return nil
	case v == 1:
		return ErrV1
	case bits.ReverseBytes32(v) >= 1 && bits.ReverseBytes32(v) <= 3:
		return fmt.Errorf("big-endian GGUF (version %d byte-swapped) is not supported", bits.ReverseBytes32(v))
	}
	return fmt.Errorf("unsupported GGUF version %d (want 2 or 3)", v)
}

// readKV reads n key/value pairs, rejecting duplicate keys.
func (f *File) readKV(d *decoder, n uint64) error {
	f.KV = make([]KV, 0, min(n, prealloc))
	f.keys = make(map[string]int, min(n, prealloc))
	for i := uint64(0); i < n; i++ {
		key, err := d.str()
		if err != nil {
			return fmt.Errorf("key %d: name: %w", i, err)
		}
		t, err := d.u32()
		if err != nil {
			return fmt.Errorf("key %d (%q): value type: %w", i, key, err)
		}
		v, err := d.value(ValueType(t), 0)
		if err != nil {
			return fmt.Errorf("key %d (%q): %w", i, key, err)
		}
		if j, dup := f.keys[key]; dup {
			return fmt.Errorf("key %d (%q) duplicates key %d", i, key, j)
		}
		f.keys[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Value: v})
	}
	return nil
}

// setAlignment applies general.alignment, which the spec defines as a
// uint32 power of two; any integer type is accepted for leniency.
func (f *File) setAlignment() error {
	f.Alignment = defaultAlignment
	v, ok := f.Lookup(AlignmentKey)
	if !ok {
		return nil
	}
	a, ok := v.AsUint()
	if !ok {
		return fmt.Errorf("%s has type %s, want uint32", AlignmentKey, v.Type())
	}
	if a == 0 || a&(a-1) != 0 || a > math.MaxUint32 {
		return fmt.Errorf("%s = %d is not a power of two that fits uint32", AlignmentKey, a)
	}
	f.Alignment = int(a)
	return nil
}

// readTensors reads the tensor table and checks each entry on its own;
// checkLayout then checks the entries against each other and the file.
func (f *File) readTensors(d *decoder, n uint64) error {
	if err := d.checkCount("tensor count", n, minTensorBytes); err != nil {
		return err
	}
	f.Tensors = make([]TensorInfo, 0, min(n, prealloc))
	f.names = make(map[string]int, min(n, prealloc))
	for i := uint64(0); i < n; i++ {
		t, err := readTensorInfo(d)
		if err == nil {
			err = t.check(f.Alignment)
		}
		if err != nil {
			return fmt.Errorf("tensor %d (%q): %w", i, t.Name, err)
		}
		if j, dup := f.names[t.Name]; dup {
			return fmt.Errorf("tensor %d (%q) duplicates tensor %d", i, t.Name, j)
		}
		f.names[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	return nil
}

func readTensorInfo(d *decoder) (TensorInfo, error) {
	var t TensorInfo
	var err error
	if t.Name, err = d.str(); err != nil {
		return t, fmt.Errorf("name: %w", err)
	}
	nd, err := d.u32()
	if err != nil {
		return t, fmt.Errorf("n_dims: %w", err)
	}
	if nd > maxDims {
		return t, fmt.Errorf("n_dims %d exceeds the maximum %d", nd, maxDims)
	}
	t.Dims = make([]uint64, nd)
	for j := range t.Dims {
		if t.Dims[j], err = d.u64(); err != nil {
			return t, fmt.Errorf("dim %d: %w", j, err)
		}
	}
	typ, err := d.u32()
	if err != nil {
		return t, fmt.Errorf("type: %w", err)
	}
	t.Type = Type(typ)
	if t.Offset, err = d.u64(); err != nil {
		return t, fmt.Errorf("offset: %w", err)
	}
	return t, nil
}

// check validates the type, the shape and the offset's alignment, and
// computes Size.
func (t *TensorInfo) check(alignment int) error {
	size, err := tensorSize(t.Type, t.Dims)
	if err != nil {
		return err
	}
	t.Size = size
	if t.Offset%uint64(alignment) != 0 {
		return fmt.Errorf("data offset %d is not a multiple of the alignment %d", t.Offset, alignment)
	}
	return nil
}

// tensorSize is the byte size of a tensor of type typ and shape dims,
// with every step checked for overflow.
func tensorSize(typ Type, dims []uint64) (int64, error) {
	if !typ.Known() {
		return 0, fmt.Errorf("unknown tensor type id %d", uint32(typ))
	}
	ne0 := uint64(1)
	if len(dims) > 0 {
		ne0 = dims[0]
	}
	bs, ts := uint64(typ.BlockSize()), uint64(typ.TypeSize())
	if ne0%bs != 0 {
		return 0, fmt.Errorf("row length %d (dims %v) is not a multiple of the %s block size %d", ne0, dims, typ, bs)
	}
	n := uint64(1)
	for _, x := range dims {
		hi, lo := bits.Mul64(n, x)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("element count of dims %v overflows int64", dims)
		}
		n = lo
	}
	hi, size := bits.Mul64(n/bs, ts)
	if hi != 0 || size > math.MaxInt64 {
		return 0, fmt.Errorf("byte size of %s dims %v overflows int64", typ, dims)
	}
	return int64(size), nil
}

// checkLayout proves every tensor's bytes lie inside the file and that no
// two tensors share bytes.
func (f *File) checkLayout() error {
	size := int64(len(f.data))
	order := make([]int, 0, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		start, end, ok := f.span(t)
		if !ok {
			return fmt.Errorf("tensor %q: data %s exceeds file size %d", t.Name, fmtRange(f.DataOffset, t.Offset, t.Size), size)
		}
		if end > start {
			order = append(order, i)
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		p, q := &f.Tensors[order[k-1]], &f.Tensors[order[k]]
		if p.Offset+uint64(p.Size) > q.Offset {
			return fmt.Errorf("tensors %q [%d, %d) and %q [%d, %d) overlap (offsets relative to the data section)",
				p.Name, p.Offset, p.Offset+uint64(p.Size), q.Name, q.Offset, q.Offset+uint64(q.Size))
		}
	}
	return nil
}

// span returns the absolute byte range of t and whether it lies inside
// the file; all arithmetic is done where it cannot overflow.
func (f *File) span(t *TensorInfo) (start, end int64, ok bool) {
	size := int64(len(f.data))
	if t.Size < 0 || f.DataOffset > size || t.Offset > uint64(size-f.DataOffset) {
		return 0, 0, false
	}
	start = f.DataOffset + int64(t.Offset)
	if t.Size > size-start {
		return 0, 0, false
	}
	return start, start + t.Size, true
}

// fmtRange prints the absolute range [base+off, base+off+size) exactly,
// even when a hostile offset makes it overflow 64 bits.
func fmtRange(base int64, off uint64, size int64) string {
	start := new(big.Int).Add(big.NewInt(base), new(big.Int).SetUint64(off))
	end := new(big.Int).Add(start, big.NewInt(size))
	return fmt.Sprintf("[%s, %s)", start, end)
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

package gguf

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeVersion is the GGUF version the Writer produces.
const writeVersion = 3

// maxWriteName is ggml's GGML_MAX_NAME less the terminating NUL: llama.cpp
// refuses longer tensor names, so the Writer does too.
const maxWriteName = 63

// DataFunc writes tensor i (described by t, with its final Offset) to w:
// exactly t.Size bytes. It is called once per tensor, in table order.
type DataFunc func(i int, t TensorInfo, w io.Writer) error

// Writer builds a GGUF v3 file: metadata and a tensor table are collected
// in memory, then WriteTo streams the header and asks a callback for each
// tensor's bytes, so files larger than memory can be written.
type Writer struct {
	kv        []KV
	keys      map[string]int
	tensors   []TensorInfo
	names     map[string]int
	alignment int
	err       error // the first error of Add, reported by Err and WriteTo
}

// NewWriter returns an empty Writer (alignment 32 unless general.alignment
// is added).
func NewWriter() *Writer {
	return &Writer{keys: map[string]int{}, names: map[string]int{}, alignment: defaultAlignment}
}

// Add sets key to v. Adding a key again replaces its value in place, so
// the key keeps its first position. An invalid value (see ArrayValue) or a
// general.alignment that is not a uint32 power of two makes the Writer
// fail: Err and WriteTo report the first such error.
func (w *Writer) Add(key string, v Value) {
	if err := w.checkKV(key, v); err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("gguf: key %q: %w", key, err)
		}
		return
	}
	if i, ok := w.keys[key]; ok {
		w.kv[i].Value = v
		return
	}
	w.keys[key] = len(w.kv)
	w.kv = append(w.kv, KV{Key: key, Value: v})
}

func (w *Writer) checkKV(key string, v Value) error {
	if err := checkValue(v, 0); err != nil {
		return err
	}
	if key != AlignmentKey {
		return nil
	}
	a, ok := v.AsUint()
	if v.Type() != Uint32 || !ok || a == 0 || a&(a-1) != 0 {
		return fmt.Errorf("alignment must be a uint32 power of two, got %s %s", v.Type(), v)
	}
	w.alignment = int(a)
	return nil
}

// Err returns the first error recorded by Add.
func (w *Writer) Err() error { return w.err }

// AddTensor appends a tensor to the table. Its row length dims[0] must be
// a positive multiple of typ's block size, every dim positive, and the
// name unique and at most 63 bytes.
func (w *Writer) AddTensor(name string, typ Type, dims []uint64) error {
	if err := checkWriteTensor(name, typ, dims); err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	if _, dup := w.names[name]; dup {
		return fmt.Errorf("gguf: tensor %q added twice", name)
	}
	size, err := tensorSize(typ, dims)
	if err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	w.names[name] = len(w.tensors)
	w.tensors = append(w.tensors, TensorInfo{Name: name, Type: typ, Dims: append([]uint64(nil), dims...), Size: size})
	return nil
}

func checkWriteTensor(name string, typ Type, dims []uint64) error {
	switch {
	case name == "":
		return fmt.Errorf("empty name")
	case len(name) > maxWriteName:
		return fmt.Errorf("name of %d bytes is longer than %d", len(name), maxWriteName)
	case len(dims) == 0 || len(dims) > maxDims:
		return fmt.Errorf("%d dims, want 1 to %d", len(dims), maxDims)
	case !typ.Known():
		return fmt.Errorf("unknown tensor type id %d", uint32(typ))
	}
	for i, d := range dims {
		if d == 0 {
			return fmt.Errorf("dim %d of %v is zero", i, dims)
		}
	}
	return nil
}

// Tensors returns the tensor table with the offsets WriteTo will use.
func (w *Writer) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(w.tensors))
	off := int64(0)
	for i, t := range w.tensors {
		t.Dims = append([]uint64(nil), t.Dims...)
		t.Offset = uint64(off)
		out[i] = t
		off = alignUp(off+t.Size, int64(w.alignment))
	}
	return out
}

// headerSize is the byte length of everything before the padding that
// precedes the data section.
func (w *Writer) headerSize(tensors []TensorInfo) int64 {
	c := &countingWriter{w: io.Discard}
	e := &encoder{w: bufio.NewWriter(c)}
	w.writeHeader(e, tensors)
	e.w.Flush()
	return c.n
}

// Size returns the length of the file WriteTo will write.
func (w *Writer) Size() (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	tensors := w.Tensors()
	n := w.headerSize(tensors)
	if len(tensors) > 0 {
		n = alignUp(n, int64(w.alignment))
	}
	for _, t := range tensors {
		n += alignUp(t.Size, int64(w.alignment))
	}
	return n, nil
}

func (w *Writer) writeHeader(e *encoder, tensors []TensorInfo) {
	e.w.WriteString(magic)
	e.u32(writeVersion)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(w.kv)))
	for _, kv := range w.kv {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.typ))
		e.value(kv.Value)
	}
	for _, t := range tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
	}
}

// WriteTo writes the file to out: header, metadata, tensor table and
// padding, then each tensor's bytes from data (nil data writes zeros),
// each padded to the alignment. It fails when a callback writes more or
// fewer bytes than the tensor's Size. It returns the bytes written.
func (w *Writer) WriteTo(out io.Writer, data DataFunc) (int64, error) {
	if w.err != nil {
		return 0, w.err
	}
	c := &countingWriter{w: out}
	e := &encoder{w: bufio.NewWriterSize(c, 64<<10)} // big tensor writes bypass the buffer
	tensors := w.Tensors()
	w.writeHeader(e, tensors)
	align := int64(w.alignment)
	if len(tensors) > 0 { // vocab-only files end with the table, as llama.cpp writes them
		written := c.n + int64(e.w.Buffered())
		e.zeros(alignUp(written, align) - written)
	}
	for i, t := range tensors {
		if err := writeTensor(e, i, t, data); err != nil {
			return c.n, err
		}
		e.zeros(alignUp(t.Size, align) - t.Size)
	}
	if err := e.w.Flush(); err != nil {
		return c.n, fmt.Errorf("gguf: write: %w", err)
	}
	return c.n, nil
}

func writeTensor(e *encoder, i int, t TensorInfo, data DataFunc) error {
	if data == nil {
		e.zeros(t.Size)
		return nil
	}
	tw := &tensorWriter{w: e.w, name: t.Name, left: t.Size}
	if err := data(i, t, tw); err != nil {
		return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
	}
	if tw.left != 0 {
		return fmt.Errorf("gguf: tensor %q: data callback wrote %d bytes, want %d", t.Name, t.Size-tw.left, t.Size)
	}
	return nil
}

// WriteFile writes the file to path through a temporary file in the same
// directory, renamed into place only when complete, so a failed or
// interrupted write never leaves a truncated model behind.
func WriteFile(path string, w *Writer, data DataFunc) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = w.WriteTo(tmp, data); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil { // CreateTemp's 0600 would hide the model from other users
		return fmt.Errorf("gguf: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

package gguf

import "fmt"

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of the file.
type TensorInfo struct {
	Name   string
	Type   Type
	Dims   []uint64 // GGUF order: Dims[0] (ne0) is contiguous
	Offset uint64   // relative to the data section
	Size   int64    // bytes, computed from Type and Dims
}

// Elements is the number of elements (the product of Dims; 1 for no dims).
func (t *TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= int64(d) // Parse proved the product fits int64
	}
	return n
}

// File is a parsed GGUF file. Its tables are plain data, to be treated as
// read-only (Lookup and Tensor index them); tensor bytes stay in the
// mapping (or the slice given to Parse) until Close.
type File struct {
	Version    uint32
	Alignment  int
	KV         []KV         // file order
	Tensors    []TensorInfo // file order
	DataOffset int64        // absolute offset of the tensor data section (past the end when there are no tensors)

	data  []byte         // the whole file
	unmap func() error   // releases data; nil when data is not ours
	keys  map[string]int // key -> index in KV
	names map[string]int // tensor name -> index in Tensors
}

// Open maps the file at path read-only and parses it. Close unmaps it.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	f.unmap = unmap
	return f, nil
}

// Close releases the mapping. Slices returned by TensorData must not be
// used afterwards; metadata values stay valid (they are copies).
func (f *File) Close() error {
	f.data = nil
	if f.unmap == nil {
		return nil
	}
	u := f.unmap
	f.unmap = nil
	return u()
}

// Lookup returns the value stored under key.
func (f *File) Lookup(key string) (Value, bool) {
	i, ok := f.keys[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// The typed accessors return ok=false when key is absent or its value has
// an incompatible type; see the Value methods of the same names.

func (f *File) String(key string) (string, bool) { v, _ := f.Lookup(key); return v.AsString() }
func (f *File) Uint(key string) (uint64, bool)   { v, _ := f.Lookup(key); return v.AsUint() }
func (f *File) Int(key string) (int64, bool)     { v, _ := f.Lookup(key); return v.AsInt() }
func (f *File) Float(key string) (float64, bool) { v, _ := f.Lookup(key); return v.AsFloat() }

func (f *File) Bool(key string) (bool, bool)          { v, _ := f.Lookup(key); return v.AsBool() }
func (f *File) Strings(key string) ([]string, bool)   { v, _ := f.Lookup(key); return v.AsStrings() }
func (f *File) Float32s(key string) ([]float32, bool) { v, _ := f.Lookup(key); return v.AsFloat32s() }
func (f *File) Int32s(key string) ([]int32, bool)     { v, _ := f.Lookup(key); return v.AsInt32s() }

// Architecture is general.architecture, or "" when absent.
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

// Tensor returns the table entry of the named tensor.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.names[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns t's bytes, a read-only sub-slice of the mapping with
// its capacity cut so an append cannot write past it. It returns nil after
// Close, or when t does not describe bytes of this file.
func (f *File) TensorData(t *TensorInfo) []byte {
	if t == nil || f.data == nil {
		return nil
	}
	start, end, ok := f.span(t)
	if !ok {
		return nil
	}
	return f.data[start:end:end]
}

// Size is the length of the file in bytes.
func (f *File) Size() int64 { return int64(len(f.data)) }

package safetensors

import (
	"fmt"
	"os"
)

// TensorInfo describes one tensor and holds a view of its bytes.
type TensorInfo struct {
	Name   string
	DType  DType
	Shape  []int64 // row-major, outermost first (HF Linear weights are [out, in])
	File   string  // the file it was read from (path, or Parse's name)
	Offset int64   // absolute byte offset of Data in File
	Data   []byte  // little-endian elements; read-only view, valid until Close
}

// File is one parsed safetensors file.
type File struct {
	name     string
	tensors  []TensorInfo // sorted by name
	index    map[string]int
	metadata map[string]string
	aliases  map[string]string // alias -> stored tensor name
	unmap    func() error      // nil for Parse
}

// Parse reads a safetensors image held in memory. name labels errors and
// TensorInfo.File. The tensors' Data alias data, which must stay unmodified
// while they are in use.
func Parse(data []byte, name string) (*File, error) {
	h, err := parseHeader(data, name)
	if err != nil {
		return nil, err
	}
	f := &File{name: name, tensors: h.tensors, metadata: h.metadata}
	f.index = make(map[string]int, len(h.tensors))
	for i, t := range h.tensors {
		f.index[t.Name] = i
	}
	f.aliases = findAliases(h.metadata, func(n string) bool { _, ok := f.index[n]; return ok })
	return f, nil
}

// OpenFile maps a safetensors file read-only and parses its header. The
// mapping is shared with the page cache, so opening a 10 GB file costs
// nothing until its tensors are touched.
func OpenFile(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fd.Close() // the mapping outlives the descriptor
	st, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	if st.Size() < 8 {
		return nil, fmt.Errorf("safetensors: %s: %d bytes is too short for the 8-byte header length", path, st.Size())
	}
	data, unmap, err := mapFile(fd, st.Size())
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: map: %w", path, err)
	}
	f, err := Parse(data, path)
	if err != nil {
		unmap()
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Name is the path (or Parse's name) of the file.
func (f *File) Name() string { return f.name }

// Tensors returns the stored tensors sorted by name. The slice is a copy;
// the Data views are shared.
func (f *File) Tensors() []TensorInfo { return cloneInfos(f.tensors) }

// Tensor looks a tensor up by name, following __metadata__ aliases; an
// alias yields the stored tensor (its Name is the stored name).
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		if i, ok = f.index[f.aliases[name]]; !ok {
			return nil, false
		}
	}
	t := cloneInfo(f.tensors[i])
	return &t, true
}

// Metadata returns a copy of the header's __metadata__ (empty, never nil).
func (f *File) Metadata() map[string]string { return cloneMap(f.metadata) }

// Aliases returns the alias -> stored-name pairs found in __metadata__.
func (f *File) Aliases() map[string]string { return cloneMap(f.aliases) }

// Close unmaps the file; every Data view obtained from it becomes invalid.
// Closing twice is harmless.
func (f *File) Close() error {
	f.tensors, f.index, f.aliases = nil, nil, nil
	if f.unmap == nil {
		return nil
	}
	u := f.unmap
	f.unmap = nil
	if err := u(); err != nil {
		return fmt.Errorf("safetensors: %s: unmap: %w", f.name, err)
	}
	return nil
}

// findAliases picks the metadata pairs that name a missing tensor and a
// stored one, which is how safetensors records tensors it de-duplicated
// (tied embeddings) when saving.
func findAliases(meta map[string]string, stored func(string) bool) map[string]string {
	out := map[string]string{}
	for k, v := range meta {
		if k != "" && !stored(k) && stored(v) {
			out[k] = v
		}
	}
	return out
}

func cloneInfo(t TensorInfo) TensorInfo {
	t.Shape = append([]int64(nil), t.Shape...)
	return t
}

func cloneInfos(ts []TensorInfo) []TensorInfo {
	out := make([]TensorInfo, len(ts))
	for i, t := range ts {
		out[i] = cloneInfo(t)
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

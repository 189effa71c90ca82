package model

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"spillway/engine/tokenizer"
	"spillway/kernels"
)

// Tensor is one weight in Spillway's canonical layout: GGUF names
// ("blk.3.attn_q.weight") and GGUF row order (Q/K rows permuted for
// adjacent-pair RoPE in llama files), as the 2-D kernel view (Rows, Cols)
// with Cols contiguous. A 1-D tensor (a norm) is (1, n).
type Tensor struct {
	Name  string
	DType kernels.DType
	Rows  int
	Cols  int
	Data  []byte // Rows × DType.RowBytes(Cols) bytes; may alias an mmapped file
}

// Bytes is the size of the tensor's data.
func (t *Tensor) Bytes() int64 { return int64(t.Rows) * int64(t.DType.RowBytes(t.Cols)) }

// Description is a model as Spillway sees it, independent of the file
// format it came from: a GGUF file and its HF safetensors twin load into
// equal Descriptions (same config, same tensor names, shapes, types and bytes).
type Description struct {
	Format       string // "gguf" or "safetensors"
	Path         string
	Config       Config
	Tensors      []Tensor // sorted by name
	Tokenizer    *tokenizer.Tokenizer
	ChatTemplate string // Jinja source from the model, "" if none
	BOSText      string // text of the BOS/EOS tokens, for chat templates
	EOSText      string

	index   map[string]int
	closers []io.Closer
}

// Tensor returns the named tensor, or nil.
func (d *Description) Tensor(name string) *Tensor {
	if i, ok := d.index[name]; ok {
		return &d.Tensors[i]
	}
	return nil
}

// Close releases the file mappings behind the tensors' Data.
func (d *Description) Close() error {
	var errs []error
	for _, c := range d.closers {
		errs = append(errs, c.Close())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// WeightBytes is the total size of all tensors.
func (d *Description) WeightBytes() int64 {
	var n int64
	for i := range d.Tensors {
		n += d.Tensors[i].Bytes()
	}
	return n
}

func (d *Description) addTensor(t Tensor) error {
	if d.index == nil {
		d.index = map[string]int{}
	}
	if _, dup := d.index[t.Name]; dup {
		return fmt.Errorf("model: tensor %q appears twice", t.Name)
	}
	if err := t.DType.CheckRow(t.Cols); err != nil {
		return fmt.Errorf("model: tensor %q: %w", t.Name, err)
	}
	if int64(len(t.Data)) != t.Bytes() {
		return fmt.Errorf("model: tensor %q: %d bytes of data for %s (%d, %d), want %d",
			t.Name, len(t.Data), t.DType, t.Rows, t.Cols, t.Bytes())
	}
	d.index[t.Name] = len(d.Tensors)
	d.Tensors = append(d.Tensors, t)
	return nil
}

func (d *Description) sortTensors() {
	sort.Slice(d.Tensors, func(i, j int) bool { return d.Tensors[i].Name < d.Tensors[j].Name })
	for i := range d.Tensors {
		d.index[d.Tensors[i].Name] = i
	}
}

// Load reads a model from a GGUF file or a Hugging Face model directory
// (config.json + safetensors + tokenizer.json).
func Load(path string) (*Description, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if st.IsDir() {
		return LoadHF(path)
	}
	return LoadGGUF(path)
}

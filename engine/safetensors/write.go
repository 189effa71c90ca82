package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"unicode/utf8"
)

// Write writes a safetensors file: the header (metadata first, then the
// tensors in the order given, padded with spaces to a multiple of 8 bytes so
// the data area is 8-aligned) and each tensor's Data back to back. It
// checks what Parse checks, so a file it writes always parses.
func Write(w io.Writer, metadata map[string]string, tensors ...TensorInfo) error {
	hdr, err := buildHeader(metadata, tensors)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes a safetensors file at path (see Write).
func WriteFile(path string, metadata map[string]string, tensors ...TensorInfo) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = Write(bw, metadata, tensors...)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func buildHeader(metadata map[string]string, tensors []TensorInfo) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !utf8.ValidString(k) || !utf8.ValidString(metadata[k]) {
				return nil, fmt.Errorf("safetensors: write: metadata %q is not valid UTF-8", k)
			}
		}
		b.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(&b, k)
			b.WriteByte(':')
			writeJSON(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	seen := map[string]bool{}
	var off uint64
	for i, t := range tensors {
		if err := checkWritable(t, seen); err != nil {
			return nil, err
		}
		if i > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, t.Name)
		fmt.Fprintf(&b, `:{"dtype":"%s","shape":`, t.DType)
		writeJSON(&b, t.Shape)
		end := off + uint64(len(t.Data))
		fmt.Fprintf(&b, `,"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes(), nil
}

// checkWritable refuses a tensor whose Data disagrees with its shape, or a
// name that is empty, reserved or repeated.
func checkWritable(t TensorInfo, seen map[string]bool) error {
	switch {
	case t.Name == "" || t.Name == metadataKey || !utf8.ValidString(t.Name):
		return fmt.Errorf("safetensors: write: bad tensor name %q", t.Name)
	case seen[t.Name]:
		return fmt.Errorf("safetensors: write: duplicate tensor %q", t.Name)
	case !t.DType.Known():
		return fmt.Errorf("safetensors: write: tensor %q: unsupported dtype %q", t.Name, t.DType)
	}
	seen[t.Name] = true
	if t.Shape == nil {
		t.Shape = []int64{} // a scalar; JSON needs [] rather than null
	}
	size, err := byteSize(t.DType, t.Shape, uint64(len(t.Data)))
	if err != nil || size != uint64(len(t.Data)) {
		return fmt.Errorf("safetensors: write: tensor %q: %s %v does not match its %d data bytes", t.Name, t.DType, t.Shape, len(t.Data))
	}
	return nil
}

// writeJSON marshals a value that cannot fail to marshal (strings, int
// slices); a nil slice is written as [].
func writeJSON(b *bytes.Buffer, v any) {
	if s, ok := v.([]int64); ok && s == nil {
		v = []int64{}
	}
	j, _ := json.Marshal(v)
	b.Write(j)
}

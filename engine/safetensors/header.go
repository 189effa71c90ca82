package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize caps the JSON header, as the reference implementation
// does: a real header is kilobytes to a few MB even for large models.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding free-form string pairs.
const metadataKey = "__metadata__"

// headerEntry is one tensor's JSON record. Pointers tell "absent" from
// "zero" so a missing field is an error rather than a scalar at offset 0.
type headerEntry struct {
	DType   *string   `json:"dtype"`
	Shape   *[]int64  `json:"shape"`
	Offsets *[]uint64 `json:"data_offsets"`
}

// parsedHeader is the checked content of a header.
type parsedHeader struct {
	dataStart int               // absolute offset of the data area
	tensors   []TensorInfo      // sorted by name, Data set
	metadata  map[string]string // never nil
}

// parseHeader checks and decodes the header of a safetensors image. name
// labels errors. The returned Data slices alias data.
func parseHeader(data []byte, name string) (*parsedHeader, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: "+format, append([]any{name}, args...)...)
	}
	if len(data) < 8 {
		return nil, fail("%d bytes is too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	switch {
	case n > MaxHeaderSize:
		return nil, fail("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	case n > uint64(len(data)-8):
		return nil, fail("header length %d exceeds the %d bytes after the length field (truncated file?)", n, len(data)-8)
	case n < 2:
		return nil, fail("header length %d is too short for a JSON object", n)
	}
	hdr := data[8 : 8+n]
	if !utf8.Valid(hdr) {
		return nil, fail("header is not valid UTF-8")
	}
	members, err := objectMembers(hdr)
	if err != nil {
		return nil, fail("header: %v", err)
	}
	p := &parsedHeader{dataStart: 8 + int(n), metadata: map[string]string{}}
	area := data[p.dataStart:]
	for _, m := range members {
		if m.key == metadataKey {
			if p.metadata, err = parseMetadata(m.value); err != nil {
				return nil, fail("%s: %v", metadataKey, err)
			}
			continue
		}
		t, err := parseEntry(m.key, m.value, area)
		if err != nil {
			return nil, fail("tensor %q: %v", m.key, err)
		}
		t.File = name
		t.Offset += int64(p.dataStart)
		p.tensors = append(p.tensors, t)
	}
	if err := checkOverlaps(p.tensors); err != nil {
		return nil, fail("%v", err)
	}
	sort.Slice(p.tensors, func(i, j int) bool { return p.tensors[i].Name < p.tensors[j].Name })
	return p, nil
}

// parseMetadata decodes __metadata__: string values only (null means none).
func parseMetadata(v json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	if isNull(v) {
		return out, nil
	}
	members, err := objectMembers(v)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		var s string
		if err := json.Unmarshal(m.value, &s); err != nil {
			return nil, fmt.Errorf("value of %q is not a string", m.key)
		}
		out[m.key] = s
	}
	return out, nil
}

// parseEntry checks one tensor record against the data area and returns it
// with Data set to its bytes.
func parseEntry(name string, v json.RawMessage, area []byte) (TensorInfo, error) {
	var e headerEntry
	if name == "" {
		return TensorInfo{}, fmt.Errorf("empty tensor name")
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return TensorInfo{}, fmt.Errorf("bad record: %v", jsonErr(err))
	}
	if e.DType == nil || e.Shape == nil || e.Offsets == nil {
		return TensorInfo{}, fmt.Errorf("record needs dtype, shape and data_offsets")
	}
	dt := DType(*e.DType)
	if !dt.Known() {
		return TensorInfo{}, fmt.Errorf("unsupported dtype %q", *e.DType)
	}
	offs := *e.Offsets
	if len(offs) != 2 {
		return TensorInfo{}, fmt.Errorf("data_offsets has %d values, want [begin, end]", len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin > end || end > uint64(len(area)) {
		return TensorInfo{}, fmt.Errorf("data_offsets [%d, %d] outside the %d-byte data area", begin, end, len(area))
	}
	size, err := byteSize(dt, *e.Shape, uint64(len(area)))
	if err != nil {
		return TensorInfo{}, err
	}
	if size != end-begin {
		return TensorInfo{}, fmt.Errorf("data_offsets [%d, %d] hold %d bytes, but %s %v needs %d", begin, end, end-begin, dt, *e.Shape, size)
	}
	shape := append([]int64{}, *e.Shape...)
	return TensorInfo{Name: name, DType: dt, Shape: shape, Offset: int64(begin), Data: area[begin:end:end]}, nil
}

// byteSize is size(dt)·product(shape). It refuses negative dims and any
// product above limit, checking each partial product before it grows so
// nothing can overflow. An empty dim makes the tensor empty whatever the
// others say.
func byteSize(dt DType, shape []int64, limit uint64) (uint64, error) {
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("dimension %d of shape %v is negative", i, shape)
		}
	}
	for _, d := range shape {
		if d == 0 {
			return 0, nil
		}
	}
	total := uint64(dt.Size())
	for _, d := range shape {
		if uint64(d) > limit/total {
			return 0, fmt.Errorf("%s %v needs more than the %d-byte data area", dt, shape, limit)
		}
		total *= uint64(d)
	}
	return total, nil
}

// checkOverlaps rejects tensors sharing bytes. Empty tensors share nothing
// and may sit anywhere in bounds.
func checkOverlaps(ts []TensorInfo) error {
	type span struct {
		begin, end int64
		name       string
	}
	spans := make([]span, 0, len(ts))
	for _, t := range ts {
		if len(t.Data) == 0 {
			continue
		}
		spans = append(spans, span{t.Offset, t.Offset + int64(len(t.Data)), t.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].begin < spans[j].begin })
	for i := 1; i < len(spans); i++ {
		if spans[i].begin < spans[i-1].end {
			return fmt.Errorf("tensors %q (file bytes [%d, %d)) and %q (file bytes [%d, %d)) overlap",
				spans[i-1].name, spans[i-1].begin, spans[i-1].end, spans[i].name, spans[i].begin, spans[i].end)
		}
	}
	return nil
}

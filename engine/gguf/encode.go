package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// encoder writes little-endian GGUF primitives. Errors of the underlying
// bufio.Writer are sticky, so callers check once at the end.
type encoder struct {
	w   *bufio.Writer
	tmp [8]byte
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.tmp[:4], v)
	e.w.Write(e.tmp[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.tmp[:8], v)
	e.w.Write(e.tmp[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.w.WriteString(s)
}

// scalar writes the low fixedSize bytes of bits.
func (e *encoder) scalar(t ValueType, bits uint64) {
	binary.LittleEndian.PutUint64(e.tmp[:8], bits)
	e.w.Write(e.tmp[:t.fixedSize()])
}

// value writes v without its type tag (the tag precedes it in a KV pair,
// and is implied by the element type inside an array).
func (e *encoder) value(v Value) {
	switch v.typ {
	case String:
		e.str(v.str)
	case Array:
		e.u32(uint32(v.elem))
		e.u64(uint64(v.Len()))
		e.elems(v.arr)
	default:
		e.scalar(v.typ, v.bits)
	}
}

func (e *encoder) elems(arr any) {
	le := binary.LittleEndian
	switch s := arr.(type) {
	case []uint8:
		e.w.Write(s)
	case []int8:
		encodeEach(e, s, 1, func(b []byte, x int8) { b[0] = byte(x) })
	case []bool:
		encodeEach(e, s, 1, func(b []byte, x bool) { b[0] = boolByte(x) })
	case []uint16:
		encodeEach(e, s, 2, le.PutUint16)
	case []int16:
		encodeEach(e, s, 2, func(b []byte, x int16) { le.PutUint16(b, uint16(x)) })
	case []uint32:
		encodeEach(e, s, 4, le.PutUint32)
	case []int32:
		encodeEach(e, s, 4, func(b []byte, x int32) { le.PutUint32(b, uint32(x)) })
	case []float32:
		encodeEach(e, s, 4, func(b []byte, x float32) { le.PutUint32(b, math.Float32bits(x)) })
	case []uint64:
		encodeEach(e, s, 8, le.PutUint64)
	case []int64:
		encodeEach(e, s, 8, func(b []byte, x int64) { le.PutUint64(b, uint64(x)) })
	case []float64:
		encodeEach(e, s, 8, func(b []byte, x float64) { le.PutUint64(b, math.Float64bits(x)) })
	case []string:
		for _, x := range s {
			e.str(x)
		}
	case []Value:
		for _, x := range s {
			e.value(x)
		}
	}
}

func encodeEach[T any](e *encoder, s []T, size int, put func([]byte, T)) {
	for _, x := range s {
		put(e.tmp[:size], x)
		e.w.Write(e.tmp[:size])
	}
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// zeros writes n zero bytes.
func (e *encoder) zeros(n int64) {
	var z [4096]byte
	for n > 0 {
		k := min(n, int64(len(z)))
		e.w.Write(z[:k])
		n -= k
	}
}

// checkValue reports why v cannot be written; depth counts enclosing
// arrays, bounded like the reader's so every file written can be read.
func checkValue(v Value, depth int) error {
	switch {
	case !v.ok:
		return errors.New("the zero Value is not a value; use a constructor")
	case v.err != nil:
		return v.err
	case !v.typ.Known():
		return fmt.Errorf("unknown value type %d", uint32(v.typ))
	case v.typ != Array:
		return nil
	case depth+1 > maxDepth:
		return fmt.Errorf("arrays nested deeper than %d", maxDepth)
	}
	elems, nested := v.arr.([]Value)
	if !nested {
		return nil // typed slices are consistent by construction
	}
	for i, e := range elems {
		if e.typ != Array {
			return fmt.Errorf("array of arrays: element %d has type %s", i, e.typ)
		}
		if err := checkValue(e, depth+1); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	return nil
}

// countingWriter counts what reaches the destination, for WriteTo's result.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// tensorWriter is what a data callback writes one tensor through: it
// refuses bytes beyond the tensor's size so a buggy callback cannot shift
// every later tensor.
type tensorWriter struct {
	w    io.Writer
	name string
	left int64
}

func (t *tensorWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > t.left {
		return 0, fmt.Errorf("gguf: tensor %q: data callback wrote past the tensor's end (%d bytes too many)", t.name, int64(len(p))-t.left)
	}
	n, err := t.w.Write(p)
	t.left -= int64(n)
	return n, err
}

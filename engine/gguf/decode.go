package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// maxDepth bounds array nesting: recursion depth must not be chosen by the
// file. Real files never nest at all.
const maxDepth = 8

// prealloc bounds how many elements of a variable-size kind (strings,
// nested arrays, tensor infos) are reserved up front, so memory grows with
// what is actually parsed rather than with a count the file claims.
const prealloc = 1 << 16

// decoder reads little-endian GGUF primitives from buf; every read is
// bounds-checked and a short read is an error, never a panic.
type decoder struct {
	buf []byte
	pos int
}

func (d *decoder) remaining() int { return len(d.buf) - d.pos }

// take returns the next n bytes.
func (d *decoder) take(n uint64) ([]byte, error) {
	if n > uint64(d.remaining()) {
		return nil, fmt.Errorf("need %s bytes at offset %d, only %d remain", fmtCount(n), d.pos, d.remaining())
	}
	b := d.buf[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *decoder) u8() (uint8, error) {
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a u64 length and that many bytes, copied: strings must outlive
// the mapping.
func (d *decoder) str() (string, error) {
	b, err := d.strBytes()
	return string(b), err
}

// strBytes reads a u64 length and returns that many bytes, not copied.
func (d *decoder) strBytes() ([]byte, error) {
	n, err := d.u64()
	if err != nil {
		return nil, fmt.Errorf("string length: %w", err)
	}
	if n > uint64(d.remaining()) {
		return nil, fmt.Errorf("string length %s at offset %d exceeds remaining %d bytes", fmtCount(n), d.pos-8, d.remaining())
	}
	return d.take(n)
}

// checkCount fails when n elements of at least size bytes each cannot fit
// in what remains, before anything is allocated for them.
func (d *decoder) checkCount(what string, n uint64, size int) error {
	hi, lo := bits.Mul64(n, uint64(size))
	if hi != 0 || lo > uint64(d.remaining()) {
		return fmt.Errorf("%s %s at offset %d needs at least %d bytes each, only %d bytes remain", what, fmtCount(n), d.pos, size, d.remaining())
	}
	return nil
}

// value reads one value of type t; depth counts enclosing arrays.
func (d *decoder) value(t ValueType, depth int) (Value, error) {
	switch t {
	case String:
		s, err := d.str()
		return Value{ok: true, typ: String, str: s}, err
	case Array:
		return d.array(depth + 1)
	case Bool:
		b, err := d.u8()
		if err == nil && b > 1 {
			err = fmt.Errorf("bool byte %d at offset %d is neither 0 nor 1", b, d.pos-1)
		}
		return scalar(Bool, uint64(b)), err
	}
	n := t.fixedSize()
	if n == 0 {
		return Value{}, fmt.Errorf("unknown value type %d at offset %d", uint32(t), d.pos-4)
	}
	b, err := d.take(uint64(n))
	if err != nil {
		return Value{}, err
	}
	return scalar(t, scalarBits(t, b)), nil
}

// scalarBits decodes a fixed-size scalar, sign-extending signed integers
// so AsInt needs no per-type switch.
func scalarBits(t ValueType, b []byte) uint64 {
	switch t {
	case Uint8:
		return uint64(b[0])
	case Int8:
		return uint64(int64(int8(b[0])))
	case Uint16:
		return uint64(binary.LittleEndian.Uint16(b))
	case Int16:
		return uint64(int64(int16(binary.LittleEndian.Uint16(b))))
	case Uint32, Float32:
		return uint64(binary.LittleEndian.Uint32(b))
	case Int32:
		return uint64(int64(int32(binary.LittleEndian.Uint32(b))))
	}
	return binary.LittleEndian.Uint64(b) // Uint64, Int64, Float64
}

// array reads an element type, a count and the elements.
func (d *decoder) array(depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, fmt.Errorf("arrays nested deeper than %d at offset %d", maxDepth, d.pos)
	}
	et, err := d.u32()
	if err != nil {
		return Value{}, fmt.Errorf("array element type: %w", err)
	}
	elem := ValueType(et)
	if !elem.Known() {
		return Value{}, fmt.Errorf("unknown array element type %d at offset %d", et, d.pos-4)
	}
	n, err := d.u64()
	if err != nil {
		return Value{}, fmt.Errorf("array count: %w", err)
	}
	if err := d.checkCount("array of "+elem.String()+" count", n, elem.minSize()); err != nil {
		return Value{}, err
	}
	v := Value{ok: true, typ: Array, elem: elem}
	switch elem {
	case String:
		v.arr, err = d.strings(int(n))
	case Array:
		v.arr, err = d.arrays(int(n), depth)
	default:
		v.arr, err = d.fixedArray(elem, int(n))
	}
	return v, err
}

// strings reads n strings in three cheap passes: validate every length
// and sum them, copy all contents into one allocation, then cut the
// strings from it. A 128k-token vocabulary then costs two allocations,
// not 128k.
func (d *decoder) strings(n int) ([]string, error) {
	start, total := d.pos, 0
	for i := 0; i < n; i++ {
		b, err := d.strBytes()
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		total += len(b)
	}
	end := d.pos
	var blob strings.Builder
	blob.Grow(total)
	d.pos = start
	for d.pos < end {
		b, _ := d.strBytes() // validated above
		blob.Write(b)
	}
	all, at := blob.String(), 0
	out := make([]string, n) // every element was just proved present
	d.pos = start
	for i := range out {
		b, _ := d.strBytes()
		out[i] = all[at : at+len(b)]
		at += len(b)
	}
	return out, nil
}

func (d *decoder) arrays(n, depth int) ([]Value, error) {
	out := make([]Value, 0, min(n, prealloc))
	for i := 0; i < n; i++ {
		v, err := d.array(depth + 1)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// fixedArray decodes n scalars of type elem; checkCount has already
// proved the bytes are present, so the slice is sized exactly.
func (d *decoder) fixedArray(elem ValueType, n int) (any, error) {
	size := elem.fixedSize()
	start := d.pos
	b, err := d.take(uint64(n) * uint64(size))
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch elem {
	case Uint8:
		return append(make([]uint8, 0, len(b)), b...), nil
	case Int8:
		return decodeEach(b, 1, func(p []byte) int8 { return int8(p[0]) }), nil
	case Bool:
		for i, c := range b {
			if c > 1 {
				return nil, fmt.Errorf("element %d: bool byte %d at offset %d is neither 0 nor 1", i, c, start+i)
			}
		}
		return decodeEach(b, 1, func(p []byte) bool { return p[0] == 1 }), nil
	case Uint16:
		return decodeEach(b, 2, le.Uint16), nil
	case Int16:
		return decodeEach(b, 2, func(p []byte) int16 { return int16(le.Uint16(p)) }), nil
	case Uint32:
		return decodeEach(b, 4, le.Uint32), nil
	case Int32:
		return decodeEach(b, 4, func(p []byte) int32 { return int32(le.Uint32(p)) }), nil
	case Float32:
		return decodeEach(b, 4, func(p []byte) float32 { return math.Float32frombits(le.Uint32(p)) }), nil
	case Uint64:
		return decodeEach(b, 8, le.Uint64), nil
	case Int64:
		return decodeEach(b, 8, func(p []byte) int64 { return int64(le.Uint64(p)) }), nil
	case Float64:
		return decodeEach(b, 8, func(p []byte) float64 { return math.Float64frombits(le.Uint64(p)) }), nil
	}
	return nil, fmt.Errorf("array element type %s is not a fixed-size scalar", elem)
}

// decodeEach converts b, a run of size-byte little-endian scalars.
func decodeEach[T any](b []byte, size int, conv func([]byte) T) []T {
	out := make([]T, len(b)/size)
	for i := range out {
		out[i] = conv(b[i*size : i*size+size])
	}
	return out
}

// fmtCount prints a count the way a reader spots a hostile one: exact
// powers of two from 2^20 up as "2^k", anything else in decimal.
func fmtCount(n uint64) string {
	if n >= 1<<20 && n&(n-1) == 0 {
		return fmt.Sprintf("2^%d", bits.TrailingZeros64(n))
	}
	return fmt.Sprintf("%d", n)
}

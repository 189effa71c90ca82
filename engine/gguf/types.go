package gguf

import (
	"fmt"
	"strings"
)

// Type is a ggml tensor type id as stored in a GGUF tensor table. Its
// numeric values equal spillway/kernels.DType, so a conversion is a plain
// cast; this package keeps its own table because it imports std only.
type Type uint32

// The ggml tensor types. Ids 4, 5 (Q4_2, Q4_3) and 31–33, 36–38 (the
// repacked Q4_0_x_y / IQ4_NL_x_y layouts) were removed from ggml and are
// treated as unknown.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
	NVFP4   Type = 40
	Q1_0    Type = 41
)

// qkK is the super-block size of the k-quants and most i-quants.
const qkK = 256

type typeInfo struct {
	name      string
	blockSize int // elements per block
	typeSize  int // bytes per block
}

// typeTable is indexed by Type; a zero entry means "unknown". The byte
// sizes are written as sums of the block's fields so they can be checked
// against ggml's struct definitions by eye.
var typeTable = [...]typeInfo{
	F32:     {"F32", 1, 4},
	F16:     {"F16", 1, 2},
	Q4_0:    {"Q4_0", 32, 2 + 16},
	Q4_1:    {"Q4_1", 32, 2 + 2 + 16},
	Q5_0:    {"Q5_0", 32, 2 + 4 + 16},
	Q5_1:    {"Q5_1", 32, 2 + 2 + 4 + 16},
	Q8_0:    {"Q8_0", 32, 2 + 32},
	Q8_1:    {"Q8_1", 32, 2 + 2 + 32},
	Q2_K:    {"Q2_K", qkK, 2 + 2 + qkK/16 + qkK/4},
	Q3_K:    {"Q3_K", qkK, 2 + qkK/4 + qkK/8 + 12},
	Q4_K:    {"Q4_K", qkK, 2 + 2 + 12 + qkK/2},
	Q5_K:    {"Q5_K", qkK, 2 + 2 + 12 + qkK/8 + qkK/2},
	Q6_K:    {"Q6_K", qkK, 2 + qkK/2 + qkK/4 + qkK/16},
	Q8_K:    {"Q8_K", qkK, 4 + qkK + qkK/16*2},
	IQ2_XXS: {"IQ2_XXS", qkK, 2 + qkK/4},
	IQ2_XS:  {"IQ2_XS", qkK, 2 + qkK/4 + qkK/32},
	IQ3_XXS: {"IQ3_XXS", qkK, 2 + qkK/4 + qkK/8},
	IQ1_S:   {"IQ1_S", qkK, 2 + qkK/8 + qkK/16},
	IQ4_NL:  {"IQ4_NL", 32, 2 + 16},
	IQ3_S:   {"IQ3_S", qkK, 2 + qkK/4 + qkK/8 + qkK/32 + 4},
	IQ2_S:   {"IQ2_S", qkK, 2 + qkK/4 + qkK/16},
	IQ4_XS:  {"IQ4_XS", qkK, 2 + 2 + qkK/64 + qkK/2},
	I8:      {"I8", 1, 1},
	I16:     {"I16", 1, 2},
	I32:     {"I32", 1, 4},
	I64:     {"I64", 1, 8},
	F64:     {"F64", 1, 8},
	IQ1_M:   {"IQ1_M", qkK, qkK/8 + qkK/16 + qkK/32},
	BF16:    {"BF16", 1, 2},
	TQ1_0:   {"TQ1_0", qkK, 2 + 4*13},
	TQ2_0:   {"TQ2_0", qkK, 2 + 64},
	MXFP4:   {"MXFP4", 32, 1 + 16},
	NVFP4:   {"NVFP4", 64, 4 + 32},
	Q1_0:    {"Q1_0", 128, 2 + 16},
}

func (t Type) info() typeInfo {
	if uint64(t) < uint64(len(typeTable)) {
		return typeTable[t]
	}
	return typeInfo{}
}

// Known reports whether t has a layout in this package.
func (t Type) Known() bool { return t.info().blockSize != 0 }

// String returns ggml's name ("Q4_K"), or "Type(N)" for an unknown id.
func (t Type) String() string {
	if i := t.info(); i.blockSize != 0 {
		return i.name
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// BlockSize is the number of elements per block (1 for plain numbers, 0
// when t is unknown).
func (t Type) BlockSize() int { return t.info().blockSize }

// TypeSize is the number of bytes per block (0 when t is unknown).
func (t Type) TypeSize() int { return t.info().typeSize }

// Quantized reports whether t stores elements in multi-element blocks.
func (t Type) Quantized() bool { return t.BlockSize() > 1 }

// Types lists every known tensor type in id order.
func Types() []Type {
	var out []Type
	for i := range typeTable {
		if t := Type(i); t.Known() {
			out = append(out, t)
		}
	}
	return out
}

// ParseType maps a case-insensitive ggml type name ("q4_k") to its Type.
func ParseType(name string) (Type, error) {
	for _, t := range Types() {
		if strings.EqualFold(t.String(), name) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown tensor type name %q", name)
}

// ValueType is the type tag of a metadata value.
type ValueType uint32

// The metadata value types of the GGUF spec.
const (
	Uint8   ValueType = 0
	Int8    ValueType = 1
	Uint16  ValueType = 2
	Int16   ValueType = 3
	Uint32  ValueType = 4
	Int32   ValueType = 5
	Float32 ValueType = 6
	Bool    ValueType = 7
	String  ValueType = 8
	Array   ValueType = 9
	Uint64  ValueType = 10
	Int64   ValueType = 11
	Float64 ValueType = 12
)

var valueTypeNames = [...]string{
	Uint8: "uint8", Int8: "int8", Uint16: "uint16", Int16: "int16",
	Uint32: "uint32", Int32: "int32", Float32: "float32", Bool: "bool",
	String: "string", Array: "array", Uint64: "uint64", Int64: "int64",
	Float64: "float64",
}

// Known reports whether v is one of the thirteen value types of the spec.
func (v ValueType) Known() bool { return uint64(v) < uint64(len(valueTypeNames)) }

// String returns the spec's name ("uint32"), or "ValueType(N)".
func (v ValueType) String() string {
	if v.Known() {
		return valueTypeNames[v]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(v))
}

// fixedSize is the encoded size of a scalar of type v, or 0 for strings,
// arrays and unknown types.
func (v ValueType) fixedSize() int {
	switch v {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16:
		return 2
	case Uint32, Int32, Float32:
		return 4
	case Uint64, Int64, Float64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes one encoded value of type v can take; it
// bounds element counts against the bytes that remain in the file.
func (v ValueType) minSize() int {
	switch v {
	case String:
		return 8 // u64 length
	case Array:
		return 4 + 8 // element type + count
	}
	return v.fixedSize()
}

func (v ValueType) isInteger() bool {
	switch v {
	case Uint8, Int8, Uint16, Int16, Uint32, Int32, Uint64, Int64:
		return true
	}
	return false
}

func (v ValueType) isSigned() bool {
	return v == Int8 || v == Int16 || v == Int32 || v == Int64
}

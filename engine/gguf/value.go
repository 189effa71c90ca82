package gguf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value is one metadata value: a scalar, a string, or an array of values of
// one element type (arrays may nest). The zero Value is invalid: every
// accessor reports ok=false for it and the Writer rejects it. Build values
// with the constructors below.
//
// Arrays of scalars and strings are held as typed Go slices ([]float32,
// []string, ...) so a 128k-entry vocabulary costs one slice, not 128k
// Values; arrays of arrays are held as []Value.
type Value struct {
	ok   bool // false only for the zero Value
	typ  ValueType
	elem ValueType // element type when typ == Array
	bits uint64    // scalars: integer bits (sign-extended), float bits, or bool 0/1
	str  string
	arr  any   // typ == Array: a typed slice, see elemSlice
	err  error // a construction error the Writer reports
}

// Scalar constructors.

func Uint8Value(v uint8) Value     { return scalar(Uint8, uint64(v)) }
func Int8Value(v int8) Value       { return scalar(Int8, uint64(int64(v))) }
func Uint16Value(v uint16) Value   { return scalar(Uint16, uint64(v)) }
func Int16Value(v int16) Value     { return scalar(Int16, uint64(int64(v))) }
func Uint32Value(v uint32) Value   { return scalar(Uint32, uint64(v)) }
func Int32Value(v int32) Value     { return scalar(Int32, uint64(int64(v))) }
func Uint64Value(v uint64) Value   { return scalar(Uint64, v) }
func Int64Value(v int64) Value     { return scalar(Int64, uint64(v)) }
func Float32Value(v float32) Value { return scalar(Float32, uint64(math.Float32bits(v))) }
func Float64Value(v float64) Value { return scalar(Float64, math.Float64bits(v)) }
func StringValue(v string) Value   { return Value{ok: true, typ: String, str: v} }

// BoolValue builds a bool value (encoded as one byte, 0 or 1).
func BoolValue(v bool) Value {
	if v {
		return scalar(Bool, 1)
	}
	return scalar(Bool, 0)
}

func scalar(t ValueType, bits uint64) Value { return Value{ok: true, typ: t, bits: bits} }

// Array constructors copy their argument, so the caller may reuse it.

func Uint8sValue(v []uint8) Value     { return typedArray(Uint8, v) }
func Int8sValue(v []int8) Value       { return typedArray(Int8, v) }
func Uint16sValue(v []uint16) Value   { return typedArray(Uint16, v) }
func Int16sValue(v []int16) Value     { return typedArray(Int16, v) }
func Uint32sValue(v []uint32) Value   { return typedArray(Uint32, v) }
func Int32sValue(v []int32) Value     { return typedArray(Int32, v) }
func Uint64sValue(v []uint64) Value   { return typedArray(Uint64, v) }
func Int64sValue(v []int64) Value     { return typedArray(Int64, v) }
func Float32sValue(v []float32) Value { return typedArray(Float32, v) }
func Float64sValue(v []float64) Value { return typedArray(Float64, v) }
func BoolsValue(v []bool) Value       { return typedArray(Bool, v) }
func StringsValue(v []string) Value   { return typedArray(String, v) }

func typedArray[T any](elem ValueType, v []T) Value {
	return Value{ok: true, typ: Array, elem: elem, arr: append(make([]T, 0, len(v)), v...)}
}

// ArrayValue builds an array whose elements all have type elem; elem is
// needed because an empty array still records its element type. Elements
// of another type make the Value invalid; the Writer reports that.
func ArrayValue(elem ValueType, elems ...Value) Value {
	if !elem.Known() {
		return Value{ok: true, typ: Array, elem: elem, err: fmt.Errorf("array element type %d is unknown", uint32(elem))}
	}
	for i, e := range elems {
		if !e.ok || e.typ != elem {
			return Value{ok: true, typ: Array, elem: elem, err: fmt.Errorf("array of %s: element %d has type %s", elem, i, e.typ)}
		}
		if e.err != nil {
			return Value{ok: true, typ: Array, elem: elem, err: fmt.Errorf("array element %d: %w", i, e.err)}
		}
	}
	if elem == Array {
		return Value{ok: true, typ: Array, elem: Array, arr: append([]Value{}, elems...)}
	}
	s := makeSlice(elem, len(elems))
	for i, e := range elems {
		setElem(s, i, e)
	}
	return Value{ok: true, typ: Array, elem: elem, arr: s}
}

// makeSlice returns a typed slice of n zero elements for a scalar or
// string element type.
func makeSlice(elem ValueType, n int) any {
	switch elem {
	case Uint8:
		return make([]uint8, n)
	case Int8:
		return make([]int8, n)
	case Uint16:
		return make([]uint16, n)
	case Int16:
		return make([]int16, n)
	case Uint32:
		return make([]uint32, n)
	case Int32:
		return make([]int32, n)
	case Uint64:
		return make([]uint64, n)
	case Int64:
		return make([]int64, n)
	case Float32:
		return make([]float32, n)
	case Float64:
		return make([]float64, n)
	case Bool:
		return make([]bool, n)
	case String:
		return make([]string, n)
	}
	return make([]Value, n)
}

// setElem stores scalar e (whose type matches the slice) at s[i].
func setElem(s any, i int, e Value) {
	switch s := s.(type) {
	case []uint8:
		s[i] = uint8(e.bits)
	case []int8:
		s[i] = int8(e.bits)
	case []uint16:
		s[i] = uint16(e.bits)
	case []int16:
		s[i] = int16(e.bits)
	case []uint32:
		s[i] = uint32(e.bits)
	case []int32:
		s[i] = int32(e.bits)
	case []uint64:
		s[i] = e.bits
	case []int64:
		s[i] = int64(e.bits)
	case []float32:
		s[i] = math.Float32frombits(uint32(e.bits))
	case []float64:
		s[i] = math.Float64frombits(e.bits)
	case []bool:
		s[i] = e.bits != 0
	case []string:
		s[i] = e.str
	case []Value:
		s[i] = e
	}
}

// Valid reports whether v was built by a constructor or the parser (the
// zero Value is not valid).
func (v Value) Valid() bool { return v.ok }

// Type is the value's type tag.
func (v Value) Type() ValueType { return v.typ }

// ElemType is the element type of an array (meaningless otherwise).
func (v Value) ElemType() ValueType { return v.elem }

// Len is the number of elements of an array, 0 for other values.
func (v Value) Len() int {
	switch s := v.arr.(type) {
	case []uint8:
		return len(s)
	case []int8:
		return len(s)
	case []uint16:
		return len(s)
	case []int16:
		return len(s)
	case []uint32:
		return len(s)
	case []int32:
		return len(s)
	case []uint64:
		return len(s)
	case []int64:
		return len(s)
	case []float32:
		return len(s)
	case []float64:
		return len(s)
	case []bool:
		return len(s)
	case []string:
		return len(s)
	case []Value:
		return len(s)
	}
	return 0
}

// Index returns element i of an array as a Value; it returns the zero
// Value and false when v is not an array or i is out of range.
func (v Value) Index(i int) (Value, bool) {
	if i < 0 || i >= v.Len() {
		return Value{}, false
	}
	switch s := v.arr.(type) {
	case []uint8:
		return Uint8Value(s[i]), true
	case []int8:
		return Int8Value(s[i]), true
	case []uint16:
		return Uint16Value(s[i]), true
	case []int16:
		return Int16Value(s[i]), true
	case []uint32:
		return Uint32Value(s[i]), true
	case []int32:
		return Int32Value(s[i]), true
	case []uint64:
		return Uint64Value(s[i]), true
	case []int64:
		return Int64Value(s[i]), true
	case []float32:
		return Float32Value(s[i]), true
	case []float64:
		return Float64Value(s[i]), true
	case []bool:
		return BoolValue(s[i]), true
	case []string:
		return StringValue(s[i]), true
	case []Value:
		return s[i], true
	}
	return Value{}, false
}

// AsUint returns an integer value that is non-negative.
func (v Value) AsUint() (uint64, bool) {
	if !v.ok || !v.typ.isInteger() || (v.typ.isSigned() && int64(v.bits) < 0) {
		return 0, false
	}
	return v.bits, true
}

// AsInt returns an integer value that fits int64.
func (v Value) AsInt() (int64, bool) {
	if !v.ok || !v.typ.isInteger() || (v.typ == Uint64 && v.bits > math.MaxInt64) {
		return 0, false
	}
	return int64(v.bits), true
}

// AsFloat returns a float or integer value as float64.
func (v Value) AsFloat() (float64, bool) {
	switch {
	case !v.ok:
		return 0, false
	case v.typ == Float32:
		return float64(math.Float32frombits(uint32(v.bits))), true
	case v.typ == Float64:
		return math.Float64frombits(v.bits), true
	case v.typ == Uint64:
		return float64(v.bits), true
	case v.typ.isInteger():
		return float64(int64(v.bits)), true
	}
	return 0, false
}

// AsBool returns a bool value.
func (v Value) AsBool() (bool, bool) { return v.bits != 0, v.ok && v.typ == Bool }

// AsString returns a string value.
func (v Value) AsString() (string, bool) { return v.str, v.ok && v.typ == String }

// AsStrings returns an array of strings. The slice is shared with v (and
// with the File it came from): do not modify it.
func (v Value) AsStrings() ([]string, bool) {
	s, ok := v.arr.([]string)
	return s, ok
}

// AsFloat32s returns a numeric array as float32s. A float32 array is
// returned shared (do not modify it); other numeric arrays are converted
// into a new slice.
func (v Value) AsFloat32s() ([]float32, bool) {
	if s, ok := v.arr.([]float32); ok {
		return s, true
	}
	if v.typ != Array || (!v.elem.isInteger() && v.elem != Float64) {
		return nil, false
	}
	out := make([]float32, v.Len())
	for i := range out {
		e, _ := v.Index(i)
		f, _ := e.AsFloat()
		out[i] = float32(f)
	}
	return out, true
}

// AsInt32s returns an integer array as int32s. An int32 array is returned
// shared (do not modify it); other integer arrays are converted into a new
// slice, and fail when an element does not fit int32.
func (v Value) AsInt32s() ([]int32, bool) {
	if s, ok := v.arr.([]int32); ok {
		return s, true
	}
	if v.typ != Array || !v.elem.isInteger() {
		return nil, false
	}
	out := make([]int32, v.Len())
	for i := range out {
		e, _ := v.Index(i)
		n, ok := e.AsInt()
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return nil, false
		}
		out[i] = int32(n)
	}
	return out, true
}

// displayElems and displayString bound what String prints, so printing a
// vocabulary stays one short line.
const (
	displayElems  = 6
	displayString = 96
)

// String formats the value for humans: numbers in Go syntax, strings
// quoted (long ones cut), arrays as "[type × n: e0, e1, ...]".
func (v Value) String() string {
	switch {
	case !v.ok:
		return "<invalid>"
	case v.typ == String:
		s := v.str
		if len(s) <= displayString {
			return strconv.Quote(s)
		}
		cut := displayString
		for cut > 0 && !utf8.RuneStart(s[cut]) { // do not split a character
			cut--
		}
		return strconv.Quote(s[:cut]) + fmt.Sprintf("…(%d bytes)", len(s))
	case v.typ == Array:
		var b strings.Builder
		fmt.Fprintf(&b, "[%s × %d", v.elem, v.Len())
		for i := 0; i < v.Len() && i < displayElems; i++ {
			e, _ := v.Index(i)
			if i == 0 {
				b.WriteString(": ")
			} else {
				b.WriteString(", ")
			}
			b.WriteString(e.String())
		}
		if v.Len() > displayElems {
			b.WriteString(", …")
		}
		b.WriteString("]")
		return b.String()
	case v.typ == Bool:
		return strconv.FormatBool(v.bits != 0)
	case v.typ == Float32:
		return strconv.FormatFloat(float64(math.Float32frombits(uint32(v.bits))), 'g', -1, 32)
	case v.typ == Float64:
		return strconv.FormatFloat(math.Float64frombits(v.bits), 'g', -1, 64)
	case v.typ == Uint64 || (v.typ.isInteger() && !v.typ.isSigned()):
		return strconv.FormatUint(v.bits, 10)
	case v.typ.isInteger():
		return strconv.FormatInt(int64(v.bits), 10)
	}
	return fmt.Sprintf("<invalid %s>", v.typ)
}

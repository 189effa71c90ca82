package chat

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// filterToJSON is transformers' tojson: json.dumps(x, ensure_ascii=False,
// indent=None, separators=None, sort_keys=False). gonja's own filter uses
// Go's encoding/json, whose separators and HTML escaping differ from
// Python's, and Llama 3.1 prints tool results through it.
func filterToJSON(e *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	enc := pyEncoder{itemSep: ", ", keySep: ": ", limit: baseValueBytes}
	if st, err := stateOf(e.Environment.Context); err == nil {
		enc.limit = st.maxValue
	}
	for k, v := range params.KwArgs {
		switch k {
		case "indent":
			if !v.IsNil() {
				if !v.IsInteger() || v.Integer() < 0 || v.Integer() > maxWidth {
					return exec.AsValue(fmt.Errorf("tojson: indent must be an integer in [0, %d]", maxWidth))
				}
				enc.indent = strings.Repeat(" ", v.Integer())
				enc.pretty = true
				enc.itemSep = ","
			}
		case "ensure_ascii":
			enc.ascii = v.IsTrue()
		case "sort_keys":
			// Go maps carry no order, so keys are always sorted.
		case "separators":
			if !v.IsNil() {
				if v.Len() != 2 {
					return exec.AsValue(fmt.Errorf("tojson: separators must be a pair of strings"))
				}
				enc.itemSep, enc.keySep = v.Index(0).String(), v.Index(1).String()
			}
		default:
			return exec.AsValue(fmt.Errorf("tojson: unexpected keyword argument %q", k))
		}
	}
	if len(params.Args) > 0 {
		return exec.AsValue(fmt.Errorf("tojson takes keyword arguments only"))
	}
	var b strings.Builder
	if err := enc.encode(&b, in.Interface(), 0); err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return failValue(e, le)
		}
		return exec.AsValue(fmt.Errorf("tojson: %w", err))
	}
	return exec.AsSafeValue(b.String())
}

// pyEncoder writes values as Python's json module does.
type pyEncoder struct {
	itemSep, keySep string
	indent          string
	pretty          bool // indent given: newline before each item
	ascii           bool
	limit           int // output bytes
}

// maxJSONDepth stops self-referencing containers (a namespace holding
// itself) the way Python's "Circular reference detected" does.
const maxJSONDepth = 200

func (enc *pyEncoder) encode(b *strings.Builder, x any, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("value nested more than %d deep (circular?)", maxJSONDepth)
	}
	if b.Len() > enc.limit {
		return &LimitError{What: fmt.Sprintf("tojson output over %d bytes", enc.limit)}
	}
	switch t := x.(type) {
	case nil:
		b.WriteString("null")
		return nil
	case *exec.Value: // gonja keeps wrapped values inside namespaces and lists
		if t == nil {
			b.WriteString("null")
			return nil
		}
		return enc.encode(b, t.Interface(), depth)
	case *exec.Dict: // ordered, from dict literals
		return enc.pairs(b, t, depth)
	case exec.Dict:
		return enc.pairs(b, &t, depth)
	}
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		b.WriteString(pyFloat(v.Float()))
	case reflect.String:
		enc.str(b, v.String())
	case reflect.Slice, reflect.Array:
		return enc.list(b, v, depth)
	case reflect.Map:
		return enc.dict(b, v, depth)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("null")
			return nil
		}
		return enc.encode(b, v.Elem().Interface(), depth)
	default:
		return fmt.Errorf("object of type %s is not JSON serializable", v.Type())
	}
	return nil
}

func (enc *pyEncoder) newline(b *strings.Builder, depth int) {
	if enc.pretty {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(enc.indent, depth))
	}
}

func (enc *pyEncoder) list(b *strings.Builder, v reflect.Value, depth int) error {
	if v.Len() == 0 {
		b.WriteString("[]")
		return nil
	}
	b.WriteByte('[')
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			b.WriteString(enc.itemSep)
		}
		enc.newline(b, depth+1)
		if err := enc.encode(b, v.Index(i).Interface(), depth+1); err != nil {
			return err
		}
	}
	enc.newline(b, depth)
	b.WriteByte(']')
	return nil
}

func (enc *pyEncoder) dict(b *strings.Builder, v reflect.Value, depth int) error {
	if v.Len() == 0 {
		b.WriteString("{}")
		return nil
	}
	keys := make([]string, 0, v.Len()) // (len,)
	vals := map[string]reflect.Value{}
	iter := v.MapRange()
	for iter.Next() {
		k := fmt.Sprint(iter.Key().Interface())
		keys = append(keys, k)
		vals[k] = iter.Value()
	}
	sort.Strings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(enc.itemSep)
		}
		enc.newline(b, depth+1)
		enc.str(b, k)
		b.WriteString(enc.keySep)
		if err := enc.encode(b, vals[k].Interface(), depth+1); err != nil {
			return err
		}
	}
	enc.newline(b, depth)
	b.WriteByte('}')
	return nil
}

// pairs writes an ordered gonja dict in its own order, as Python keeps
// the insertion order of a dict literal.
func (enc *pyEncoder) pairs(b *strings.Builder, d *exec.Dict, depth int) error {
	if len(d.Pairs) == 0 {
		b.WriteString("{}")
		return nil
	}
	b.WriteByte('{')
	for i, p := range d.Pairs {
		if i > 0 {
			b.WriteString(enc.itemSep)
		}
		enc.newline(b, depth+1)
		enc.str(b, p.Key.String())
		b.WriteString(enc.keySep)
		if err := enc.encode(b, p.Value, depth+1); err != nil {
			return err
		}
	}
	enc.newline(b, depth)
	b.WriteByte('}')
	return nil
}

// str quotes s as json.dumps does: the short escapes, \u00XX for other
// control characters, and with ensure_ascii every non-ASCII rune as \uXXXX
// (a surrogate pair above the BMP). Invalid UTF-8 becomes U+FFFD, as Python
// never sees such bytes in a str.
func (enc *pyEncoder) str(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (enc.ascii && r == 0x7f):
				fmt.Fprintf(b, `\u%04x`, r)
			case enc.ascii && r > 0x7f && r < 0x10000:
				fmt.Fprintf(b, `\u%04x`, r)
			case enc.ascii && r >= 0x10000:
				r -= 0x10000
				fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			case r == utf8.RuneError:
				b.WriteRune(utf8.RuneError)
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// pyFloat formats f as Python's float.__repr__ (which json.dumps uses):
// shortest round-trip digits, positional for exponents in [-4, 16) with a
// ".0" on integral values, otherwise e-notation with a two-digit exponent.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // shortest digits, d.ddde±XX
	exp, err := strconv.Atoi(e[strings.LastIndexByte(e, 'e')+1:])
	if err != nil || exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

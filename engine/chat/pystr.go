package chat

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Python semantics where gonja's builtins differ from CPython's in ways
// chat templates notice: str.strip()/lstrip()/rstrip() without arguments,
// replace() without a count and split() without a separator fail in gonja;
// s[i] indexes bytes rather than code points; x[-len(x)] is not found; the
// items filter cannot be unpacked by a for loop; int ** int is a float.
// (pyops.go has the rest.) Every replacement is checked against Jinja2 by
// testdata/snippets.json.

// pyIsSpace is str.isspace for one rune: Unicode White_Space plus the
// information separators U+001C..U+001F, which Python also splits on.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyStrip is str.strip/lstrip/rstrip; chars nil means whitespace.
func pyStrip(s string, chars *string, left, right bool) string {
	cut := pyIsSpace
	if chars != nil {
		set := *chars
		cut = func(r rune) bool { return strings.ContainsRune(set, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, cut)
	}
	if right {
		s = strings.TrimRightFunc(s, cut)
	}
	return s
}

// optChars reads the optional chars argument of strip and friends.
func optChars(va *exec.VarArgs, name string) (*string, error) {
	if len(va.Args) > 1 || len(va.KwArgs) > 0 {
		return nil, fmt.Errorf("%s takes at most one positional argument", name)
	}
	if len(va.Args) == 0 || va.Args[0].IsNil() {
		return nil, nil
	}
	if !va.Args[0].IsString() {
		return nil, fmt.Errorf("%s arg must be None or str", name)
	}
	s := va.Args[0].String()
	return &s, nil
}

func stripMethod(name string, left, right bool) exec.Method[string] {
	return func(self string, _ *exec.Value, va *exec.VarArgs) (any, error) {
		chars, err := optChars(va, name)
		if err != nil {
			return nil, err
		}
		return pyStrip(self, chars, left, right), nil
	}
}

func replaceMethod(self string, _ *exec.Value, va *exec.VarArgs) (any, error) {
	if len(va.Args) < 2 || len(va.Args) > 3 || !va.Args[0].IsString() || !va.Args[1].IsString() {
		return nil, errors.New("replace expects (old, new[, count])")
	}
	old, repl, count := va.Args[0].String(), va.Args[1].String(), -1
	if len(va.Args) == 3 {
		if !va.Args[2].IsInteger() {
			return nil, errors.New("replace count must be an integer")
		}
		count = va.Args[2].Integer()
	}
	n := strings.Count(self, old)
	if count >= 0 && count < n {
		n = count
	}
	if size := len(self) + n*(len(repl)-len(old)); size > maxMethodValue {
		return nil, &LimitError{What: fmt.Sprintf("replace result of %d bytes", size)}
	}
	return strings.Replace(self, old, repl, count), nil
}

// splitArgs reads (sep=None, maxsplit=-1), positional or by keyword.
func splitArgs(va *exec.VarArgs) (sep *string, maxsplit int, err error) {
	maxsplit = -1
	args := append([]*exec.Value(nil), va.Args...)
	if v, ok := va.KwArgs["sep"]; ok && len(args) == 0 {
		args = append(args, v)
	}
	if v, ok := va.KwArgs["maxsplit"]; ok && len(args) <= 1 {
		if len(args) == 0 {
			args = append(args, exec.AsValue(nil))
		}
		args = append(args, v)
	}
	if len(args) > 2 {
		return nil, 0, errors.New("split takes at most 2 arguments")
	}
	if len(args) >= 1 && !args[0].IsNil() {
		if !args[0].IsString() || args[0].String() == "" {
			return nil, 0, errors.New("split separator must be a non-empty string or None")
		}
		s := args[0].String()
		sep = &s
	}
	if len(args) == 2 {
		if !args[1].IsInteger() {
			return nil, 0, errors.New("split maxsplit must be an integer")
		}
		maxsplit = args[1].Integer()
	}
	return sep, maxsplit, nil
}

func splitMethod(self string, _ *exec.Value, va *exec.VarArgs) (any, error) {
	sep, maxsplit, err := splitArgs(va)
	if err != nil {
		return nil, err
	}
	var parts []string
	switch {
	case sep != nil:
		parts = strings.SplitN(self, *sep, splitN(maxsplit))
	case maxsplit < 0:
		parts = strings.FieldsFunc(self, pyIsSpace)
	default:
		parts = splitSpaceN(self, maxsplit)
	}
	out := make([]any, len(parts)) // (parts,)
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func splitN(maxsplit int) int {
	if maxsplit < 0 {
		return -1
	}
	return maxsplit + 1
}

// splitSpaceN is str.split(None, maxsplit): runs of whitespace separate,
// leading whitespace is dropped, the remainder after maxsplit cuts is kept
// with its leading whitespace removed.
func splitSpaceN(s string, maxsplit int) []string {
	var parts []string
	s = strings.TrimLeftFunc(s, pyIsSpace)
	for s != "" && len(parts) < maxsplit {
		i := strings.IndexFunc(s, pyIsSpace)
		if i < 0 {
			break
		}
		parts = append(parts, s[:i])
		s = strings.TrimLeftFunc(s[i:], pyIsSpace)
	}
	if s != "" {
		parts = append(parts, s)
	}
	return parts
}

// filterTrim is Jinja's trim: str(value).strip(chars).
func filterTrim(_ *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	var chars *string
	if v, ok := va.KwArgs["chars"]; ok && !v.IsNil() {
		s := v.String()
		chars = &s
	} else if len(va.Args) == 1 && !va.Args[0].IsNil() {
		s := va.Args[0].String()
		chars = &s
	}
	return exec.AsValue(pyStrip(in.String(), chars, true, true))
}

// dictPairs returns a dict's keys and values in Python's order: insertion
// order for gonja's ordered dict (from a dict literal), sorted keys for a
// Go map, which keeps none.
func dictPairs(x any) (keys []string, vals []any, ok bool) {
	switch d := x.(type) {
	case *exec.Dict:
		return dictPairs(*d)
	case exec.Dict:
		for _, p := range d.Pairs {
			keys = append(keys, p.Key.String())
			vals = append(vals, p.Value.Interface())
		}
		return keys, vals, true
	}
	rv := reflect.ValueOf(x)
	if rv.Kind() != reflect.Map {
		return nil, nil, false
	}
	mk := rv.MapKeys()
	sort.Slice(mk, func(i, j int) bool { return fmt.Sprint(mk[i]) < fmt.Sprint(mk[j]) })
	for _, k := range mk {
		keys = append(keys, fmt.Sprint(k.Interface()))
		vals = append(vals, rv.MapIndex(k).Interface())
	}
	return keys, vals, true
}

// dictView is dict.items()/keys()/values() in dictPairs order.
func dictView(which string) exec.Method[map[string]any] {
	return func(self map[string]any, sv *exec.Value, va *exec.VarArgs) (any, error) {
		if len(va.Args)+len(va.KwArgs) > 0 {
			return nil, fmt.Errorf("%s() takes no arguments", which)
		}
		var src any = self
		if sv != nil {
			src = sv.Interface()
		}
		keys, vals, ok := dictPairs(src)
		if !ok {
			keys, vals, _ = dictPairs(self)
		}
		out := make([]any, len(keys)) // (keys,)
		for i := range keys {
			switch which {
			case "keys":
				out[i] = keys[i]
			case "values":
				out[i] = vals[i]
			default:
				out[i] = []any{keys[i], vals[i]}
			}
		}
		return out, nil
	}
}

// filterItems is Jinja's items: (key, value) pairs a for loop can unpack,
// in the dict's order (sorted keys for Go maps, which have none).
func filterItems(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() || in.IsNil() {
		return exec.AsValue([]any{})
	}
	keys, vals, ok := dictPairs(in.Interface())
	if !ok {
		return exec.AsValue(errors.New("items requires a mapping"))
	}
	out := make([]any, len(keys)) // (keys,) of [key, value]
	for i := range keys {
		out[i] = []any{keys[i], vals[i]}
	}
	return exec.AsValue(out)
}

// pySeq stands in for a string or list while a subscript is evaluated, so
// that s[i] counts code points and negative indexes reach the first item.
type pySeq struct{ v *exec.Value }

func (p pySeq) GetItem(key any) (*exec.Value, bool) {
	i, ok := key.(int)
	if !ok {
		return exec.AsValue(nil), false
	}
	if p.v.IsString() {
		runes := []rune(p.v.String())
		if i < 0 {
			i += len(runes)
		}
		if i < 0 || i >= len(runes) {
			return exec.AsValue(nil), false
		}
		return exec.AsValue(string(runes[i])), true
	}
	n := p.v.Len()
	if i < 0 {
		i += n
	}
	if i < 0 || i >= n {
		return exec.AsValue(nil), false
	}
	return p.v.Index(i), true
}

// filterSubscript prepares the target of x[k]: strings and lists go through
// pySeq, everything else is left to gonja.
func filterSubscript(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsString() || in.IsList() {
		return exec.AsValue(pySeq{v: in})
	}
	return in
}

// guardedPow is Python's **: an int for int ** non-negative int (an error
// where CPython would need a big int), a float otherwise.
func guardedPow(e *exec.Evaluator, left *exec.Value, va *exec.VarArgs) *exec.Value {
	right := va.First()
	if !left.IsInteger() || !right.IsInteger() || right.Integer() < 0 {
		return exec.AsValue(math.Pow(left.Float(), right.Float()))
	}
	base, exp := left.Integer(), right.Integer()
	switch {
	case base == 1 || exp == 0:
		return exec.AsValue(1)
	case base == 0:
		return exec.AsValue(0)
	case base == -1:
		return exec.AsValue(1 - 2*(exp%2))
	}
	out := 1
	for ; exp > 0; exp-- { // |base| >= 2: at most 63 rounds before overflow
		next := out * base
		if next/base != out {
			return failValue(e, &LimitError{What: "integer power overflows 64 bits"})
		}
		out = next
	}
	return exec.AsValue(out)
}

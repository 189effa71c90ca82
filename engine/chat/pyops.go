package chat

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// More CPython semantics gonja lacks: % (string formatting, and a modulo
// that takes the divisor's sign), dictsort over ordered dicts, rsplit
// without a separator, the padding methods' default fill character, and
// count/find/rfind, which gonja gets wrong (count) or answers in bytes.

// guardedMod is Python's %: printf-style formatting when the left side is
// a string, otherwise a modulo whose result has the sign of the divisor.
func guardedMod(e *exec.Evaluator, left *exec.Value, va *exec.VarArgs) *exec.Value {
	right := va.First()
	switch {
	case left.IsString():
		out, err := percentFormat(left.String(), right)
		if err != nil {
			return exec.AsValue(err)
		}
		if st, serr := stateOf(e.Environment.Context); serr == nil {
			if err := st.charge(len(out)); err != nil {
				return exec.AsValue(err)
			}
		}
		return exec.AsValue(out)
	case left.IsFloat() || right.IsFloat():
		d := right.Float()
		if d == 0 {
			return exec.AsValue(errors.New("float modulo by zero"))
		}
		m := math.Mod(left.Float(), d)
		if m != 0 && (m < 0) != (d < 0) {
			m += d
		}
		return exec.AsValue(m)
	}
	d := right.Integer()
	if d == 0 {
		return exec.AsValue(errors.New("integer modulo by zero"))
	}
	m := left.Integer() % d
	if m != 0 && (m < 0) != (d < 0) {
		m += d
	}
	return exec.AsValue(m)
}

// percentFormat is str % args for the conversions templates use: s, r, d,
// i, f, e, g, x, o, c and %%, with Go's flags, width and precision (which
// match C's, as Python's do). A list is taken as the argument tuple: gonja
// evaluates tuples and lists to the same type, so where Python would
// reject a list we format it.
func percentFormat(format string, arg *exec.Value) (string, error) {
	args := []*exec.Value{arg}
	if arg.IsList() {
		args = args[:0]
		arg.Iterate(func(_, _ int, key, _ *exec.Value) bool {
			args = append(args, key)
			return true
		}, func() {})
	}
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("#0- +.0123456789", format[j]) >= 0 {
			j++
		}
		if j >= len(format) {
			return "", errors.New("incomplete format")
		}
		spec, verb := format[i+1:j], format[j]
		i = j
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if next >= len(args) {
			return "", errors.New("not enough arguments for format string")
		}
		s, err := formatOne(spec, verb, args[next])
		if err != nil {
			return "", err
		}
		b.WriteString(s)
		next++
		if b.Len() > maxMethodValue {
			return "", &LimitError{What: "formatted string too long"}
		}
	}
	if next < len(args) && arg.IsList() {
		return "", errors.New("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

func formatOne(spec string, verb byte, v *exec.Value) (string, error) {
	for _, n := range strings.Split(strings.TrimLeft(spec, "#0- +"), ".") {
		if len(n) > 4 { // a width or precision over 9999
			return "", &LimitError{What: "format width " + n}
		}
	}
	switch verb {
	case 's':
		return fmt.Sprintf("%"+spec+"s", v.String()), nil
	case 'r':
		return fmt.Sprintf("%"+spec+"s", pyRepr(v)), nil
	case 'd', 'i':
		return fmt.Sprintf("%"+spec+"d", v.Integer()), nil
	case 'f', 'F', 'e', 'E', 'g', 'G':
		return fmt.Sprintf("%"+spec+string(verb), v.Float()), nil
	case 'x', 'X', 'o':
		return fmt.Sprintf("%"+spec+string(verb), v.Integer()), nil
	case 'c':
		if v.IsString() {
			return v.String(), nil
		}
		return string(rune(v.Integer())), nil
	}
	return "", fmt.Errorf("unsupported format character %q", verb)
}

// pyRepr is repr() for the values %r meets: strings quoted, the rest as
// printed.
func pyRepr(v *exec.Value) string {
	if !v.IsString() {
		return v.String()
	}
	s := v.String()
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// filterDictSort is Jinja's dictsort(case_sensitive=False, by="key",
// reverse=False): (key, value) pairs sorted by key or value.
func filterDictSort(_ *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
	keys, vals, ok := dictPairs(in.Interface())
	if !ok {
		return exec.AsValue(errors.New("dictsort requires a mapping"))
	}
	caseSensitive, byValue, reverse := false, false, false
	for k, v := range va.KwArgs {
		switch k {
		case "case_sensitive":
			caseSensitive = v.IsTrue()
		case "by":
			byValue = v.String() == "value"
		case "reverse":
			reverse = v.IsTrue()
		default:
			return exec.AsValue(fmt.Errorf("dictsort: unexpected argument %q", k))
		}
	}
	idx := make([]int, len(keys)) // (keys,) order to emit
	for i := range idx {
		idx[i] = i
	}
	sortKey := func(i int) string {
		s := keys[i]
		if byValue {
			s = exec.AsValue(vals[i]).String()
		}
		if !caseSensitive {
			s = strings.ToLower(s)
		}
		return s
	}
	sort.SliceStable(idx, func(a, b int) bool { return (sortKey(idx[a]) < sortKey(idx[b])) != reverse })
	out := make([]any, len(idx)) // (keys,) of [key, value]
	for i, j := range idx {
		out[i] = []any{keys[j], vals[j]}
	}
	return exec.AsValue(out)
}

func rsplitMethod(self string, _ *exec.Value, va *exec.VarArgs) (any, error) {
	sep, maxsplit, err := splitArgs(va)
	if err != nil {
		return nil, err
	}
	var parts []string
	switch {
	case maxsplit < 0 && sep != nil:
		parts = strings.Split(self, *sep)
	case maxsplit < 0:
		parts = strings.FieldsFunc(self, pyIsSpace)
	case sep != nil:
		for len(parts) < maxsplit {
			i := strings.LastIndex(self, *sep)
			if i < 0 {
				break
			}
			parts = append(parts, self[i+len(*sep):])
			self = self[:i]
		}
		parts = append(parts, self)
		reverseStrings(parts)
	default:
		self = strings.TrimRightFunc(self, pyIsSpace)
		for self != "" && len(parts) < maxsplit {
			i := strings.LastIndexFunc(self, pyIsSpace)
			if i < 0 {
				break
			}
			_, size := utf8.DecodeRuneInString(self[i:])
			parts = append(parts, self[i+size:])
			self = strings.TrimRightFunc(self[:i], pyIsSpace)
		}
		if self != "" {
			parts = append(parts, self)
		}
		reverseStrings(parts)
	}
	out := make([]any, len(parts)) // (parts,)
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func reverseStrings(s []string) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// withFillChar gives center, ljust and rjust Python's default fill
// character, which gonja's versions lack.
func withFillChar(orig exec.Method[string]) exec.Method[string] {
	return func(self string, sv *exec.Value, va *exec.VarArgs) (any, error) {
		if len(va.Args) == 1 && len(va.KwArgs) == 0 {
			va = &exec.VarArgs{Args: []*exec.Value{va.Args[0], exec.AsValue(" ")}, KwArgs: va.KwArgs}
		}
		return orig(self, sv, va)
	}
}

// searchArgs reads (sub[, start[, end]]) and returns the runes of self in
// [start, end) (Python slice rules) with the offset of that window.
func searchArgs(self string, va *exec.VarArgs) (sub string, window []rune, offset int, err error) {
	if len(va.Args) < 1 || len(va.Args) > 3 || !va.Args[0].IsString() {
		return "", nil, 0, errors.New("expected (sub[, start[, end]])")
	}
	runes := []rune(self)
	n := len(runes)
	bound := func(i int, def int) (int, error) {
		if i >= len(va.Args) || va.Args[i].IsNil() {
			return def, nil
		}
		if !va.Args[i].IsInteger() {
			return 0, errors.New("slice indices must be integers or None")
		}
		v := va.Args[i].Integer()
		if v < 0 {
			v += n
		}
		return min(max(v, 0), n), nil
	}
	start, err := bound(1, 0)
	if err != nil {
		return "", nil, 0, err
	}
	end, err := bound(2, n)
	if err != nil {
		return "", nil, 0, err
	}
	if end < start {
		end = start
	}
	return va.Args[0].String(), runes[start:end], start, nil
}

// countMethod is str.count: non-overlapping occurrences in the window.
func countMethod(self string, _ *exec.Value, va *exec.VarArgs) (any, error) {
	sub, window, _, err := searchArgs(self, va)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	return strings.Count(string(window), sub), nil
}

// findMethod is str.find (or rfind): a code-point index, or -1.
func findMethod(last bool) exec.Method[string] {
	return func(self string, _ *exec.Value, va *exec.VarArgs) (any, error) {
		sub, window, offset, err := searchArgs(self, va)
		if err != nil {
			return nil, fmt.Errorf("find: %w", err)
		}
		w := string(window)
		i := strings.Index(w, sub)
		if last {
			i = strings.LastIndex(w, sub)
		}
		if i < 0 {
			return -1, nil
		}
		return offset + utf8.RuneCountInString(w[:i]), nil
	}
}

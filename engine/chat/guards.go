package chat

import (
	"fmt"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/exec"
)

// Filters and methods whose integer arguments size their output (a width,
// a padding count). Left unchecked, center(10**10) allocates 10 GB.
var (
	widthFilters = []string{"center", "indent", "batch", "slice", "wordwrap", "truncate"}
	widthMethods = []string{"center", "ljust", "rjust", "zfill", "expandtabs"}
	// gonja's str methods, all of which we keep.
	strMethods = []string{
		"capitalize", "capwords", "casefold", "center", "count", "encode", "endswith",
		"expandtabs", "find", "format", "format_map", "isalnum", "isalpha", "isascii",
		"isdecimal", "isdigit", "islower", "isnumeric", "isprintable", "isspace",
		"istitle", "isupper", "join", "ljust", "lower", "lstrip", "partition",
		"removeprefix", "removesuffix", "replace", "rfind", "rjust", "rpartition",
		"rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
		"title", "upper", "zfill",
	}
	dictMethods = []string{"keys", "values", "items", "get", "pop", "setdefault", "update", "copy", "clear"}
)

// Names of the filters that guarded operators turn into. They contain a
// NUL, so no template can call them directly.
const (
	opAdd   = "\x00add"
	opMul   = "\x00mul"
	opTilde = "\x00tilde"
	opPow   = "\x00pow"
	opLoop  = "\x00loop" // the iterable of a for loop
	opMod   = "\x00mod"
	// opSubscript prepares the target of x[k]; see pySeq.
	opSubscript = "\x00subscript"
)

func checkWidths(va *exec.VarArgs) error {
	check := func(v *exec.Value) error {
		if v.IsInteger() && v.Integer() > maxWidth {
			return &LimitError{What: fmt.Sprintf("width argument %d over %d", v.Integer(), maxWidth)}
		}
		return nil
	}
	for _, a := range va.Args {
		if err := check(a); err != nil {
			return err
		}
	}
	for _, a := range va.KwArgs {
		if err := check(a); err != nil {
			return err
		}
	}
	return nil
}

func guardFilters(fs *exec.FilterSet) {
	for _, name := range widthFilters {
		orig, ok := fs.Get(name)
		if !ok {
			panic("chat: gonja lacks filter " + name)
		}
		mustReplace(fs.Replace(name, func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
			if err := checkWidths(va); err != nil {
				return failValue(e, err)
			}
			return orig(e, in, va)
		}))
	}
	mustReplace(fs.Register(opAdd, guardedAdd))
	mustReplace(fs.Register(opMul, guardedMul))
	mustReplace(fs.Register(opTilde, guardedTilde))
	mustReplace(fs.Register(opPow, guardedPow))
	mustReplace(fs.Register(opLoop, guardedIterable))
	mustReplace(fs.Register(opMod, guardedMod))
	mustReplace(fs.Replace("dictsort", filterDictSort))
	list, _ := fs.Get("list")
	mustReplace(fs.Replace("list", func(e *exec.Evaluator, in *exec.Value, va *exec.VarArgs) *exec.Value {
		if in.IsString() && in.Len() > MaxRange {
			return failValue(e, &LimitError{What: fmt.Sprintf("a list of %d characters", in.Len())})
		}
		return list(e, in, va)
	}))
	mustReplace(fs.Register(opSubscript, filterSubscript))
	mustReplace(fs.Replace("trim", filterTrim))
	mustReplace(fs.Replace("items", filterItems))
}

// guardedMethods copies gonja's methods, checking widths on the str methods
// that pad and putting the Python-compatible ones of pystr.go in place.
func guardedMethods() exec.Methods {
	m := builtins.Methods
	str := map[string]exec.Method[string]{}
	for _, name := range strMethods {
		orig, ok := m.Str.Get(name)
		if !ok {
			panic("chat: gonja lacks str method " + name)
		}
		str[name] = orig
	}
	for _, name := range []string{"center", "ljust", "rjust"} {
		str[name] = withFillChar(str[name])
	}
	for _, name := range widthMethods {
		orig := str[name]
		str[name] = func(self string, sv *exec.Value, va *exec.VarArgs) (any, error) {
			if err := checkWidths(va); err != nil {
				return nil, err
			}
			return orig(self, sv, va)
		}
	}
	str["strip"] = stripMethod("strip", true, true)
	str["lstrip"] = stripMethod("lstrip", true, false)
	str["rstrip"] = stripMethod("rstrip", false, true)
	str["replace"] = replaceMethod
	str["split"] = splitMethod
	str["rsplit"] = rsplitMethod
	str["count"] = countMethod
	str["find"] = findMethod(false)
	str["rfind"] = findMethod(true)
	m.Str = exec.NewMethodSet(str)
	dict := map[string]exec.Method[map[string]any]{}
	for _, name := range dictMethods {
		orig, ok := m.Dict.Get(name)
		if !ok {
			panic("chat: gonja lacks dict method " + name)
		}
		dict[name] = orig
	}
	for _, name := range []string{"items", "keys", "values"} {
		dict[name] = dictView(name)
	}
	m.Dict = exec.NewMethodSet(dict)
	return m
}

func stateOfEval(e *exec.Evaluator) (*renderState, *exec.Value) {
	st, err := stateOf(e.Environment.Context)
	if err != nil {
		return nil, exec.AsValue(err)
	}
	return st, nil
}

// guardedAdd is gonja's + (list concatenation, float, string, then int
// addition, in that order of precedence) with the result size charged.
func guardedAdd(e *exec.Evaluator, left *exec.Value, va *exec.VarArgs) *exec.Value {
	st, bad := stateOfEval(e)
	if bad != nil {
		return bad
	}
	right := va.First()
	switch {
	case left.IsList():
		if !right.IsList() {
			return exec.AsValue(fmt.Errorf("cannot concatenate a list and %s", right.String()))
		}
		if n := left.Len() + right.Len(); n > MaxRange {
			return failValue(e, &LimitError{What: fmt.Sprintf("a list of %d items", n)})
		}
		if err := st.charge(16 * (left.Len() + right.Len())); err != nil {
			return exec.AsValue(err)
		}
		out := make([]any, 0, left.Len()+right.Len()) // (len(left)+len(right),)
		for _, v := range []*exec.Value{left, right} {
			v.Iterate(func(_, _ int, key, _ *exec.Value) bool {
				out = append(out, key.Interface())
				return true
			}, func() {})
		}
		return exec.AsValue(out)
	case left.IsFloat() || right.IsFloat():
		return exec.AsValue(left.Float() + right.Float())
	case left.IsString() || right.IsString():
		return concat(st, left.String(), right.String())
	}
	return exec.AsValue(left.Integer() + right.Integer())
}

// guardedTilde is Jinja's ~: both sides as strings, concatenated.
func guardedTilde(e *exec.Evaluator, left *exec.Value, va *exec.VarArgs) *exec.Value {
	st, bad := stateOfEval(e)
	if bad != nil {
		return bad
	}
	return concat(st, left.String(), va.First().String())
}

func concat(st *renderState, a, b string) *exec.Value {
	if err := st.charge(len(a) + len(b)); err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(a + b)
}

// guardedMul is * with Python's string repetition (either operand order, a
// count below one gives "") and the result size charged before allocating.
func guardedMul(e *exec.Evaluator, left *exec.Value, va *exec.VarArgs) *exec.Value {
	st, bad := stateOfEval(e)
	if bad != nil {
		return bad
	}
	right := va.First()
	s, count, repeat := "", 0, false
	switch {
	case left.IsString() && right.IsInteger():
		s, count, repeat = left.String(), right.Integer(), true
	case right.IsString() && left.IsInteger():
		s, count, repeat = right.String(), left.Integer(), true
	case left.IsFloat() || right.IsFloat():
		return exec.AsValue(left.Float() * right.Float())
	}
	if !repeat {
		return exec.AsValue(left.Integer() * right.Integer())
	}
	if count <= 0 || s == "" {
		return exec.AsValue("")
	}
	if count > st.maxValue/len(s) {
		return exec.AsValue(st.fail(&LimitError{What: fmt.Sprintf("string repeated %d times", count)}))
	}
	if err := st.charge(len(s) * count); err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(strings.Repeat(s, count))
}

package chat

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// newConfig mirrors the Jinja environment transformers builds for chat
// templates: trim_blocks and lstrip_blocks on, no autoescape, undefined
// values render as empty, one trailing newline of the source dropped.
// lstrip_blocks is applied to the source by lstripBlocks, because gonja's
// version strips more than Jinja's.
func newConfig() *config.Config {
	c := config.New()
	c.TrimBlocks = true
	c.LeftStripBlocks = false
	c.AutoEscape = false
	c.StrictUndefined = false
	c.KeepTrailingNewline = false
	return c
}

// Control structures a chat template may use. extends, include, import and
// from are left out on purpose: a chat template is one string, and an
// include of itself would recurse without end.
var allowedStructures = []string{
	"autoescape", "block", "filter", "for", "if", "macro", "raw", "set",
	"with", "do", "break", "continue", "trans", "call",
}

// sharedEnv is the read-only environment every template uses. It is built
// at start-up so that a gonja upgrade which renamed a builtin we replace
// fails loudly there instead of silently changing prompts.
var sharedEnv = buildEnvironment()

// buildEnvironment assembles gonja's builtins with transformers' globals,
// Python-compatible replacements where gonja's behaviour differs from
// Jinja2's (tojson, range, str methods...), and the guards that bound a
// render (see limits.go).
func buildEnvironment() *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	mustReplace(filters.Replace("tojson", filterToJSON))
	guardFilters(filters)

	structures := map[string]parser.ControlStructureParser{}
	for _, name := range allowedStructures {
		p, ok := builtins.ControlStructures.Get(name)
		if !ok {
			panic("chat: gonja lacks control structure " + name)
		}
		structures[name] = p
	}
	structures["for"] = guardedFor(structures["for"])
	structures["macro"] = guardedMacro(structures["macro"])
	structures["generation"] = generationParser

	globals := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	globals.Set("raise_exception", raiseException)
	globals.Set("range", boundedRange)

	return &exec.Environment{
		Context:           globals,
		Filters:           filters,
		Tests:             builtins.Tests,
		ControlStructures: exec.NewControlStructureSet(structures),
		Methods:           guardedMethods(),
	}
}

// mustReplace fails loudly at start-up when a gonja upgrade renamed a
// builtin we override: silently keeping gonja's version would change
// rendered prompts.
func mustReplace(err error) {
	if err != nil {
		panic("chat: " + err.Error())
	}
}

// RaisedError is returned by Render when the template itself called
// raise_exception, e.g. Mistral's "Conversation roles must alternate
// user/assistant/user/assistant/...". Message is the template's text,
// suitable for a 400 response.
type RaisedError struct{ Message string }

func (e *RaisedError) Error() string { return "chat: template raised: " + e.Message }

func raiseException(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	msg := "raise_exception called"
	if len(va.Args) > 0 {
		msg = va.Args[0].String()
	}
	return failValue(e, &RaisedError{Message: msg})
}

// execute renders with vars, bounded in time, steps and output size, and
// converts gonja's nested error wrapping into one readable error.
func (t *Template) execute(vars map[string]any, msgs []Message) (out string, err error) {
	st := newRenderState(msgs, t.timeout)
	now := t.now
	vars["strftime_now"] = func(e *exec.Evaluator, va *exec.VarArgs) *exec.Value { return strftimeNow(e, now(), va) }
	vars[stateKey] = st
	w := &limitedWriter{limit: outputLimit(msgs)}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("chat: template failed: %v", r)
		}
	}()
	err = t.tmpl.Execute(w, exec.NewContext(vars))
	if st.err != nil { // even if gonja swallowed it: Jinja2 would not have
		return "", st.err
	}
	if err != nil {
		return "", renderError(err)
	}
	return w.b.String(), nil
}

// renderError keeps the innermost meaningful error: the template's own
// raise_exception, a limit we enforce, or gonja's root cause.
func renderError(err error) error {
	var raised *RaisedError
	if errors.As(err, &raised) {
		return raised
	}
	var le *LimitError
	if errors.As(err, &le) {
		return le
	}
	// gonja flattens a method's error into text; the str methods that pad
	// report limits that way, so recover the type from the text.
	if i := strings.LastIndex(err.Error(), limitPrefix); i >= 0 {
		return &LimitError{What: firstLine(err.Error()[i+len(limitPrefix):])}
	}
	root := err
	for {
		u := errors.Unwrap(root)
		if u == nil {
			break
		}
		root = u
	}
	return fmt.Errorf("chat: render failed: %s", firstLine(root.Error()))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

package chat

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Limits on what a template may cost. A chat template comes from a model
// file, so it is data the operator chose to load, not code we wrote; these
// bounds keep a broken or hostile one from hanging or exhausting the server.
// Real templates use a tiny fraction of each (the largest we know are about
// 20 KiB of source, loops over the messages, no recursion).
const (
	MaxSourceBytes = 128 << 10        // template source
	RenderTimeout  = 2 * time.Second  // wall time of one Render
	MaxSteps       = 200_000          // loop items and macro calls per Render (a loop item costs gonja ~6 µs)
	MaxMacroDepth  = 64               // nested macro calls
	MaxRange       = 100_000          // items of one range() or one loop, as Jinja's sandbox
	maxWidth       = 1 << 16          // width argument of center, indent and the like
	maxNesting     = 256              // brackets open at once in the source
	stateKey       = "\x00chat.state" // context key no template can spell
)

// Byte budgets grow with the conversation, so that a long prompt never
// trips them: each is a base plus a multiple of the message bytes.
const (
	baseValueBytes = 1 << 20   // one string built by +, ~, *, tojson: + 2× input
	baseAllocBytes = 256 << 20 // all such strings of one Render: + 64× input
	baseOutput     = 4 << 20   // the rendered prompt: + 4× input
	maxMethodValue = 64 << 20  // str.replace, which cannot see the render's budget
)

// LimitError reports a render stopped by one of the limits above.
type LimitError struct{ What string }

const limitPrefix = "chat: template exceeded a limit: "

func (e *LimitError) Error() string { return limitPrefix + e.What }

// renderState is the per-Render budget, reached from inside gonja through
// the render context under stateKey.
type renderState struct {
	deadline time.Time
	timeout  time.Duration // for the message
	maxValue int           // bytes of one built string
	maxAlloc int           // bytes of all built strings
	steps    int
	depth    int // macro calls in progress
	alloc    int // bytes built by guarded operators
	// err is the first RaisedError or LimitError of this render. gonja
	// flattens errors returned by functions into strings, so we keep the
	// typed error here and report it instead of gonja's text.
	err error
}

func newRenderState(msgs []Message, timeout time.Duration) *renderState {
	in := inputBytes(msgs)
	return &renderState{
		deadline: time.Now().Add(timeout),
		timeout:  timeout,
		maxValue: baseValueBytes + 2*in,
		maxAlloc: baseAllocBytes + 64*in,
	}
}

func inputBytes(msgs []Message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Role) + len(m.Content)
	}
	return n
}

// fail records err as the render's cause if it is the first, and returns it.
func (st *renderState) fail(err error) error {
	if st.err == nil {
		st.err = err
	}
	return err
}

func stateOf(ctx *exec.Context) (*renderState, error) {
	v, ok := ctx.Get(stateKey)
	st, _ := v.(*renderState)
	if !ok || st == nil {
		return nil, errors.New("chat: render state missing")
	}
	return st, nil
}

// failValue records err as the render's cause (see renderState.err) and
// returns it as a gonja error value.
func failValue(e *exec.Evaluator, err error) *exec.Value {
	if st, serr := stateOf(e.Environment.Context); serr == nil {
		st.fail(err)
	}
	return exec.AsValue(err)
}

// step charges one unit of work and checks the clock.
func (st *renderState) step() error { return st.stepN(1) }

// stepN charges n units of work and checks the clock.
func (st *renderState) stepN(n int) error {
	st.steps += n
	if st.steps > MaxSteps {
		return st.fail(&LimitError{What: fmt.Sprintf("more than %d loop iterations and macro calls", MaxSteps)})
	}
	if time.Now().After(st.deadline) {
		return st.fail(&LimitError{What: fmt.Sprintf("render took longer than %v", st.timeout)})
	}
	return nil
}

// charge accounts for a string the template built.
func (st *renderState) charge(n int) error {
	if n > st.maxValue {
		return st.fail(&LimitError{What: fmt.Sprintf("a string of %d bytes (limit %d)", n, st.maxValue)})
	}
	st.alloc += n
	if st.alloc > st.maxAlloc {
		return st.fail(&LimitError{What: fmt.Sprintf("built more than %d bytes of strings", st.maxAlloc)})
	}
	return nil
}

// limitedWriter collects the output and refuses to grow past limit.
type limitedWriter struct {
	b     bytes.Buffer
	limit int
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.limit {
		return 0, &LimitError{What: fmt.Sprintf("output longer than %d bytes", w.limit)}
	}
	return w.b.Write(p)
}

func outputLimit(msgs []Message) int { return baseOutput + 4*inputBytes(msgs) }

// nestingDepth bounds how deeply expressions nest: brackets open at once,
// quoting ignored, so it may overcount but never undercounts. (Tag
// delimiters open and close one each. Nested blocks are not counted: at
// MaxSourceBytes they reach some 16k levels, which gonja handles.)
func nestingDepth(src string) int {
	depth, maxDepth := 0, 0
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		}
		maxDepth = max(maxDepth, depth)
	}
	return maxDepth
}

// tick is a node put at the top of every loop body: each iteration pays a
// step, so loops end when the budget or the time is spent.
type tick struct{ loc *tokens.Token }

func (t *tick) Position() *tokens.Token { return t.loc }
func (t *tick) String() string          { return "tick" }

func (t *tick) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	st, err := stateOf(r.Environment.Context)
	if err != nil {
		return err
	}
	return st.step()
}

// guardedIterable checks what a for loop is about to walk: gonja copies
// every item into a fresh scope before the body first runs, so the items
// are charged as steps up front, and a loop longer than MaxRange is refused.
func guardedIterable(e *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	st, err := stateOf(e.Environment.Context)
	if err != nil {
		return exec.AsValue(err)
	}
	n := 0
	if in.IsString() || in.IsList() || in.IsDict() {
		n = in.Len()
	}
	if n > MaxRange {
		return exec.AsValue(st.fail(&LimitError{What: fmt.Sprintf("a loop over %d items", n)}))
	}
	if err := st.stepN(n); err != nil {
		return exec.AsValue(err)
	}
	return in
}

// guardedFor parses a for loop as gonja does, charges its items before it
// starts and adds a tick to its body.
func guardedFor(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		cs, err := orig(p, args)
		if err != nil {
			return nil, err
		}
		f, ok := cs.(*controlStructures.ForControlStructure)
		if !ok || f.BodyWrapper == nil {
			return nil, fmt.Errorf("chat: unexpected for-loop node %T", cs)
		}
		loc := f.BodyWrapper.Location
		if f.ObjectEvaluator != nil {
			f.ObjectEvaluator = &nodes.FilteredExpression{
				Expression: f.ObjectEvaluator,
				Filters:    []*nodes.FilterCall{{Token: f.ObjectEvaluator.Position(), Name: opLoop}},
			}
		}
		node := &nodes.ControlStructureBlock{Location: loc, Name: "tick", ControlStructure: &tick{loc: loc}}
		f.BodyWrapper.Nodes = append([]nodes.Node{node}, f.BodyWrapper.Nodes...)
		return f, nil
	}
}

// guardedMacroStructure defines the macro as gonja does, but the callable it
// stores counts calls and nesting, so recursion ends at MaxMacroDepth
// instead of exhausting the goroutine stack.
type guardedMacroStructure struct {
	*controlStructures.MacroControlStructure
}

func (g *guardedMacroStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	macro, err := exec.MacroNodeToFunc(g.Macro, r)
	if err != nil {
		return fmt.Errorf("macro %q: %w", g.Name, err)
	}
	ctx := r.Environment.Context
	guarded := func(params *exec.VarArgs) *exec.Value {
		st, err := stateOf(ctx)
		if err != nil {
			return exec.AsValue(err)
		}
		if err := st.step(); err != nil {
			return exec.AsValue(err)
		}
		if st.depth >= MaxMacroDepth {
			return exec.AsValue(st.fail(&LimitError{What: fmt.Sprintf("macro calls nested more than %d deep", MaxMacroDepth)}))
		}
		st.depth++
		defer func() { st.depth-- }()
		return macro(params)
	}
	ctx.Set(g.Name, exec.Macro(guarded))
	return nil
}

func guardedMacro(orig parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		cs, err := orig(p, args)
		if err != nil {
			return nil, err
		}
		m, ok := cs.(*controlStructures.MacroControlStructure)
		if !ok {
			return nil, fmt.Errorf("chat: unexpected macro node %T", cs)
		}
		return &guardedMacroStructure{m}, nil
	}
}

// boundedRange is Jinja's range() with the sandbox's MAX_RANGE cap. It
// returns a list rather than gonja's channel, whose feeding goroutine would
// leak whenever a loop stops early.
func boundedRange(e *exec.Evaluator, va *exec.VarArgs) *exec.Value {
	if len(va.Args) < 1 || len(va.Args) > 3 {
		return exec.AsValue(errors.New("range expects 1 to 3 integer arguments"))
	}
	for i, a := range va.Args {
		if !a.IsInteger() {
			return exec.AsValue(fmt.Errorf("range argument %d is not an integer", i+1))
		}
	}
	start, stop, step := 0, va.Args[0].Integer(), 1
	if len(va.Args) >= 2 {
		start, stop = va.Args[0].Integer(), va.Args[1].Integer()
	}
	if len(va.Args) == 3 {
		step = va.Args[2].Integer()
	}
	if step == 0 {
		return exec.AsValue(errors.New("range step must not be zero"))
	}
	n := rangeLen(start, stop, step)
	if n > MaxRange {
		return failValue(e, &LimitError{What: fmt.Sprintf("range of more than %d items", MaxRange)})
	}
	out := make([]any, n) // (n,) ints
	for i := range out {
		out[i] = start + i*step
	}
	return exec.AsValue(out)
}

// rangeLen counts range(start, stop, step) in unsigned arithmetic, which
// cannot overflow for any int arguments.
func rangeLen(start, stop, step int) uint64 {
	switch {
	case step > 0 && stop > start:
		return (uint64(stop)-uint64(start)-1)/uint64(step) + 1
	case step < 0 && stop < start:
		return (uint64(start)-uint64(stop)-1)/(uint64(-(step+1))+1) + 1
	}
	return 0
}

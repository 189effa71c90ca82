package chat

import (
	"fmt"
	"reflect"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

var (
	binaryExprType = reflect.TypeFor[*nodes.BinaryExpression]()
	getItemType    = reflect.TypeFor[*nodes.GetItem]()
)

// guardOperators rewrites, in the parsed tree, every a + b, a ~ b, a * b,
// a ** b and a % b into `true and (a | <guard>(b))`, and the target of
// every subscript x[k] into `x | <subscript>` (see pySeq). gonja evaluates
// these inline with no hook, so neither Python's semantics nor a size check
// ('x' * 10**10 would allocate 10 GB) could apply otherwise; the rewritten
// forms run our filters with the same operand order and laziness. The tree
// is reached by reflection because most control structures keep their
// expressions in unexported fields; we only modify BinaryExpression and
// GetItem nodes, through their exported fields.
func guardOperators(root *nodes.Template) {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			// v may come from an unexported field, so it is read-only to
			// reflect; the pointer itself is all we need.
			switch v.Type() {
			case binaryExprType:
				guardBinary((*nodes.BinaryExpression)(v.UnsafePointer()))
			case getItemType:
				guardGetItem((*nodes.GetItem)(v.UnsafePointer()))
			}
			walk(v.Elem())
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			iter := v.MapRange()
			for iter.Next() {
				walk(iter.Value())
			}
		}
	}
	walk(reflect.ValueOf(root))
}

func guardBinary(b *nodes.BinaryExpression) {
	if b.Operator == nil || b.Operator.Token == nil {
		return
	}
	var name string
	switch b.Operator.Token.Type {
	case tokens.Addition:
		name = opAdd
	case tokens.Multiply:
		name = opMul
	case tokens.Tilde:
		name = opTilde
	case tokens.Power:
		name = opPow
	case tokens.Modulo:
		name = opMod
	default:
		return
	}
	tok := b.Operator.Token
	guarded := &nodes.FilteredExpression{
		Expression: b.Left,
		Filters:    []*nodes.FilterCall{{Token: tok, Name: name, Args: []nodes.Expression{b.Right}}},
	}
	b.Left = &nodes.Bool{Location: tok, Val: true}
	b.Right = guarded
	b.Operator = &nodes.BinOperator{Token: &tokens.Token{Type: tokens.And, Val: "and", Pos: tok.Pos, Line: tok.Line, Col: tok.Col}}
}

// guardGetItem routes the target of x[k] through opSubscript.
func guardGetItem(g *nodes.GetItem) {
	if g.Node == nil {
		return
	}
	g.Node = &nodes.FilteredExpression{
		Expression: g.Node,
		Filters:    []*nodes.FilterCall{{Token: g.Node.Position(), Name: opSubscript}},
	}
}

// generationStructure is transformers' {% generation %} block, which marks
// the assistant's part for training masks; for rendering it is transparent.
type generationStructure struct {
	loc  *tokens.Token
	body *nodes.Wrapper
}

func (g *generationStructure) Position() *tokens.Token { return g.loc }
func (g *generationStructure) String() string {
	return fmt.Sprintf("generation(Line=%d Col=%d)", g.loc.Line, g.loc.Col)
}

func (g *generationStructure) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	return r.ExecuteWrapper(g.body)
}

func generationParser(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
	g := &generationStructure{loc: p.Current()}
	if !args.End() {
		return nil, args.Error("generation takes no arguments", args.Current())
	}
	body, endargs, err := p.WrapUntil("endgeneration")
	if err != nil {
		return nil, err
	}
	if !endargs.End() {
		return nil, endargs.Error("endgeneration takes no arguments", endargs.Current())
	}
	g.body = body
	return g, nil
}

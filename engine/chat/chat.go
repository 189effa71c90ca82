package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// Message is one turn of an OpenAI-style conversation.
type Message struct {
	Role    string // system, user, assistant or tool
	Content string
}

// Roles a conversation may use. Anything else is rejected before the
// template runs: templates differ wildly in what they do with an unexpected
// role (render it verbatim, drop it, raise), so we refuse it uniformly.
var knownRoles = map[string]bool{"system": true, "user": true, "assistant": true, "tool": true}

// Template is a compiled chat template. It is immutable after New and safe
// for concurrent use by many goroutines.
type Template struct {
	source   string
	bos, eos string
	tmpl     *exec.Template
	now      func() time.Time
	timeout  time.Duration // RenderTimeout; tests shorten it
}

// templateID names the single in-memory file the loader serves. Includes
// and imports of other names fail, which is what we want: a chat template is
// one self-contained string.
const templateID = "/chat_template.jinja"

// New compiles a Jinja chat template as found in a model (GGUF
// tokenizer.chat_template or tokenizer_config.json chat_template). bosToken
// and eosToken become the template variables bos_token and eos_token; an
// empty token is left undefined, as transformers leaves out a token that is
// None. Syntax errors come back as *SyntaxError with the line and column.
func New(source, bosToken, eosToken string) (*Template, error) {
	if strings.TrimSpace(source) == "" {
		return nil, errors.New("chat: template source is empty")
	}
	if len(source) > MaxSourceBytes {
		return nil, fmt.Errorf("chat: template source is %d bytes, over the %d-byte limit", len(source), MaxSourceBytes)
	}
	if d := nestingDepth(source); d > maxNesting {
		return nil, fmt.Errorf("chat: template nests brackets or blocks %d deep, over the limit of %d", d, maxNesting)
	}
	loader, err := loaders.NewMemoryLoader(map[string]string{templateID: lstripBlocks(source)})
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	tmpl, err := compile(loader)
	if err != nil {
		return nil, syntaxError(err)
	}
	return &Template{source: source, bos: bosToken, eos: eosToken, tmpl: tmpl, now: time.Now, timeout: RenderTimeout}, nil
}

// compile parses the template and puts the operator guards in place,
// turning a parser panic (gonja has a few on malformed input) into an error
// so that bad model metadata cannot crash the server.
func compile(loader loaders.Loader) (tmpl *exec.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			tmpl, err = nil, fmt.Errorf("template parser failed: %v", r)
		}
	}()
	tmpl, err = exec.NewTemplate(templateID, newConfig(), loader, sharedEnv)
	if err != nil {
		return nil, err
	}
	guardOperators(tmpl.Root())
	return tmpl, nil
}

// SyntaxError reports a template that does not compile.
type SyntaxError struct {
	Line, Col int    // 1-based; 0 when the parser did not say
	Msg       string // the parser's message
}

func (e *SyntaxError) Error() string {
	if e.Line == 0 {
		return "chat: template syntax error: " + e.Msg
	}
	return fmt.Sprintf("chat: template syntax error at line %d col %d: %s", e.Line, e.Col, e.Msg)
}

// syntaxError extracts gonja's positioned error. gonja wraps it in a message
// that repeats the whole template source, which we drop.
func syntaxError(err error) error {
	var se *parser.SyntaxError
	if errors.As(err, &se) {
		msg := se.Message
		if se.Raw != "" {
			msg = fmt.Sprintf("%s (near %q)", msg, se.Raw)
		}
		return &SyntaxError{Line: se.Line, Col: se.Column, Msg: msg}
	}
	msg := err.Error()
	if u := errors.Unwrap(err); u != nil {
		msg = u.Error()
	}
	return &SyntaxError{Msg: msg}
}

// Source returns the template text as given to New.
func (t *Template) Source() string { return t.source }

// WithClock returns a copy of t whose strftime_now reads now instead of the
// wall clock; tests use it to pin the date that Llama 3.x templates print.
func (t *Template) WithClock(now func() time.Time) *Template {
	c := *t
	c.now = now
	return &c
}

// Render produces the prompt text for msgs, byte for byte what transformers'
// apply_chat_template(msgs, tokenize=False, add_generation_prompt=...) gives
// for the same template. A template that calls raise_exception yields a
// *RaisedError carrying its message.
func (t *Template) Render(msgs []Message, addGenerationPrompt bool) (string, error) {
	if len(msgs) == 0 {
		return "", errors.New("chat: conversation has no messages")
	}
	// Ordered dicts, so that a template iterating or printing a message
	// sees role then content, as in the dict transformers receives.
	list := make([]any, len(msgs)) // (len(msgs),) of *exec.Dict
	for i, m := range msgs {
		if !knownRoles[m.Role] {
			return "", fmt.Errorf("chat: message %d has unknown role %q (want system, user, assistant or tool)", i, m.Role)
		}
		list[i] = &exec.Dict{Pairs: []*exec.Pair{
			{Key: exec.AsValue("role"), Value: exec.AsValue(m.Role)},
			{Key: exec.AsValue("content"), Value: exec.AsValue(m.Content)},
		}}
	}
	vars := map[string]any{
		"messages":              list,
		"tools":                 nil,
		"documents":             nil,
		"add_generation_prompt": addGenerationPrompt,
	}
	if t.bos != "" {
		vars["bos_token"] = t.bos
	}
	if t.eos != "" {
		vars["eos_token"] = t.eos
	}
	return t.execute(vars, msgs)
}

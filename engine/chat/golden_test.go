package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The goldens are produced by real Jinja2 through testdata/gen_golden.py,
// which mirrors transformers' apply_chat_template environment; they are
// never written from Go output (that would only test gonja against itself).
// After changing cases.json or a template, rerun the script and commit what
// it writes.

type goldenCases struct {
	Now       string `json:"now"`
	Templates []struct {
		Name string `json:"name"`
		BOS  string `json:"bos"`
		EOS  string `json:"eos"`
	} `json:"templates"`
	Conversations []struct {
		Name                string    `json:"name"`
		AddGenerationPrompt bool      `json:"add_generation_prompt"`
		Messages            []Message `json:"messages"`
	} `json:"conversations"`
}

type goldenErr struct {
	Kind    string `json:"kind"` // raise_exception or other
	Message string `json:"message"`
}

func loadCases(t *testing.T) goldenCases {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c goldenCases
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	return c
}

// goldenTemplate compiles a template named in cases.json: builtin-<name>
// through Builtin (so the embedded copy and its default tokens are what is
// tested), anything else from testdata/templates.
func goldenTemplate(t *testing.T, name, bos, eos string) *Template {
	t.Helper()
	if b, ok := strings.CutPrefix(name, "builtin-"); ok {
		tmpl, err := Builtin(b)
		if err != nil {
			t.Fatalf("Builtin(%q): %v", b, err)
		}
		if tmpl.bos != bos || tmpl.eos != eos {
			t.Fatalf("Builtin(%q) tokens = %q, %q; cases.json says %q, %q", b, tmpl.bos, tmpl.eos, bos, eos)
		}
		return tmpl
	}
	src, err := os.ReadFile(filepath.Join("testdata", "templates", name+".jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := New(string(src), bos, eos)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	return tmpl
}

func TestGolden(t *testing.T) {
	c := loadCases(t)
	now, err := time.ParseInLocation("2006-01-02T15:04:05", c.Now, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range c.Templates {
		tmpl := goldenTemplate(t, tc.Name, tc.BOS, tc.EOS).WithClock(func() time.Time { return now })
		for _, conv := range c.Conversations {
			t.Run(tc.Name+"/"+conv.Name, func(t *testing.T) {
				base := filepath.Join("testdata", "golden", tc.Name, conv.Name)
				got, err := tmpl.Render(conv.Messages, conv.AddGenerationPrompt)
				if want, rerr := os.ReadFile(base + ".txt"); rerr == nil {
					if err != nil {
						t.Fatalf("Render: %v\nwant:\n%s", err, want)
					}
					if got != string(want) {
						t.Fatalf("mismatch\n got: %q\nwant: %q", got, want)
					}
					return
				}
				checkGoldenError(t, base+".err", got, err)
			})
		}
	}
}

func checkGoldenError(t *testing.T, path, got string, err error) {
	t.Helper()
	b, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatalf("no golden: %v (run testdata/gen_golden.py)", rerr)
	}
	var want goldenErr
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err == nil {
		t.Fatalf("Render succeeded with %q; Jinja2 failed with %s: %s", got, want.Kind, want.Message)
	}
	if want.Kind != "raise_exception" {
		return
	}
	var raised *RaisedError
	if !errors.As(err, &raised) {
		t.Fatalf("error %v (%T) is not a *RaisedError; want %q", err, err, want.Message)
	}
	if raised.Message != want.Message {
		t.Fatalf("raised %q, want %q", raised.Message, want.Message)
	}
}

// TestSnippets checks single Jinja features (loop variables, namespace,
// tojson, whitespace control, tests, string methods...) against Jinja2, so
// a gonja difference shows up on its own and not only inside a model's
// template.
func TestSnippets(t *testing.T) {
	c := loadCases(t)
	now, err := time.ParseInLocation("2006-01-02T15:04:05", c.Now, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	for _, conv := range c.Conversations {
		if conv.Name == "system-multi" {
			msgs = conv.Messages
		}
	}
	b, err := os.ReadFile(filepath.Join("testdata", "snippets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var snippets []struct{ Name, Source string }
	if err := json.Unmarshal(b, &snippets); err != nil {
		t.Fatal(err)
	}
	for _, sn := range snippets {
		t.Run(sn.Name, func(t *testing.T) {
			base := filepath.Join("testdata", "golden", "snippets", sn.Name)
			tmpl, err := New(sn.Source, "<s>", "</s>")
			if err != nil {
				checkSyntaxGolden(t, base+".err", err)
				return
			}
			got, err := tmpl.WithClock(func() time.Time { return now }).Render(msgs, true)
			if want, rerr := os.ReadFile(base + ".txt"); rerr == nil {
				if err != nil {
					t.Fatalf("Render: %v\nwant: %q", err, want)
				}
				if got != string(want) {
					t.Fatalf("mismatch\n got: %q\nwant: %q", got, want)
				}
				return
			}
			checkGoldenError(t, base+".err", got, err)
		})
	}
}

func checkSyntaxGolden(t *testing.T, path string, err error) {
	t.Helper()
	b, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatalf("New failed (%v) but Jinja2 compiled it", err)
	}
	var want goldenErr
	if jerr := json.Unmarshal(b, &want); jerr != nil || want.Kind != "syntax" {
		t.Fatalf("New failed (%v) but Jinja2's outcome was %s", err, b)
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("New error %v (%T) is not a *SyntaxError", err, err)
	}
}

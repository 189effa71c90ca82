package chat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var twoTurns = []Message{
	{Role: "system", Content: "Be brief."},
	{Role: "user", Content: "Hi"},
}

func TestNewSyntaxErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantLine int // 0: any
		wantMsg  string
	}{
		{"unclosed for", "line one\n{% for m in messages %}{{ m.role }}", 0, "syntax error"},
		{"bad expression", "a\nb\n{{ messages[ }}", 3, ""},
		{"unknown tag", "{% frobnicate %}", 1, ""},
		{"unclosed variable", "{{ messages", 0, ""},
		{"include is not allowed", "{% include 'x.jinja' %}", 1, ""},
		{"extends is not allowed", "{% extends 'base' %}", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.src, "", "")
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("New = %v (%T), want *SyntaxError", err, err)
			}
			if tt.wantLine != 0 && se.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", se.Line, tt.wantLine, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), tt.src) && len(tt.src) > 20 {
				t.Errorf("error repeats the whole source: %q", err)
			}
		})
	}
}

func TestNewRejectsBadSources(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "empty"},
		{"blank", " \n\t", "empty"},
		{"too large", strings.Repeat("x", MaxSourceBytes+1), "limit"},
		{"too deep", strings.Repeat("(", maxNesting+1), "nests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.src, "", "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRenderInputErrors(t *testing.T) {
	tmpl, err := Builtin("chatml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msgs []Message
		want string
	}{
		{"no messages", nil, "no messages"},
		{"unknown role", []Message{{Role: "user", Content: "a"}, {Role: "narrator", Content: "b"}}, `message 1 has unknown role "narrator"`},
		{"empty role", []Message{{Role: "", Content: "a"}}, "unknown role"},
		{"role case matters", []Message{{Role: "User", Content: "a"}}, "unknown role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tmpl.Render(tt.msgs, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRaiseException(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"top level", `{{ raise_exception("Roles must alternate") }}`, "Roles must alternate"},
		{"computed message", `{% if messages[0].role == 'system' %}{{ raise_exception('no ' ~ messages[0].role) }}{% endif %}`, "no system"},
		{"inside a loop", `{% for m in messages %}{% if loop.last %}{{ raise_exception('last is ' + m.role) }}{% endif %}{% endfor %}`, "last is user"},
		{"inside a macro", `{% macro f() %}{{ raise_exception('from macro') }}{% endmacro %}{{ f() }}`, "from macro"},
		{"inside set", `{% set x = raise_exception('in set') %}`, "in set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := New(tt.src, "", "")
			if err != nil {
				t.Fatal(err)
			}
			out, err := tmpl.Render(twoTurns, true)
			var raised *RaisedError
			if !errors.As(err, &raised) {
				t.Fatalf("Render = %q, %v (%T); want *RaisedError", out, err, err)
			}
			if raised.Message != tt.want {
				t.Errorf("message = %q, want %q", raised.Message, tt.want)
			}
		})
	}
}

func TestRenderErrorIsReadable(t *testing.T) {
	tmpl, err := New("{{ messages | frobnicate }}", "", "")
	if err != nil {
		t.Skipf("gonja rejects unknown filters at parse time: %v", err)
	}
	_, err = tmpl.Render(twoTurns, true)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("Render error = %v; want one line naming the filter", err)
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"huge range", "{% for i in range(100000000) %}x{% endfor %}", "range"},
		// Whichever of the step budget and the clock runs out first.
		{"nested loops", "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", ""},
		{"string repetition", "{{ 'abc' * 100000000000 }}", "repeated"},
		{"repetition, int first", "{% set n = 10 ** 12 %}{{ n * 'a' }}", "repeated"},
		{"doubling", "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}", "string"},
		{"tilde doubling", "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "string"},
		{"recursive macro", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested"},
		{"mutual recursion", "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", "nested"},
		{"wide center", "{{ 'x' | center(10000000000) }}", "width"},
		{"wide method", "{{ 'x'.ljust(10000000000) }}", "width"},
		{"huge output", "{% for i in range(100000) %}{{ '0123456789' * 100 }}{% endfor %}", "limit"},
		{"integer overflow", "{{ 10 ** 100 }}", "overflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := New(tt.src, "", "")
			if err != nil {
				t.Fatal(err)
			}
			tmpl.timeout = 300 * time.Millisecond
			start := time.Now()
			out, err := tmpl.Render(twoTurns, false)
			var le *LimitError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render = %d bytes, %v (%T); want a *LimitError containing %q", len(out), err, err, tt.want)
			}
			if d := time.Since(start); d > tmpl.timeout+5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestWithClockPinsStrftime(t *testing.T) {
	tmpl, err := New(`{{ strftime_now("%d %b %Y") }}`, "", "")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2024, 7, 4, 23, 59, 0, 0, time.UTC)
	got, err := tmpl.WithClock(func() time.Time { return day }).Render(twoTurns, true)
	if err != nil || got != "04 Jul 2024" {
		t.Fatalf("Render = %q, %v", got, err)
	}
	// The original keeps the wall clock.
	got, err = tmpl.Render(twoTurns, true)
	if err != nil || got != time.Now().Format("02 Jan 2006") {
		t.Fatalf("wall clock Render = %q, %v", got, err)
	}
}

func TestStrftime(t *testing.T) {
	at := time.Date(2025, 1, 5, 14, 3, 9, 123456000, time.UTC)
	tests := []struct{ format, want string }{
		{"%d %b %Y", "05 Jan 2025"},
		{"%-d %B %y", "5 January 25"},
		{"%A %a %j", "Sunday Sun 005"},
		{"%H:%M:%S %I %p", "14:03:09 02 PM"},
		{"%-H %-I %-m", "14 2 1"},
		{"%f %e|", "123456  5|"},
		{"%F %T %Z %z", "2025-01-05 14:03:09 UTC +0000"},
		{"100%% %Q %", "100% %Q %"},
	}
	for _, tt := range tests {
		if got := strftime(at, tt.format); got != tt.want {
			t.Errorf("strftime(%q) = %q, want %q", tt.format, got, tt.want)
		}
	}
}

func TestConcurrentRender(t *testing.T) {
	tmpl, err := Builtin("llama-3")
	if err != nil {
		t.Fatal(err)
	}
	want, err := tmpl.Render(twoTurns, true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				got, err := tmpl.Render(twoTurns, true)
				if err != nil || got != want {
					errs <- errors.New("concurrent render differs: " + got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestSourceIsKept(t *testing.T) {
	src := "{% for m in messages %}\n  {{ m.content }}\n{% endfor %}"
	tmpl, err := New(src, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Source() != src {
		t.Fatalf("Source() = %q", tmpl.Source())
	}
}

func BenchmarkRender(b *testing.B) {
	for _, name := range []string{"llama-3", "mistral", "zephyr"} {
		tmpl, err := Builtin(name)
		if err != nil {
			b.Fatal(err)
		}
		msgs := []Message{
			{Role: "system", Content: "You are a helpful assistant."},
			{Role: "user", Content: strings.Repeat("Tell me about rivers. ", 50)},
			{Role: "assistant", Content: strings.Repeat("Rivers flow to the sea. ", 50)},
			{Role: "user", Content: "And dams?"},
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := tmpl.Render(msgs, true); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("testdata", "templates", "llama-3.1-8b-instruct.jinja"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, err := New(string(src), "<|begin_of_text|>", "<|eot_id|>"); err != nil {
			b.Fatal(err)
		}
	}
}

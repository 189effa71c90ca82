package chat

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var fuzzConversation = []Message{
	{Role: "system", Content: "sys"},
	{Role: "user", Content: "héllo {{ x }}"},
	{Role: "assistant", Content: "ok\n"},
	{Role: "user", Content: ""},
}

// FuzzTemplate feeds arbitrary sources through New and Render. Neither may
// panic, hang or produce output past its limit, and the lstrip_blocks pass
// must keep every line where it was (so error positions stay right).
func FuzzTemplate(f *testing.F) {
	for _, dir := range []string{filepath.Join("testdata", "templates"), "builtin"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.jinja"))
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(string(b))
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "snippets.json")); err == nil {
		var snippets []struct{ Source string }
		if json.Unmarshal(b, &snippets) == nil {
			for _, s := range snippets {
				f.Add(s.Source)
			}
		}
	}
	for _, s := range []string{
		"{% raw %}{{ x }}{% endraw %}", "{{ '%}' }} {% if '}}' %}x{% endif %}", "{#- c -#}\n  {%+ if 1 %}",
		"{% macro m(a, *args, **kw) %}{{ caller() }}{% endmacro %}{% call m(1) %}c{% endcall %}",
		"{{ messages[0]['content'][::-1] * 3 ~ (2 ** 8) }}", "{% for k, v in {'a': 1} | items recursive %}{{ loop(v) }}{% endfor %}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		start := time.Now()
		// Raw bodies get their "-" whitespace control from lstripBlocks,
		// which may remove newlines; everywhere else it only drops blanks.
		if n, m := strings.Count(lstripBlocks(src), "\n"), strings.Count(newlines.Replace(src), "\n"); n != m && !strings.Contains(src, "raw") {
			t.Fatalf("lstripBlocks changed the line count from %d to %d", m, n)
		}
		tmpl, err := New(src, "<s>", "</s>")
		if d := time.Since(start); d > time.Second {
			t.Fatalf("New took %v", d)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("New returned an empty error")
			}
			return
		}
		tmpl.timeout = 100 * time.Millisecond
		start = time.Now()
		for _, gen := range []bool{true, false} {
			out, err := tmpl.Render(fuzzConversation, gen)
			if err == nil && len(out) > outputLimit(fuzzConversation) {
				t.Fatalf("output of %d bytes passed the limit", len(out))
			}
		}
		if d := time.Since(start); d > 5*time.Second { // generous: the machine may be loaded
			t.Fatalf("two renders took %v", d)
		}
	})
}

package bench

import (
	"strings"
	"testing"
)

func TestParseReplay(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []Request
		wantErr string
	}{
		{"lines and blanks", `{"prompt":"hello there","output_len":16,"prompt_len":3}

{"prompt":"x","output_len":1,"system":"be brief","note":"ignored"}
`, []Request{{Prompt: "hello there", OutputLen: 16, PromptLen: 3}, {System: "be brief", Prompt: "x", OutputLen: 1}}, ""},
		{"no trailing newline", `{"prompt":"p","output_len":2}`, []Request{{Prompt: "p", OutputLen: 2}}, ""},
		{"empty file", "\n\n", nil, "no requests"},
		{"not json", "prompt=x\n", nil, "line 1: not a JSON object"},
		{"missing prompt", `{"output_len":2}`, nil, `missing or empty "prompt"`},
		{"missing output_len", `{"prompt":"p"}`, nil, `missing "output_len"`},
		{"zero output_len", `{"prompt":"p","output_len":0}`, nil, "out of range"},
		{"huge output_len", `{"prompt":"p","output_len":99999999999}`, nil, "out of range"},
		{"negative prompt_len", `{"prompt":"p","output_len":1,"prompt_len":-3}`, nil, "out of range"},
		{"error names its line", "{\"prompt\":\"p\",\"output_len\":1}\n[1,2]\n", nil, "line 2"},
		{"line too long", `{"prompt":"` + strings.Repeat("a", maxReplayLine) + `","output_len":1}`, nil, "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseReplay(strings.NewReader(c.in))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d requests, want %d", len(got), len(c.want))
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("request %d = %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func FuzzParseReplay(f *testing.F) {
	f.Add([]byte(`{"prompt":"hello","output_len":16}` + "\n"))
	f.Add([]byte(`{"prompt":"a","output_len":1,"system":"s","prompt_len":4}` + "\n\n{}"))
	f.Add([]byte(`{"prompt":null,"output_len":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		reqs, err := ParseReplay(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, r := range reqs {
			if r.Prompt == "" || r.OutputLen < 1 || r.OutputLen > maxLen || r.PromptLen < 0 {
				t.Fatalf("accepted an invalid request %+v", r)
			}
		}
	})
}

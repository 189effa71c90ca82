package chat

import (
	"math"
	"testing"
)

func TestPyFloat(t *testing.T) {
	// Expected values are CPython's repr (and so json.dumps) of each float.
	tests := []struct {
		f    float64
		want string
	}{
		{1, "1.0"}, {0.1, "0.1"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
		{1.5e-5, "1.5e-05"}, {0.0001, "0.0001"}, {123456789.123, "123456789.123"},
		{math.Copysign(0, -1), "-0.0"}, {0, "0.0"}, {math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"}, {2.5e-320, "2.5e-320"},
		{1.0 / 3, "0.3333333333333333"}, {9999999999999998, "9999999999999998.0"},
		{1e22, "1e+22"}, {5e-324, "5e-324"}, {-2.5, "-2.5"},
	}
	for _, tt := range tests {
		if got := pyFloat(tt.f); got != tt.want {
			t.Errorf("pyFloat(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

func TestToJSONFilter(t *testing.T) {
	tests := []struct{ src, want string }{
		// Outputs as printed by CPython's json.dumps with the same arguments.
		{`{{ "\x00\x1f\x7f\u2028é😀" | tojson }}`, "\"\\u0000\\u001f\x7f\u2028é😀\""},
		{`{{ "\x00\x1f\x7f\u2028é😀" | tojson(ensure_ascii=true) }}`, `"\u0000\u001f\u007f\u2028\u00e9\ud83d\ude00"`},
		{`{{ {'a': [1, {'b': 'x'}]} | tojson(separators=(',', ':')) }}`, `{"a":[1,{"b":"x"}]}`},
		{`{{ messages[1] | tojson }}`, `{"role": "user", "content": "Hi"}`},
		{`{{ namespace(x=1).x | tojson }}`, `1`},
	}
	for _, tt := range tests {
		tmpl, err := New(tt.src, "", "")
		if err != nil {
			t.Fatalf("New(%s): %v", tt.src, err)
		}
		got, err := tmpl.Render(twoTurns, false)
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.src, got, err, tt.want)
		}
	}
	for _, src := range []string{`{{ 1 | tojson(indent=-1) }}`, `{{ 1 | tojson(bogus=1) }}`, `{{ 1 | tojson(2) }}`} {
		tmpl, err := New(src, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if out, err := tmpl.Render(twoTurns, false); err == nil {
			t.Errorf("%s = %q, want an error", src, out)
		}
	}
}

package bench

import (
	"math"
	"strings"
	"testing"
)

const promPage = `# HELP spillway:num_preemptions_total Cumulative number of preemptions from the engine.
# TYPE spillway:num_preemptions_total counter
spillway:num_preemptions_total{model_name="tiny"} 3
spillway:kv_cache_usage_perc{model_name="tiny"} 0.25
spillway:kv_cache_usage_perc{model_name="other"} 0.5
spillway:time_to_first_token_seconds_bucket{le="+Inf",model_name="tiny"} 7
spillway:time_to_first_token_seconds_sum{model_name="tiny"} 1.5e-1 1700000000000
weird{a="q\"uote",b="back\\slash",c="new\nline",} -Inf
process_open_fds 12
nan_metric NaN
`

func TestParseProm(t *testing.T) {
	got, err := ParseProm(strings.NewReader(promPage))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 {
		t.Fatalf("%d samples, want 8", len(got))
	}
	checks := []struct {
		i     int
		name  string
		label string
		lval  string
		value float64
	}{
		{0, "spillway:num_preemptions_total", "model_name", "tiny", 3},
		{2, "spillway:kv_cache_usage_perc", "model_name", "other", 0.5},
		{3, "spillway:time_to_first_token_seconds_bucket", "le", "+Inf", 7},
		{4, "spillway:time_to_first_token_seconds_sum", "model_name", "tiny", 0.15},
		{5, "weird", "a", `q"uote`, math.Inf(-1)},
		{6, "process_open_fds", "", "", 12},
	}
	for _, c := range checks {
		s := got[c.i]
		if s.Name != c.name || s.Value != c.value || (c.label != "" && s.Labels[c.label] != c.lval) {
			t.Errorf("sample %d = %+v, want %s{%s=%q} %v", c.i, s, c.name, c.label, c.lval, c.value)
		}
	}
	if w := got[5].Labels; w["b"] != `back\slash` || w["c"] != "new\nline" {
		t.Errorf("escapes: %q", w)
	}
	if !math.IsNaN(got[7].Value) {
		t.Errorf("NaN parsed as %v", got[7].Value)
	}
}

func TestParsePromErrors(t *testing.T) {
	for _, bad := range []string{
		`{a="b"} 1`,    // no name
		`m{a="b" 1`,    // unclosed braces
		`m{a=b} 1`,     // unquoted value
		`m{a="b\x"} 1`, // unknown escape
		`m{a="b} 1`,    // unterminated value
		`m`,            // no value
		`m one`,        // bad value
		`m 1 2 3`,      // too many fields
		`m 1 later`,    // bad timestamp
		`m{a="1"}2`,    // no space before the value
		"m{" + strings.Repeat(`a="1",`, maxPromLabels+1) + "} 1",
	} {
		if _, err := ParseProm(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("ParseProm(%q) accepted", bad)
		}
	}
}

func FuzzParseProm(f *testing.F) {
	f.Add([]byte(promPage))
	f.Add([]byte("m{a=\"\\\\\"} +Inf\n# x\n\nn 1 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		samples, err := ParseProm(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, s := range samples {
			if s.Name == "" || len(s.Labels) > maxPromLabels {
				t.Fatalf("accepted sample %+v", s)
			}
		}
	})
}

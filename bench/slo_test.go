package bench

import (
	"strings"
	"testing"
	"time"
)

func TestParseSLO(t *testing.T) {
	cases := []struct {
		in      string
		want    SLO
		wantErr string
	}{
		{"", SLO{}, ""},
		{"ttft:200ms,tpot:50ms", SLO{TTFT: 200 * ms, TPOT: 50 * ms}, ""},
		{" TTFT : 1.5s , e2e:10s ", SLO{TTFT: 1500 * ms, E2EL: 10 * time.Second}, ""},
		{"ttft:200,tpot:7.5", SLO{TTFT: 200 * ms, TPOT: 7500 * time.Microsecond}, ""}, // vLLM's bare milliseconds
		{"e2el:2m", SLO{E2EL: 2 * time.Minute}, ""},
		{"ttft", SLO{}, "want metric:value"},
		{"itl:5ms", SLO{}, "unknown metric"},
		{"ttft:-5ms", SLO{}, "positive"},
		{"ttft:0", SLO{}, "out of range"},
		{"ttft:NaN", SLO{}, "out of range"},
		{"ttft:fast", SLO{}, "neither a duration"},
		{"ttft:1s,ttft:2s", SLO{}, "twice"},
		{strings.Repeat("ttft:1s,", 40), SLO{}, "longer than 256"},
	}
	for _, c := range cases {
		got, err := ParseSLO(c.in)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ParseSLO(%q) error = %v, want one containing %q", c.in, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSLO(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

func FuzzParseSLO(f *testing.F) {
	for _, s := range []string{"ttft:200ms,tpot:50ms", "e2el:3", "ttft:1e400", "tpot:1ns", ":", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		slo, err := ParseSLO(s)
		if err != nil {
			return
		}
		if slo.TTFT < 0 || slo.TPOT < 0 || slo.E2EL < 0 {
			t.Fatalf("ParseSLO(%q) gave a negative objective: %+v", s, slo)
		}
		again, err := ParseSLO(slo.String())
		if err != nil || again != slo {
			t.Fatalf("round trip of %q: %q → %+v, %v", s, slo.String(), again, err)
		}
	})
}

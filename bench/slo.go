package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SLO holds the service-level objectives of goodput; a zero field is not
// checked.
type SLO struct {
	TTFT time.Duration `json:"ttft,omitempty"`
	TPOT time.Duration `json:"tpot,omitempty"`
	E2EL time.Duration `json:"e2el,omitempty"`
}

// Empty reports that no objective is set (goodput is then not computed).
func (s SLO) Empty() bool { return s == SLO{} }

// Meets reports whether a request's figures are within every objective
// set; equality passes, as in vLLM.
func (s SLO) Meets(ttft, tpot, e2el time.Duration) bool {
	return (s.TTFT == 0 || ttft <= s.TTFT) && (s.TPOT == 0 || tpot <= s.TPOT) && (s.E2EL == 0 || e2el <= s.E2EL)
}

// String gives the form ParseSLO reads.
func (s SLO) String() string {
	var parts []string
	for _, kv := range []struct {
		k string
		v time.Duration
	}{{"ttft", s.TTFT}, {"tpot", s.TPOT}, {"e2el", s.E2EL}} {
		if kv.v != 0 {
			parts = append(parts, kv.k+":"+kv.v.String())
		}
	}
	return strings.Join(parts, ",")
}

// ParseSLO reads "ttft:200ms,tpot:50ms,e2el:2s". A value is a Go duration
// or a bare number of milliseconds (vLLM's --goodput ttft:200 form); "e2e"
// is accepted for "e2el". The empty string is the empty SLO.
func ParseSLO(text string) (SLO, error) {
	var s SLO
	text = strings.TrimSpace(text)
	if text == "" {
		return s, nil
	}
	if len(text) > 256 {
		return s, fmt.Errorf("goodput SLO %.20q… is longer than 256 bytes", text)
	}
	for _, part := range strings.Split(text, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return SLO{}, fmt.Errorf("goodput SLO %q: want metric:value, e.g. ttft:200ms", part)
		}
		d, err := parseSLOValue(strings.TrimSpace(val))
		if err != nil {
			return SLO{}, fmt.Errorf("goodput SLO %q: %w", part, err)
		}
		var field *time.Duration
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "ttft":
			field = &s.TTFT
		case "tpot":
			field = &s.TPOT
		case "e2el", "e2e":
			field = &s.E2EL
		default:
			return SLO{}, fmt.Errorf("goodput SLO %q: unknown metric %q (have ttft, tpot, e2el)", part, key)
		}
		if *field != 0 {
			return SLO{}, fmt.Errorf("goodput SLO: %s given twice", key)
		}
		*field = d
	}
	return s, nil
}

func parseSLOValue(v string) (time.Duration, error) {
	var d time.Duration
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if !(f > 0 && f <= 1e9) { // also rejects NaN
			return 0, fmt.Errorf("value %q out of range (0, 1e9] ms", v)
		}
		d = time.Duration(f * float64(time.Millisecond))
	} else {
		var perr error
		if d, perr = time.ParseDuration(v); perr != nil {
			return 0, fmt.Errorf("value %q is neither a duration (200ms) nor a number of milliseconds", v)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("value %q must be positive", v)
	}
	return d, nil
}

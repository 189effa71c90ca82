package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Prometheus text-format limits: /metrics pages are kilobytes; these only
// keep a hostile one from costing more than a few megabytes.
const (
	maxPromLine    = 1 << 20
	maxPromSamples = 1 << 18
	maxPromLabels  = 64
)

// Sample is one line of a Prometheus text exposition.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseProm reads the Prometheus text exposition format (version 0.0.4):
// comments and blank lines are skipped, each other line is
// name{label="value",...} value [timestamp].
func ParseProm(r io.Reader) ([]Sample, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxPromLine)
	var out []Sample
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		if len(out) == maxPromSamples {
			return nil, fmt.Errorf("metrics line %d: more than %d samples", line, maxPromSamples)
		}
		s, err := parsePromLine(text)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("metrics: a line is longer than %d bytes", maxPromLine)
		}
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return out, nil
}

func isNameChar(c byte, first bool) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9')
}

// promName splits a metric or label name off the front of s.
func promName(s string) (name, rest string) {
	i := 0
	for i < len(s) && isNameChar(s[i], i == 0) {
		i++
	}
	return s[:i], s[i:]
}

func parsePromLine(s string) (Sample, error) {
	name, rest := promName(s)
	if name == "" {
		return Sample{}, fmt.Errorf("no metric name in %.60q", s)
	}
	smp := Sample{Name: name}
	if strings.HasPrefix(rest, "{") {
		labels, after, err := parseLabels(rest[1:])
		if err != nil {
			return Sample{}, fmt.Errorf("%s: %w", name, err)
		}
		smp.Labels, rest = labels, after
	}
	fields := strings.Fields(rest)
	if len(fields) < 1 || len(fields) > 2 || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return Sample{}, fmt.Errorf("%s: want a value (and optional timestamp) after the name, got %.60q", name, rest)
	}
	v, err := parsePromFloat(fields[0])
	if err != nil {
		return Sample{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(fields) == 2 {
		if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
			return Sample{}, fmt.Errorf("%s: bad timestamp %.30q", name, fields[1])
		}
	}
	smp.Value = v
	return smp, nil
}

func parsePromFloat(f string) (float64, error) {
	switch f {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return 0, fmt.Errorf("bad value %.30q", f)
	}
	return v, nil
}

// parseLabels reads `a="x",b="y"}` (the opening brace already consumed)
// and returns what follows the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for range maxPromLabels + 1 {
		s = strings.TrimLeft(s, " \t")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], nil
		}
		if len(labels) == maxPromLabels {
			return nil, "", fmt.Errorf("more than %d labels", maxPromLabels)
		}
		var name string
		name, s = promName(s)
		if name == "" || !strings.HasPrefix(s, `="`) {
			return nil, "", fmt.Errorf("bad label near %.40q", s)
		}
		val, rest, err := promString(s[2:])
		if err != nil {
			return nil, "", fmt.Errorf("label %s: %w", name, err)
		}
		labels[name] = val
		s = strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(s, ",") {
			s = s[1:]
		} else if !strings.HasPrefix(s, "}") {
			return nil, "", fmt.Errorf("want , or } after label %s", name)
		}
	}
	return nil, "", fmt.Errorf("more than %d labels", maxPromLabels)
}

// promString reads an escaped label value up to its closing quote.
func promString(s string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", errors.New("unterminated escape")
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case '\\', '"':
				b.WriteByte(s[i])
			default:
				return "", "", fmt.Errorf("unknown escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated label value")
}

package federation

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type ev struct{ name, data string }

func readAllEvents(r io.Reader) ([]ev, error) {
	s := newSSEReader(r)
	var out []ev
	for {
		e, err := s.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev{e.name, string(e.data)})
	}
}

func TestSSEReader(t *testing.T) {
	cases := []struct {
		name, in string
		want     []ev
		wantErr  error
	}{
		{"one event", "data: x\n\n", []ev{{"", "x"}}, nil},
		{"named", "event: ping\ndata: {}\n\n", []ev{{"ping", "{}"}}, nil},
		{"CRLF", "event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n", []ev{{"a", "1"}, {"", "2"}}, nil},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}, nil},
		{"no space after colon", "data:x\n\n", []ev{{"", "x"}}, nil},
		{"only one space stripped", "data:  x\n\n", []ev{{"", " x"}}, nil},
		{"comments and unknown fields", ": keep-alive\nid: 7\nretry: 10\nfoo: bar\ndata: x\n\n", []ev{{"", "x"}}, nil},
		{"event without data is dropped", "event: a\n\ndata: x\n\n", []ev{{"", "x"}}, nil},
		{"name does not leak to the next event", "event: a\ndata: 1\n\ndata: 2\n\n", []ev{{"a", "1"}, {"", "2"}}, nil},
		{"final event without blank line", "data: [DONE]", []ev{{"", "[DONE]"}}, nil},
		{"field without colon", "data\n\n", []ev{{"", ""}}, nil},
		{"empty stream", "", nil, nil},
		{"blank lines only", "\n\n\n", nil, nil},
		{"over-long line", "data: " + strings.Repeat("x", maxSSELine+1) + "\n\n", nil, ErrMalformed},
		{"long line within limit", "data: " + strings.Repeat("y", 100_000) + "\n\n", []ev{{"", strings.Repeat("y", 100_000)}}, nil},
		{"over-large event", strings.Repeat("data: "+strings.Repeat("z", 1<<19)+"\n", 9) + "\n", nil, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read as well: framing must not depend on
			// how the body arrives.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got, err := readAllEvents(r)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if tc.wantErr != nil {
					continue
				}
				if len(got) != len(tc.want) {
					t.Fatalf("%d events %q, want %q", len(got), got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Errorf("event %d = %q, want %q", i, got[i], tc.want[i])
					}
				}
			}
		})
	}
}

// TestSSEReadError: a broken body surfaces its error, not io.EOF.
func TestSSEReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(io.ErrUnexpectedEOF))
	got, err := readAllEvents(r)
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 1 {
		t.Fatalf("events %q err %v, want one event then ErrUnexpectedEOF", got, err)
	}
}

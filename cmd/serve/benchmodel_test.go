package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBenchModelLists: -p and -n take lists, --npl adds one batched-decode
// row per sequence count (every sequence's tokens generated), and bad
// lists are refused with the flag named.
func TestBenchModelLists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if code, _, errOut := run(t, "", "mkmodel", "--preset", "tiny", "--type", "q8_0", "-o", path, "--quiet"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := run(t, "", "bench", "model", "--model", path, "-p", "16,32", "-n", "8", "-r", "1",
		"--npl", "1,3", "--npl-prompt", "5", "--npl-gen", "4")
	if code != 0 {
		t.Fatal(errOut)
	}
	for _, want := range []string{"| pp16 |", "| pp32 |", "| tg8 |", "| 1 | 5 | 4 |", "| 3 | 5 | 4 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	tests := []struct{ name, flag, val, want string }{
		{"word in -p", "-p", "512,many", "-p"},
		{"negative -n", "-n", "-3", "-n"},
		{"empty --npl item", "--npl", "1,,8", "-npl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, "", "bench", "model", "--model", path, tc.flag, tc.val)
			if code == 0 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "comma-separated") {
				t.Fatalf("exit %d, stderr %q: want a failure naming %s", code, errOut, tc.want)
			}
		})
	}
}

// FuzzIntList: any string either parses into counts ≥ 0 that print back
// to an equivalent list, or is refused with an error; never a panic.
func FuzzIntList(f *testing.F) {
	for _, s := range []string{"512", "1,8,32,128,256", " 4 , 5", "", ",", "-1", "1e3", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l intList
		if err := l.Set(s); err != nil {
			return
		}
		var back intList
		if err := back.Set(l.String()); err != nil {
			t.Fatalf("%q parsed as %v, which prints as %q and does not parse: %v", s, l, l.String(), err)
		}
		if !slices.Equal(back, l) {
			t.Fatalf("%q: %v round-trips to %v", s, l, back)
		}
		for _, n := range l {
			if n < 0 {
				t.Fatalf("%q: negative count %d accepted", s, n)
			}
		}
	})
}

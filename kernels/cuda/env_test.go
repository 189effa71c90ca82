//go:build cgo

package cuda

import (
	"strings"
	"testing"

	"spillway/kernels"
)

// envCase is a value of an environment variable and what its parser
// makes of it; ok false: an error that names the variable.
type envCase[T comparable] struct {
	v    string
	want T
	ok   bool
}

// checkEnv runs parse over cases, then opens a backend with each refused
// value set: New must stop with an error naming the variable, before it
// looks for a driver (so this needs no GPU).
func checkEnv[T comparable](t *testing.T, name string, parse func(string) (T, error), cases []envCase[T]) {
	t.Helper()
	for _, tc := range cases {
		got, err := parse(tc.v)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s=%q: got %v, %v; want %v, ok=%v", name, tc.v, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q: %v does not name the variable", name, tc.v, err)
		}
		if tc.ok {
			continue
		}
		t.Setenv(name, tc.v)
		if _, err := New(kernels.Options{}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("New with %s=%q: %v", name, tc.v, err)
		}
		t.Setenv(name, "")
	}
}

// TestEnvSwitches: the variables that pick GPU paths for side-by-side
// measurement take their documented values and refuse the rest.
func TestEnvSwitches(t *testing.T) {
	checkEnv(t, "SPILLWAY_CUDA_GEMV_SPLIT", gemvWarpsEnv, []envCase[int]{
		{"", 0, true}, {"1", 1, true}, {"2", 2, true}, {"4", 4, true},
		{"3", 0, false}, {"8", 0, false}, {"two", 0, false}, {" 2", 0, false},
	})
	checkEnv(t, "SPILLWAY_CUDA_GEMV", gemvModeEnv, []envCase[gemvMode]{
		{"", gemvDirect, true}, {"generic", gemvGeneric, true}, {"stream", gemvStream, true},
		{"direct", 0, false}, {"Stream", 0, false},
	})
	checkEnv(t, "SPILLWAY_CUDA_ATTN", attnMergeEnv, []envCase[bool]{
		{"", false, true}, {"combine", false, true}, {"merge", true, true},
		{"Merge", false, false}, {"1", false, false},
	})
}

// Package testenv locates the read-only test data that lives beside the
// repository in ../shared (oracle models, llama.cpp references, tiny real
// models). That data is not ours and is never committed; a user's clone has
// none, so tests that need it skip with a message that says so.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the directory holding go.mod, found from this source file so
// it works from any package's test binary.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir returns ../shared beside the repository, or "" when absent.
// SPILLWAY_SHARED overrides the location.
func SharedDir() string {
	d := os.Getenv("SPILLWAY_SHARED")
	if d == "" {
		d = filepath.Join(RepoRoot(), "..", "shared")
	}
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return ""
	}
	return d
}

// Shared returns the path of rel inside ../shared, skipping the test with a
// clear message when ../shared or that file is absent.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	d := SharedDir()
	if d == "" {
		t.Skip("skipping: ../shared test data is absent (it is not part of the repository)")
	}
	p := filepath.Join(d, rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("skipping: %s is absent from ../shared", rel)
	}
	return p
}

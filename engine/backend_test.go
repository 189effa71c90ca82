package engine_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"spillway/kernels"
)

// testBackend is SPILLWAY_TEST_BACKEND (e.g. "ref" to run the oracle
// checks on the pure-Go reference, "cuda" on a GPU host), else the CPU
// backend when built with cgo: CI machines have no GPU, and "auto" would
// try one first.
func testBackend() string {
	if b := os.Getenv("SPILLWAY_TEST_BACKEND"); b != "" {
		return b
	}
	if slices.Contains(kernels.Names(), "cpu") {
		return "cpu"
	}
	return "ref"
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "spillway-engine-test-") }

func TestMain(m *testing.M) {
	code := m.Run()
	if tinyPath != "" {
		os.RemoveAll(filepath.Dir(tinyPath))
	}
	os.Exit(code)
}

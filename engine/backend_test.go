package engine_test

import (
	"os"
	"path/filepath"
	"testing"

	"spillway/engine"
)

// testBackend is the fastest backend built in, or SPILLWAY_TEST_BACKEND
// (e.g. "ref" to run the oracle checks on the pure-Go reference).
func testBackend() string {
	if b := os.Getenv("SPILLWAY_TEST_BACKEND"); b != "" {
		return b
	}
	return engine.ChooseBackend("auto")
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "spillway-engine-test-") }

func TestMain(m *testing.M) {
	code := m.Run()
	if tinyPath != "" {
		os.RemoveAll(filepath.Dir(tinyPath))
	}
	os.Exit(code)
}

package engine_test

import (
	"os"

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

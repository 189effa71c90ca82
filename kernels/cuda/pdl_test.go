//go:build cgo

package cuda

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKernelsEnterPDL: every kernel's first statement is pdl_enter(). With
// programmatic dependent launch a kernel may start before the one it
// depends on has finished; one that touched memory before the wait would
// race, silently (pdl.go).
func TestKernelsEnterPDL(t *testing.T) {
	files, err := filepath.Glob("*.cu*") // .cu and .cuh
	if err != nil || len(files) == 0 {
		t.Fatalf("no kernel sources: %v", err)
	}
	sig := regexp.MustCompile(`KERNEL void ([\w#]+)\(`) // ## in macros
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(src)
		for _, m := range sig.FindAllStringSubmatchIndex(s, -1) {
			name := s[m[2]:m[3]]
			open := strings.Index(s[m[1]:], "{")
			if open < 0 {
				t.Fatalf("%s: kernel %s has no body", f, name)
			}
			body := strings.TrimLeft(s[m[1]+open+1:], " \t\\\n")
			if !strings.HasPrefix(body, "pdl_enter();") {
				t.Errorf("%s: kernel %s does not start with pdl_enter()", f, name)
			}
			n++
		}
	}
	if n < 15 { // the macros define many kernels each
		t.Fatalf("found only %d kernels", n)
	}
}

// TestPDLProbe: on sm_90 and newer (and on the emulator, which reports
// 9.0) programmatic dependent launch passes its probe and is on, unless
// SPILLWAY_CUDA_PDL=0 turns it off; the error says why it is not.
func TestPDLProbe(t *testing.T) {
	be := newCUDA(t, 0)
	defer be.Close()
	switch {
	case os.Getenv("SPILLWAY_CUDA_PDL") == "0":
		if be.g.pdl {
			t.Fatal("PDL is on with SPILLWAY_CUDA_PDL=0")
		}
	case be.g.info.cc < 90:
		t.Skipf("skipping: %s has no PDL", be.Device())
	case !be.g.pdl:
		t.Fatalf("PDL is off on %s: %v", be.Device(), be.pdlErr)
	}
	t.Logf("%s", be.Device())
}

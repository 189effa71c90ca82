//go:build cgo

package cuda

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKernelsEnterPDL: every kernel opens with pdl_enter(), after at most
// a prologue that reads no memory a kernel of the step writes: prefetches
// into L2 (coherent, so they cannot race), the GEMV's choice of its matrix
// from its arguments, the streamed GEMV's first copies of its weights into
// shared memory (gemv_stream_begin), and attention's attn_begin (the
// staged metadata and the cache rows of earlier steps' positions). With
// programmatic dependent launch a kernel may start before the one it
// depends on has finished; one that read or wrote anything else before
// the wait would race, silently (pdl.go).
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
			body := s[m[1]+open+1:]
			enter := strings.Index(body, "pdl_enter();")
			if enter < 0 {
				t.Errorf("%s: kernel %s does not call pdl_enter()", f, name)
			} else if bad := prologueStatement(body[:enter]); bad != "" {
				t.Errorf("%s: kernel %s runs %q before pdl_enter()", f, name, bad)
			}
			n++
		}
	}
	if n < 15 { // the macros define many kernels each
		t.Fatalf("found only %d kernels", n)
	}
}

// pdlPrologue: the statements a kernel may run before pdl_enter().
var pdlPrologue = []string{"pdl_prefetch_l2(", "gemv_prefetch(", "gseg g = gemv_seg(GEMV_GROUP_ARGS);",
	"gstream g = gemv_stream_begin(", "attn_pre pre = attn_begin("}

// prologueStatement returns the first statement of src (a kernel body up
// to its pdl_enter) that pdlPrologue does not allow, or "".
func prologueStatement(src string) string {
	for _, st := range strings.Split(src, ";") {
		if i := strings.Index(st, "//"); i >= 0 {
			st = st[:i]
		}
		st = strings.Trim(st, " \t\\\n")
		if st == "" {
			continue
		}
		ok := false
		for _, p := range pdlPrologue {
			ok = ok || strings.HasPrefix(st+";", p)
		}
		if !ok {
			return st
		}
	}
	return ""
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

func TestPrologueStatement(t *testing.T) {
	for _, c := range []struct{ src, bad string }{
		{"\n\t", ""},
		{" \\\n\t\tgseg g = gemv_seg(GEMV_GROUP_ARGS); \\\n\t\tgemv_prefetch(g, R, rb); \\\n\t\t", ""},
		{"\n\tpdl_prefetch_l2(w, n); // before the wait\n\t", ""},
		{"\n\tfloat v = x[0];\n\t", "float v = x[0]"},
		{"\n\tpdl_prefetch_l2(w, n);\n\tout[0] = 1.0f;\n\t", "out[0] = 1.0f"},
	} {
		if got := prologueStatement(c.src); got != c.bad {
			t.Errorf("prologueStatement(%q) = %q, want %q", c.src, got, c.bad)
		}
	}
}

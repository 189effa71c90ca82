//go:build cgo

package cuda

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"spillway/kernels"
)

// cleanErrors are the reasons a machine cannot run the backend; the
// factory must give one of them (or succeed on a GPU host).
var cleanErrors = []string{"no CUDA driver", "no CUDA device", "built without kernels", "compute capability"}

func isClean(err error) bool {
	for _, s := range cleanErrors {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// TestFactory builds the registered backend and checks that, where it
// cannot run, it says why in one of the expected words, without a panic.
func TestFactory(t *testing.T) {
	be, err := kernels.New("cuda", kernels.Options{})
	if err == nil {
		t.Logf("CUDA backend up: %s", be.(*Backend).Device())
		if be.Name() != "cuda" || be.ActDType() != kernels.F16 {
			t.Errorf("Name %q, ActDType %s; want cuda, F16", be.Name(), be.ActDType())
		}
		if err := be.Close(); err != nil {
			t.Error(err)
		}
		return
	}
	if !isClean(err) || !strings.HasPrefix(err.Error(), "cuda: ") {
		t.Fatalf("kernels.New(\"cuda\") = %v; want a \"cuda: \" error naming one of %q", err, cleanErrors)
	}
	t.Logf("no CUDA here, as reported: %v", err)
}

// TestNoDriver points the loader at a library that does not exist.
func TestNoDriver(t *testing.T) {
	_, err := open(kernels.Options{}, "libcuda-spillway-absent.so.1", fatbinFS)
	if err == nil || !strings.Contains(err.Error(), "no CUDA driver (libcuda-spillway-absent.so.1 not found)") {
		t.Fatalf("open with a missing driver library = %v", err)
	}
}

func TestOptions(t *testing.T) {
	cases := []struct {
		name string
		o    kernels.Options
		want string // error substring; "" = acceptable per cleanErrors
	}{
		{"act Q4_0", kernels.Options{ActDType: kernels.Q4_0}, "activation type Q4_0 unsupported"},
		{"act F32 means default", kernels.Options{ActDType: kernels.F32}, ""},
		{"act BF16", kernels.Options{ActDType: kernels.BF16}, ""},
		{"device -1", kernels.Options{Device: -1}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be, err := New(tc.o)
			if err == nil {
				defer be.Close()
				if tc.want != "" {
					t.Fatalf("New(%+v) succeeded; want %q", tc.o, tc.want)
				}
				return
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) = %v; want %q", tc.o, err, tc.want)
			}
			if tc.want == "" && !isClean(err) && !strings.Contains(err.Error(), "requested") {
				t.Fatalf("New(%+v) = %v", tc.o, err)
			}
		})
	}
	for _, tc := range []struct{ in, want kernels.DType }{
		{kernels.F32, kernels.F16}, {kernels.F16, kernels.F16}, {kernels.BF16, kernels.BF16},
	} {
		if got, err := actType(tc.in); err != nil || got != tc.want {
			t.Errorf("actType(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// TestKernelImage checks the embedded-kernel loader on every state a
// build can leave: no fatbin (make cuda never ran), an empty or foreign
// file, and a real one.
func TestKernelImage(t *testing.T) {
	valid := []byte{0x50, 0xed, 0x55, 0xba, 1, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	cases := []struct {
		name string
		fs   fstest.MapFS
		want string // "" = valid
	}{
		{"absent", fstest.MapFS{"fatbin/README.md": {Data: []byte("x")}}, "built without kernels: run make cuda"},
		{"empty", fstest.MapFS{fatbinPath: {Data: nil}}, "built without kernels: run make cuda"},
		{"short", fstest.MapFS{fatbinPath: {Data: valid[:8]}}, "not a CUDA fatbin"},
		{"foreign", fstest.MapFS{fatbinPath: {Data: []byte("\x7fELF0123456789abcdef")}}, "not a CUDA fatbin"},
		{"fatbin", fstest.MapFS{fatbinPath: {Data: valid}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := kernelImage(tc.fs)
			switch {
			case tc.want == "" && (err != nil || len(b) != len(valid)):
				t.Fatalf("kernelImage = %d bytes, %v; want the fatbin", len(b), err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("kernelImage = %v; want %q", err, tc.want)
			}
		})
	}
	// The embedded directory is in one of the two states a build leaves.
	_, err := kernelImage(fatbinFS)
	if err != nil && !errors.Is(err, errNoKernels) {
		t.Fatalf("embedded kernels: %v", err)
	}
	t.Logf("this build embeds kernels: %v", HasKernels())
}

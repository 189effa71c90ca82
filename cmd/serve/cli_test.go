package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"spillway/internal/testenv"
)

// run calls the CLI in-process and returns its exit code and output.
func run(t *testing.T, in string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	old := stdin
	stdin = strings.NewReader(in)
	defer func() { stdin = old }()
	code := realMain(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestTokenizeCLIVectors: `spillway tokenize --no-bos` reproduces every
// llama.cpp tokenizer test vector from the command line.
func TestTokenizeCLIVectors(t *testing.T) {
	vocabs := map[string]string{
		"llama-spm": "oracle/vocab/ggml-vocab-llama-spm.gguf",
		"phi-3":     "oracle/vocab/ggml-vocab-phi-3.gguf",
		"gpt-2":     "oracle/vocab/ggml-vocab-gpt-2.gguf",
		"llama-bpe": "oracle/models/tiny-bpe-Q4_K_M-embQ4_K.gguf",
	}
	for name, model := range vocabs {
		t.Run(name, func(t *testing.T) {
			path := testenv.Shared(t, model)
			base := testenv.Shared(t, "oracle/vocab/ggml-vocab-"+name+".gguf.inp")
			inp, _ := os.ReadFile(base)
			out, _ := os.ReadFile(strings.TrimSuffix(base, ".inp") + ".out")
			cases := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
			cases = cases[:len(cases)-1] // the file ends with the separator
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(cases) != len(lines) {
				t.Fatalf("%d cases, %d expected lines", len(cases), len(lines))
			}
			for i, c := range cases {
				code, stdout, stderr := run(t, c, "tokenize", "--model", path, "--no-bos")
				if code != 0 {
					t.Fatalf("case %d: exit %d: %s", i, code, stderr)
				}
				var got []int32
				if err := json.Unmarshal([]byte(stdout), &got); err != nil {
					t.Fatalf("case %d: output %q: %v", i, stdout, err)
				}
				var want []int32
				for _, f := range strings.Fields(lines[i]) {
					v, _ := strconv.Atoi(f)
					want = append(want, int32(v))
				}
				if !slices.Equal(got, want) {
					t.Errorf("case %d %q: got %v, want %v", i, c, got, want)
				}
			}
			t.Logf("%s: %d/%d vectors", name, len(cases), len(cases))
		})
	}
}

// TestInspectEverySharedFile: inspect reads every GGUF file and the HF
// directory under ../shared, text and JSON, and refuses the GGUF v1 fixture
// with a clear message.
func TestInspectEverySharedFile(t *testing.T) {
	root := testenv.Shared(t, ".")
	var paths []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".gguf") {
			paths = append(paths, p)
		}
		return nil
	})
	paths = append(paths, filepath.Join(root, "models/TinyStories-656K-hf"))
	for _, p := range paths {
		rel, _ := filepath.Rel(root, p)
		t.Run(rel, func(t *testing.T) {
			code, out, errOut := run(t, "", "inspect", p)
			if strings.Contains(p, "ggufv1") {
				if code == 0 || !strings.Contains(errOut, "GGUF v1 is not supported") {
					t.Fatalf("v1 file: exit %d, stderr %q", code, errOut)
				}
				return
			}
			if code != 0 || !strings.Contains(out, "tensors,") {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			code, out, errOut = run(t, "", "inspect", "--json", p)
			var rep inspectReport
			if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Architecture == "" {
				t.Fatalf("--json: exit %d, stderr %q", code, errOut)
			}
		})
	}
}

// TestMkmodelTinyLlamaTable: the full-size preset's table (written and read
// back through the CLI) has the real shapes and block-exact sizes.
func TestMkmodelTinyLlamaQ4_0(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 600 MiB file")
	}
	path := filepath.Join(t.TempDir(), "tl.gguf")
	if code, _, errOut := run(t, "", "mkmodel", "--preset", "tinyllama-1.1b", "--type", "q4_0", "-o", path, "--quiet"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := run(t, "", "inspect", "--json", path)
	if code != 0 {
		t.Fatal(errOut)
	}
	var rep inspectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Config == nil || rep.Config.Dim != 2048 || rep.Config.NumLayers != 22 || rep.Config.NumKVHeads != 4 || rep.Config.FFNDim != 5632 {
		t.Fatalf("config %+v", rep.Config)
	}
	for _, te := range rep.Tensors {
		blocks := int64(1)
		for _, d := range te.Shape[1:] {
			blocks *= int64(d)
		}
		per := map[string]int64{"Q4_0": 18, "Q6_K": 210, "F32": 4}[te.Type]
		size := map[string]int64{"Q4_0": 32, "Q6_K": 256, "F32": 1}[te.Type]
		if want := blocks * int64(te.Shape[0]) / size * per; te.Bytes != want {
			t.Errorf("%s %s %v: %d bytes, want %d", te.Name, te.Type, te.Shape, te.Bytes, want)
		}
	}
}

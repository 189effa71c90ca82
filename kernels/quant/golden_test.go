package quant

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"spillway/kernels"
)

var update = flag.Bool("update", false, "rewrite testdata/quantize.golden from the current quantizers")

const goldenFile = "testdata/quantize.golden"

// goldenInput is 2048 super-blocks (524288 values) of every row kind,
// made once; callers must not modify it.
var goldenInput = sync.OnceValue(func() []float32 {
	x := make([]float32, 2048*256) // (524288,)
	genRow(&rng{s: 20260101}, x, 0)
	return x
})

// TestQuantizeGolden pins the bytes QuantizeRow writes for every type.
// The hashes in testdata were checked once against ggml's own
// quantize_row_*_ref (ggml-org/ggml d99724f, gcc 12 -O2 -march=native
// -ffp-contract=off) on the same input: identical for all twelve block
// types, and QuantizeActivationRow's Q8_0/Q8_1 identical to ggml-cpu's
// AVX2 quantize_row_q8_0/q8_1. With FMA contraction allowed (GCC's default
// once FMA is enabled) ggml itself disagrees with that on up to 30% of
// k-quant super-blocks, so contraction-free is the only portable target.
func TestQuantizeGolden(t *testing.T) {
	x := goldenInput()
	got := map[string]string{}
	var names []string
	for _, dt := range allTypes {
		q := make([]byte, dt.RowBytes(len(x)))
		QuantizeRow(dt, q, x)
		sum := sha256.Sum256(q)
		got[dt.String()] = hex.EncodeToString(sum[:])
		names = append(names, dt.String())
	}
	for _, dt := range []kernels.DType{kernels.Q8_0, kernels.Q8_1} {
		q := make([]byte, dt.RowBytes(len(x)))
		QuantizeActivationRow(dt, q, x)
		sum := sha256.Sum256(q)
		name := "activation-" + dt.String()
		got[name] = hex.EncodeToString(sum[:])
		names = append(names, name)
	}
	if *update {
		var b strings.Builder
		b.WriteString("# sha256 of QuantizeRow(type, goldenInput()) — regenerate with go test -run TestQuantizeGolden -update\n")
		for _, n := range names {
			fmt.Fprintf(&b, "%s %s\n", n, got[n])
		}
		if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readGolden(t)
	for _, n := range names {
		if want[n] == "" {
			t.Errorf("%s: no golden hash in %s (run with -update)", n, goldenFile)
		} else if got[n] != want[n] {
			t.Errorf("%s: quantized bytes changed: sha256 %s, golden %s", n, got[n], want[n])
		}
	}
}

func readGolden(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	defer f.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, sum, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("%s: bad line %q", goldenFile, line)
		}
		want[name] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return want
}

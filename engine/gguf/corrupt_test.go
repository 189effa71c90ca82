package gguf

import (
	"bytes"
	"encoding/binary"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fixtures in testdata/corrupt")

// corruptCase is a hostile or broken file and the error it must produce.
type corruptCase struct {
	name  string
	build func() []byte
	want  string
}

func kvFile(build func(r *raw)) func() []byte {
	return func() []byte { r := header(3, 0, 1); build(r); return r.b }
}

func tensorFile(n uint64, build func(r *raw)) func() []byte {
	return func() []byte { r := header(3, n, 0); build(r); return r.b }
}

// nested returns n arrays, each the single element of the one before.
func nested(n int) func(r *raw) {
	return func(r *raw) {
		r.kv("k", Array)
		for range n - 1 {
			r.u32(uint32(Array)).u64(1)
		}
		r.u32(uint32(Uint8)).u64(0)
	}
}

var corruptCases = []corruptCase{
	{"empty", func() []byte { return nil }, "too short for a GGUF header"},
	{"bad-magic", func() []byte { return append([]byte("GGML"), header(3, 0, 0).b[4:]...) }, `not a GGUF file: magic "GGML"`},
	{"v1", func() []byte { return header(1, 0, 0).b }, "GGUF v1 is not supported"},
	{"v0", func() []byte { return header(0, 0, 0).b }, "unsupported GGUF version 0"},
	{"v4", func() []byte { return header(4, 0, 0).b }, "unsupported GGUF version 4"},
	{"big-endian", func() []byte { return header(3<<24, 0, 0).b }, "big-endian GGUF (version 3 byte-swapped)"},
	{"truncated-header", func() []byte { return header(3, 0, 0).b[:12] }, "tensor count: need 8 bytes at offset 8, only 4 remain"},
	{"huge-kv-count", func() []byte { return header(3, 0, 1<<60).b }, "key/value count 2^60"},
	{"huge-tensor-count", func() []byte { return header(3, 1<<60, 0).b }, "tensor count 2^60"},
	{"huge-key-length", kvFile(func(r *raw) { r.u64(1 << 60).u64(0) }), "key 0: name: string length 2^60 at offset 24 exceeds remaining 8 bytes"},
	{"huge-string", kvFile(func(r *raw) { r.kv("s", String).u64(1 << 60) }), `key 0 ("s"): string length 2^60`},
	{"huge-array", kvFile(func(r *raw) { r.kv("a", Array).u32(uint32(Uint32)).u64(1 << 60) }), `key 0 ("a"): array of uint32 count 2^60`},
	{"huge-string-array", kvFile(func(r *raw) { r.kv("a", Array).u32(uint32(String)).u64(1 << 40).u64(1) }), "array of string count 2^40"},
	{"string-array-element", kvFile(func(r *raw) { r.kv("a", Array).u32(uint32(String)).u64(2).str("ok").u64(99) }), "element 1: string length 99"},
	{"unknown-value-type", kvFile(func(r *raw) { r.kv("k", 13).u32(0) }), `key 0 ("k"): unknown value type 13`},
	{"unknown-elem-type", kvFile(func(r *raw) { r.kv("k", Array).u32(99).u64(0) }), "unknown array element type 99"},
	{"deep-nesting", kvFile(nested(maxDepth + 1)), "arrays nested deeper than 8"},
	{"bad-bool", kvFile(func(r *raw) { r.kv("b", Bool).u8(2) }), "bool byte 2 at offset 37 is neither 0 nor 1"},
	{"bad-bool-array", kvFile(func(r *raw) { r.kv("b", Array).u32(uint32(Bool)).u64(2).u8(1).u8(7) }), "element 1: bool byte 7"},
	{"truncated-value", kvFile(func(r *raw) { r.kv("k", Uint64).u32(1) }), `key 0 ("k"): need 8 bytes`},
	{"duplicate-key", func() []byte {
		return header(3, 0, 2).kv("k", Uint8).u8(1).kv("k", Uint8).u8(2).b
	}, `key 1 ("k") duplicates key 0`},
	{"alignment-not-pow2", kvFile(func(r *raw) { r.kv(AlignmentKey, Uint32).u32(48) }), "general.alignment = 48 is not a power of two"},
	{"alignment-zero", kvFile(func(r *raw) { r.kv(AlignmentKey, Uint32).u32(0) }), "general.alignment = 0 is not a power of two"},
	{"alignment-string", kvFile(func(r *raw) { r.kv(AlignmentKey, String).str("32") }), "general.alignment has type string, want uint32"},
	{"alignment-honoured", func() []byte {
		return header(3, 1, 1).kv(AlignmentKey, Uint32).u32(64).tensor("t", F32, 32, 8).pad(128).b
	}, "data offset 32 is not a multiple of the alignment 64"},
	{"huge-tensor-name", tensorFile(1, func(r *raw) { r.u64(1 << 60).u64(0).u64(0) }), `tensor 0 (""): name: string length 2^60`},
	{"truncated-dims", tensorFile(1, func(r *raw) { r.str("t").u32(4).u64(4).u64(1) }), `tensor 0 ("t"): dim 2: need 8 bytes at offset 53, only 0 remain`},
	{"too-many-dims", tensorFile(1, func(r *raw) { r.tensor("t", F32, 0, 1, 1, 1, 1, 1).pad(32) }), "n_dims 5 exceeds the maximum 4"},
	{"unknown-tensor-type", tensorFile(1, func(r *raw) { r.tensor("t", 99, 0, 4).pad(32) }), `tensor 0 ("t"): unknown tensor type id 99`},
	{"removed-tensor-type", tensorFile(1, func(r *raw) { r.tensor("t", 4, 0, 32).pad(32) }), "unknown tensor type id 4"},
	{"partial-block", tensorFile(1, func(r *raw) { r.tensor("t", Q4_0, 0, 33).pad(32) }), "row length 33 (dims [33]) is not a multiple of the Q4_0 block size 32"},
	{"dims-overflow", tensorFile(1, func(r *raw) { r.tensor("t", F32, 0, 1<<32, 1<<32).pad(32) }), "element count of dims [4294967296 4294967296] overflows int64"},
	{"size-overflow", tensorFile(1, func(r *raw) { r.tensor("t", F32, 0, 1<<31, 1<<31).pad(32) }), "byte size of F32 dims [2147483648 2147483648] overflows int64"},
	{"misaligned", tensorFile(1, func(r *raw) { r.tensor("t", F32, 4, 4).pad(32) }), "data offset 4 is not a multiple of the alignment 32"},
	{"data-past-eof", tensorFile(1, func(r *raw) { r.tensor("t", F32, 0, 256).pad(16) }), `tensor "t": data [64, 1088) exceeds file size 80`},
	{"huge-offset", tensorFile(1, func(r *raw) { r.tensor("t", F32, 1<<63, 8).pad(32) }), `tensor "t": data [9223372036854775872, 9223372036854775904) exceeds file size 96`},
	{"overlap", tensorFile(2, func(r *raw) { r.tensor("a", F32, 0, 16).tensor("b", F32, 32, 8).pad(96) }), `tensors "a" [0, 64) and "b" [32, 64) overlap`},
	{"duplicate-tensor", tensorFile(2, func(r *raw) { r.tensor("a", F32, 0, 8).tensor("a", F32, 32, 8).pad(64) }), `tensor 1 ("a") duplicates tensor 0`},
}

// TestCorruptFixtures parses each case from its fixture file (the
// regression record) and from the builder, and checks the error.
func TestCorruptFixtures(t *testing.T) {
	dir := filepath.Join("testdata", "corrupt")
	if *update {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range corruptCases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".gguf")
			built := tc.build()
			if *update {
				if err := os.WriteFile(path, built, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fixture, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create the fixtures)", err)
			}
			for src, data := range map[string][]byte{"fixture": fixture, "builder": built} {
				checkParseError(t, src, data, tc.want)
			}
			// Open names the file; it refuses an empty one before parsing
			want := tc.want
			if len(fixture) == 0 {
				want = "is empty"
			}
			_, err = Open(path)
			if err == nil || !strings.HasPrefix(err.Error(), "gguf: "+path) || !strings.Contains(err.Error(), want) {
				t.Errorf("Open: %v, want an error naming %s and containing %q", err, path, want)
			}
		})
	}
}

// checkParseError parses data expecting an error that contains want, and
// checks the attempt allocated little: a hostile count must not turn into
// a huge allocation.
func checkParseError(t *testing.T, src string, data []byte, want string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(data)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "gguf: ") {
		t.Errorf("%s: error %v, want one starting with \"gguf: \" and containing %q", src, err, want)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("%s: parsing %d bytes allocated %d bytes", src, len(data), n)
	}
}

func TestNestingLimitAccepted(t *testing.T) {
	f, err := Parse(kvFile(nested(maxDepth))())
	if err != nil {
		t.Fatalf("%d nested arrays: %v", maxDepth, err)
	}
	checkInvariants(t, f)
}

// TestTruncations cuts the small valid file at every length: every cut
// before the end of the last tensor's data must fail.
func TestTruncations(t *testing.T) {
	full := smallFile(t)
	f, err := Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	last := f.Tensors[len(f.Tensors)-1]
	end := f.DataOffset + int64(last.Offset) + last.Size
	for n := range len(full) {
		g, err := Parse(full[:n])
		switch {
		case int64(n) < end && err == nil:
			t.Fatalf("truncated to %d of %d bytes: parsed", n, len(full))
		case err != nil && !strings.HasPrefix(err.Error(), "gguf: "):
			t.Fatalf("truncated to %d: error %q lacks the package prefix", n, err)
		case err == nil:
			checkInvariants(t, g)
		}
	}
}

// TestFlippedBytes corrupts each header, metadata and table byte in turn
// with several masks; whatever parses must still honour the invariants.
func TestFlippedBytes(t *testing.T) {
	full := smallFile(t)
	f, _ := Parse(full)
	for i := range int(f.DataOffset) {
		for _, mask := range []byte{0xff, 0x01, 0x80, 0x40} {
			data := bytes.Clone(full)
			data[i] ^= mask
			if g, err := Parse(data); err == nil {
				checkInvariants(t, g)
			}
		}
	}
}

// TestPlantedNumbers overwrites 64-bit fields of the valid file (counts,
// lengths, dims, offsets) with hostile values; every one must fail.
func TestPlantedNumbers(t *testing.T) {
	full := smallFile(t)
	f, _ := Parse(full)
	first := &f.Tensors[0]
	nameAt := bytes.Index(full, []byte(first.Name)) // the table entry, not the data
	fields := map[string]int{
		"tensor count":     8,
		"kv count":         16,
		"first key length": 24,
		"tensor name len":  nameAt - 8,
		"tensor dim 0":     nameAt + len(first.Name) + 4,
		"tensor offset":    nameAt + len(first.Name) + 4 + 8 + 4,
	}
	for field, at := range fields {
		for _, v := range []uint64{1 << 60, 1<<64 - 1, 1 << 32, uint64(len(full)), 1<<63 + 32} {
			data := bytes.Clone(full)
			binary.LittleEndian.PutUint64(data[at:], v)
			if _, err := Parse(data); err == nil {
				t.Errorf("%s = %d: parsed", field, v)
			}
		}
	}
}

// TestRandomCorruption applies a few random byte changes at a time, with
// a fixed seed so failures reproduce.
func TestRandomCorruption(t *testing.T) {
	full := smallFile(t)
	rng := rand.New(rand.NewPCG(1, 2))
	hostile := []byte{0x00, 0xff, 0x7f, 0x80, 0x01}
	for range 20000 {
		data := bytes.Clone(full)
		for range 1 + rng.IntN(4) {
			i := rng.IntN(len(data))
			if rng.IntN(2) == 0 {
				data[i] = hostile[rng.IntN(len(hostile))]
			} else {
				data[i] = byte(rng.UintN(256))
			}
		}
		if g, err := Parse(data); err == nil {
			checkInvariants(t, g)
		}
	}
}

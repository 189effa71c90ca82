package safetensors

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodHeader = `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`

// corruptCases are malformed files and a fragment their error must carry.
// Each names the problem a user would need to fix.
func corruptCases() []struct {
	name, want string
	data       []byte
} {
	good := rawFile(goodHeader, 16)
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<62)
	overLen := append([]byte{}, good...)
	binary.LittleEndian.PutUint64(overLen, uint64(len(good)))
	entry := func(body string) []byte { return rawFile(`{"t":`+body+`}`, 16) }
	return []struct {
		name, want string
		data       []byte
	}{
		{"empty", "too short", nil},
		{"7 bytes", "too short", good[:7]},
		{"header cut", "exceeds", good[:20]},
		{"data cut", "outside", good[:len(good)-1]},
		{"huge header length", "limit", hugeLen},
		{"header length past end", "exceeds", overLen},
		{"zero header length", "too short", rawFile("", 0)},
		{"not json", "header", rawFile("hello!!!", 0)},
		{"json array", "object", rawFile("[1,2]", 0)},
		{"unterminated", "truncated", rawFile(`{"a":{"dtype":"F32"`, 0)},
		{"trailing garbage", "after the JSON", rawFile(`{}x`, 0)},
		{"bad utf-8", "UTF-8", rawFile("{\"\xff\":1}", 0)},
		{"duplicate name", "duplicate", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2)},
		{"entry not object", `"t"`, entry(`5`)},
		{"missing dtype", "needs dtype", entry(`{"shape":[2],"data_offsets":[0,8]}`)},
		{"missing shape", "needs dtype", entry(`{"dtype":"F32","data_offsets":[0,8]}`)},
		{"missing offsets", "needs dtype", entry(`{"dtype":"F32","shape":[2]}`)},
		{"unknown dtype", `"F4"`, entry(`{"dtype":"F4","shape":[2],"data_offsets":[0,1]}`)},
		{"one offset", "has 1 values", entry(`{"dtype":"F32","shape":[2],"data_offsets":[8]}`)},
		{"negative offset", `"t"`, entry(`{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}`)},
		{"offset past data", "outside", entry(`{"dtype":"F32","shape":[2],"data_offsets":[12,20]}`)},
		{"begin after end", "outside", entry(`{"dtype":"F32","shape":[2],"data_offsets":[8,0]}`)},
		{"size mismatch", "needs 8", entry(`{"dtype":"F32","shape":[2],"data_offsets":[0,12]}`)},
		{"negative dim", "negative", entry(`{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}`)},
		{"dims overflow", "needs more than", entry(`{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}`)},
		{"fractional dim", `"t"`, entry(`{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}`)},
		{"offset too big for u64", `"t"`, entry(`{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}`)},
		{"overlap", "overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 16)},
		{"same range", "overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}`, 16)},
		{"empty name", "empty tensor name", rawFile(`{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1)},
		{"metadata not strings", "__metadata__", rawFile(`{"__metadata__":{"n":1}}`, 0)},
		{"metadata duplicate", "duplicate", rawFile(`{"__metadata__":{"n":"1","n":"2"}}`, 0)},
	}
}

func TestParseRejectsCorruption(t *testing.T) {
	for _, c := range corruptCases() {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.data, "bad.safetensors")
			if err == nil {
				t.Fatalf("Parse succeeded with %d tensors", len(f.Tensors()))
			}
			msg := err.Error()
			if !strings.Contains(msg, "bad.safetensors") || !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not name the file and %q", msg, c.want)
			}
		})
	}
}

func TestParseAcceptsEdgeCases(t *testing.T) {
	cases := []struct {
		name   string
		header string
		data   int
	}{
		{"no tensors", `{}`, 0},
		{"space padding", `{}      `, 0},
		{"null metadata", `{"__metadata__":null}`, 0},
		{"gap between tensors", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}`, 5},
		{"empty tensor inside another", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, 8},
		{"zero dim beside a huge one", `{"e":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]}}`, 0},
		{"unknown entry fields", `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":true}}`, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(rawFile(c.header, c.data), "edge"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestOpenFileRejectsTruncatedFiles(t *testing.T) {
	dir := t.TempDir()
	good := rawFile(goodHeader, 16)
	for _, n := range []int{0, 5, 8, 30, len(good) - 1} {
		path := filepath.Join(dir, "cut.safetensors")
		if err := os.WriteFile(path, good[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		if f, err := OpenFile(path); err == nil {
			f.Close()
			t.Errorf("OpenFile of %d of %d bytes succeeded", n, len(good))
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the file", err)
		}
	}
	if _, err := OpenFile(dir); err == nil {
		t.Error("OpenFile of a directory succeeded")
	}
}

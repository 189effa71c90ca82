package safetensors

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shardedDir writes a two-shard checkpoint; index overrides the index
// file's content when non-empty.
func shardedDir(t *testing.T, index string) string {
	t.Helper()
	dir := t.TempDir()
	s1 := encode(t, map[string]string{"format": "pt", "k": "1"},
		f32("a", 1, 2, 2), f32("b", 2, 3), f32("unlisted", 3, 1))
	s2 := encode(t, map[string]string{"k": "2", "other": "x", "model.embed_tokens.weight": "lm_head.weight"},
		f32("c", 4, 4), f32("lm_head.weight", 5, 2, 3))
	if index == "" {
		index = `{"metadata":{"total_size":84},"weight_map":{"a":"model-1.safetensors","b":"model-1.safetensors",` +
			`"c":"model-2.safetensors","lm_head.weight":"model-2.safetensors"}}`
	}
	writeFiles(t, dir, map[string][]byte{
		"model-1.safetensors": s1, "model-2.safetensors": s2, IndexFile: []byte(index),
	})
	return dir
}

func TestShardedCheckpoint(t *testing.T) {
	dir := shardedDir(t, "")
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var names []string
	for _, ti := range c.Tensors() {
		names = append(names, ti.Name)
	}
	if want := []string{"a", "b", "c", "lm_head.weight"}; !slices.Equal(names, want) {
		t.Errorf("Tensors() = %v, want %v (unlisted shard tensors ignored)", names, want)
	}
	if got := c.Files(); len(got) != 2 {
		t.Errorf("Files() = %v, want each shard once", got)
	}
	cT, _ := c.Tensor("c")
	if want := f32("c", 4, 4); cT.File != filepath.Join(dir, "model-2.safetensors") || !bytes.Equal(cT.Data, want.Data) {
		t.Errorf("tensor c from %s with %d bytes", cT.File, len(cT.Data))
	}
	if emb, ok := c.Tensor("model.embed_tokens.weight"); !ok || emb.Name != "lm_head.weight" {
		t.Errorf("alias from shard 2 metadata not followed: %v %v", emb, ok)
	}
	meta := c.Metadata()
	if meta["k"] != "1" || meta["other"] != "x" || meta["format"] != "pt" {
		t.Errorf("Metadata() = %v, want shards merged with the first winning", meta)
	}
	if c.TotalBytes() != 4*(4+3+4+6) {
		t.Errorf("TotalBytes() = %d", c.TotalBytes())
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"a", "model.embed_tokens.weight"} {
		if _, ok := c.Tensor(name); ok {
			t.Errorf("Tensor(%q) after Close still hands out a view", name)
		}
	}
}

func TestShardedCheckpointErrors(t *testing.T) {
	cases := []struct {
		name, index string
		want        []string // fragments the error must contain
	}{
		{"tensor missing from shard", `{"weight_map":{"a":"model-1.safetensors","c":"model-1.safetensors"}}`,
			[]string{`"c"`, "model-1.safetensors", "missing"}},
		{"missing shard file", `{"weight_map":{"a":"model-9.safetensors"}}`, []string{"model-9.safetensors"}},
		{"shard outside dir", `{"weight_map":{"a":"../model-1.safetensors"}}`, []string{"not a plain file name"}},
		{"absolute shard", `{"weight_map":{"a":"/etc/passwd"}}`, []string{"not a plain file name"}},
		{"duplicate tensor", `{"weight_map":{"a":"model-1.safetensors","a":"model-2.safetensors"}}`, []string{"duplicate", `"a"`}},
		{"no weight_map", `{"metadata":{}}`, []string{"no weight_map"}},
		{"empty weight_map", `{"weight_map":{}}`, []string{"empty"}},
		{"shard not a string", `{"weight_map":{"a":3}}`, []string{`"a"`, "file name"}},
		{"bad json", `{"weight_map":`, []string{IndexFile, "truncated"}},
		{"alias target unlisted", `{"weight_map":{"model.embed_tokens.weight":"model-2.safetensors"}}`,
			[]string{"alias", "lm_head.weight"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ck, err := OpenCheckpoint(shardedDir(t, c.index))
			if err == nil {
				ck.Close()
				t.Fatal("OpenCheckpoint succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestCorruptShardIsNamed(t *testing.T) {
	dir := shardedDir(t, "")
	writeFiles(t, dir, map[string][]byte{"model-2.safetensors": rawFile(goodHeader, 3)})
	_, err := OpenCheckpoint(dir)
	if err == nil || !strings.Contains(err.Error(), "model-2.safetensors") {
		t.Fatalf("error %v does not name the corrupt shard", err)
	}
}

func TestSingleFileCheckpoint(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenCheckpoint(dir); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("empty dir: error %v", err)
	}
	writeFiles(t, dir, map[string][]byte{SingleFile: encode(t, nil, f32("w", 1, 2))})
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ts := c.Tensors(); len(ts) != 1 || ts[0].Name != "w" || len(c.Files()) != 1 {
		t.Errorf("Tensors() = %v, Files() = %v", ts, c.Files())
	}
}

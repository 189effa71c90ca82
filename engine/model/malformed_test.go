package model_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"spillway/bench/synth"
	"spillway/engine/gguf"
	"spillway/engine/model"
)

// rewrite copies a small synthetic model through the GGUF writer with an
// edit applied to its metadata or tensor table, writing zero tensor data.
func rewrite(t *testing.T, kv func(string, gguf.Value) (string, gguf.Value, bool), typ func(string, gguf.Type) gguf.Type) string {
	t.Helper()
	p := synth.Presets["tiny"]
	p.Layers, p.Vocab = 1, 512
	m, _ := synth.ParseMix("q8_0")
	var buf bytes.Buffer
	if err := synth.Write(&buf, synth.Options{Preset: p, Mix: m, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	w := gguf.NewWriter()
	for _, e := range f.KV {
		if k, v, keep := kv(e.Key, e.Value); keep {
			w.Add(k, v)
		}
	}
	for _, ti := range f.Tensors {
		if err := w.AddTensor(ti.Name, typ(ti.Name, ti.Type), ti.Dims); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := gguf.WriteFile(path, w, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMalformedModels: unknown architectures, unsupported tensor types and
// missing hyperparameters fail at load with the problem named.
func TestMalformedModels(t *testing.T) {
	same := func(k string, v gguf.Value) (string, gguf.Value, bool) { return k, v, true }
	sameType := func(_ string, ty gguf.Type) gguf.Type { return ty }
	cases := []struct {
		name string
		kv   func(string, gguf.Value) (string, gguf.Value, bool)
		typ  func(string, gguf.Type) gguf.Type
		want string
	}{
		{"unknown architecture", func(k string, v gguf.Value) (string, gguf.Value, bool) {
			if k == "general.architecture" {
				return k, gguf.StringValue("gpt2"), true
			}
			return k, v, true
		}, sameType, `unsupported architecture "gpt2"`},
		{"unsupported tensor type", same, func(n string, ty gguf.Type) gguf.Type {
			if n == "blk.0.ffn_up.weight" {
				return 16 // IQ2_XXS: a ggml type Spillway has no kernels for
			}
			return ty
		}, `tensor "blk.0.ffn_up.weight" has unsupported type IQ2_XXS`},
		{"missing hyperparameter", func(k string, v gguf.Value) (string, gguf.Value, bool) {
			return k, v, k != "llama.block_count"
		}, sameType, "missing or non-integer metadata key llama.block_count"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := model.Load(rewrite(t, c.kv, c.typ))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

package model

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"spillway/internal/testenv"
	"spillway/kernels"
	"spillway/kernels/ref"
)

// TestHFMatchesGGUFTwin: the HF checkpoint and the GGUF converted from it
// load into the same description: config, tensor names, shapes, types and
// bytes (Q/K permuted, tied embeddings as token_embd only).
func TestHFMatchesGGUFTwin(t *testing.T) {
	hf, err := Load(testenv.Shared(t, "models/TinyStories-656K-hf"))
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	gg, err := Load(testenv.Shared(t, "models/derived/TinyStories-656K-f32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer gg.Close()
	a, b := hf.Config, gg.Config
	a.Name, b.Name = "", ""
	if !reflect.DeepEqual(a, b) {
		t.Errorf("configs differ:\n hf   %+v\n gguf %+v", a, b)
	}
	if len(hf.Tensors) != len(gg.Tensors) {
		t.Fatalf("hf has %d tensors, gguf %d", len(hf.Tensors), len(gg.Tensors))
	}
	for i := range hf.Tensors {
		x, y := &hf.Tensors[i], &gg.Tensors[i]
		if x.Name != y.Name || x.DType != y.DType || x.Rows != y.Rows || x.Cols != y.Cols {
			t.Errorf("tensor %d: hf %s %s (%d,%d), gguf %s %s (%d,%d)", i, x.Name, x.DType, x.Rows, x.Cols, y.Name, y.DType, y.Rows, y.Cols)
			continue
		}
		if !bytes.Equal(x.Data, y.Data) {
			t.Errorf("tensor %s: bytes differ", x.Name)
		}
	}
	for _, d := range []*Description{hf, gg} {
		if d.Tensor("output.weight") != nil || !d.Config.TiedOutput {
			t.Errorf("%s: tied output expected", d.Format)
		}
	}
}

// TestLoadErrors: malformed models fail at load or bind with the problem named.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Description)
		want string
	}{
		{"missing tensor", func(d *Description) { d.drop("blk.1.ffn_up.weight") }, "missing tensor blk.1.ffn_up.weight"},
		{"wrong shape", func(d *Description) { d.Tensor("blk.0.attn_q.weight").Rows = 64 }, "blk.0.attn_q.weight has shape (64, 128), want (128, 128)"},
		{"bad heads", func(d *Description) { d.Config.NumKVHeads = 3 }, "not a multiple of kv head count 3"},
		{"quantized norm", func(d *Description) { d.Tensor("output_norm.weight").DType = 1 }, "norms and biases must be F32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Load(testenv.Shared(t, "models/derived/TinyStories-656K-f32.gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c.edit(d)
			err = d.Config.Validate()
			if err == nil {
				be, berr := ref.New(kernels.Options{})
				if berr != nil {
					t.Fatal(berr)
				}
				_, err = New(d, be, 8)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func (d *Description) drop(name string) {
	i := d.index[name]
	d.Tensors = append(d.Tensors[:i], d.Tensors[i+1:]...)
	d.index = map[string]int{}
	d.sortTensors()
}

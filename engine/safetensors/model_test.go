package safetensors

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spillway/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

const tinyStories = "models/TinyStories-656K-hf"

// describeModel renders what Open found, for the golden file: config,
// tokenizer settings, metadata, aliases and the tensor table with a sum of
// each tensor's values (so a wrong offset or dtype shows up).
func describeModel(t *testing.T, m *Model) string {
	var b strings.Builder
	c := m.Config
	fmt.Fprintf(&b, "config: %s %v hidden=%d inter=%d layers=%d heads=%d kv=%d head_dim=%d eps=%g theta=%g scaling=%v maxpos=%d vocab=%d tie=%v bos=%v eos=%v window=%d bias=%v/%v/%v dtype=%s act=%s\n",
		c.ModelType, c.Architectures, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads,
		c.NumKeyValueHeads, c.HeadDim, c.RMSNormEps, c.RopeTheta, c.RopeScaling, c.MaxPositionEmbeddings, c.VocabSize,
		c.TieWordEmbeddings, c.BOSTokenIDs, c.EOSTokenIDs, c.SlidingWindow, c.AttentionBias, c.QKVBias, c.MLPBias, c.TorchDType, c.HiddenAct)
	tc := m.TokenizerConfig
	fmt.Fprintf(&b, "tokenizer: bos=%q eos=%q pad=%q unk=%q add_bos=%v add_eos=%v class=%s template=%q added=%d json=%s\n",
		tc.BOSToken, tc.EOSToken, tc.PadToken, tc.UnkToken, *tc.AddBOS, *tc.AddEOS, tc.TokenizerClass, tc.ChatTemplate,
		len(tc.AddedTokens), filepath.Base(m.TokenizerJSON))
	fmt.Fprintf(&b, "metadata: %v\naliases: %v\nfiles: %d, %d tensor bytes\n",
		m.Checkpoint.Metadata(), m.Checkpoint.Aliases(), len(m.Checkpoint.Files()), m.Checkpoint.TotalBytes())
	for _, ti := range m.Checkpoint.Tensors() {
		vals, err := ti.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, v := range vals {
			sum += float64(v)
		}
		fmt.Fprintf(&b, "%-48s %s %v @%d first=%.6g sum=%.6g\n", ti.Name, ti.DType, ti.Shape, ti.Offset, vals[0], sum)
	}
	return b.String()
}

func TestOpenRealModel(t *testing.T) {
	dir := testenv.Shared(t, tinyStories)
	m, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.CheckTensors(); err != nil {
		t.Errorf("CheckTensors: %v", err)
	}
	c := m.Config
	if c.HiddenSize != 128 || c.NumHiddenLayers != 2 || c.NumKeyValueHeads != 4 || c.HeadDim != 16 || !c.TieWordEmbeddings {
		t.Errorf("config %+v", *c)
	}
	emb, ok := m.Checkpoint.Tensor("model.embed_tokens.weight")
	head, _ := m.Checkpoint.Tensor("lm_head.weight")
	if !ok || &emb.Data[0] != &head.Data[0] {
		t.Error("model.embed_tokens.weight does not resolve to the stored lm_head.weight")
	}
	if n := len(m.Checkpoint.Tensors()); n != 2+9*2 {
		t.Errorf("%d tensors, want 20", n)
	}
	got := describeModel(t, m)
	golden := filepath.Join("testdata", "tinystories-656k.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("model description differs from %s (run with -update if intended):\n%s", golden, got)
	}
}

// tinyModelDir writes a complete llama checkpoint for cfgJSON's sizes
// (hidden 8, 2 heads of 4, 1 KV head, inter 12, vocab 10, 1 layer), after
// letting mutate change the tensor table.
func tinyModelDir(t *testing.T, cfgJSON string, mutate func(map[string]TensorInfo)) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := ParseConfig([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]TensorInfo{}
	for i, e := range cfg.expectedTensors() {
		ts[e.name] = f32(e.name, float32(i+1), e.shape...)
	}
	mutate(ts)
	var list []TensorInfo
	for _, ti := range ts {
		list = append(list, ti)
	}
	if err := WriteFile(filepath.Join(dir, SingleFile), nil, list...); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string][]byte{"config.json": []byte(cfgJSON)})
	return dir
}

const tinyCfg = `{"model_type":"llama","hidden_size":8,"intermediate_size":12,"num_hidden_layers":1,` +
	`"num_attention_heads":2,"num_key_value_heads":1,"vocab_size":10,"max_position_embeddings":16}`

func TestCheckTensors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(map[string]TensorInfo)
		want   string // "" = no error
	}{
		{"complete", func(map[string]TensorInfo) {}, ""},
		{"extra tensor ignored", func(m map[string]TensorInfo) {
			m["model.layers.0.self_attn.rotary_emb.inv_freq"] = f32("model.layers.0.self_attn.rotary_emb.inv_freq", 1, 2)
		}, ""},
		{"missing k_proj", func(m map[string]TensorInfo) { delete(m, "model.layers.0.self_attn.k_proj.weight") },
			`"model.layers.0.self_attn.k_proj.weight" is missing`},
		{"missing lm_head", func(m map[string]TensorInfo) { delete(m, "lm_head.weight") }, `"lm_head.weight" is missing`},
		{"transposed down_proj", func(m map[string]TensorInfo) {
			m["model.layers.0.mlp.down_proj.weight"] = f32("model.layers.0.mlp.down_proj.weight", 1, 12, 8)
		}, "config implies [8 12]"},
		{"integer weights", func(m map[string]TensorInfo) {
			m["model.norm.weight"] = TensorInfo{Name: "model.norm.weight", DType: I32, Shape: []int64{8}, Data: make([]byte, 32)}
		}, "dtype I32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Open(tinyModelDir(t, tinyCfg, c.mutate))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			err = m.CheckTensors()
			if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Errorf("CheckTensors() = %v, want %q", err, c.want)
			}
		})
	}
}

func TestOpenFailsEarly(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"config.json": []byte(tinyCfg)})
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("no weights: error %v", err)
	}
	writeFiles(t, dir, map[string][]byte{"config.json": []byte(`{"model_type":"llama"}`), SingleFile: []byte("junk")})
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("bad config: error %v should name config.json", err)
	}
}

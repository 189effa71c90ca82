package safetensors

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParse checks that no input panics and that whatever parses is
// self-consistent: sizes match shapes, and re-writing the tensors gives a
// file that parses to the same table.
func FuzzParse(f *testing.F) {
	f.Add(encode(f, map[string]string{"format": "pt", "alias": "w"}, f32("w", 1, 2, 3), f32("b", 2, 3)))
	f.Add(rawFile(goodHeader, 16))
	for _, c := range corruptCases() {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data, "fuzz")
		if err != nil {
			return
		}
		ts := p.Tensors()
		for _, ti := range ts {
			size, err := byteSize(ti.DType, ti.Shape, uint64(len(data)))
			if err != nil || size != uint64(len(ti.Data)) {
				t.Fatalf("tensor %q: %s %v with %d bytes", ti.Name, ti.DType, ti.Shape, len(ti.Data))
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, p.Metadata(), ts...); err != nil {
			t.Fatalf("re-writing a parsed file failed: %v", err)
		}
		q, err := Parse(buf.Bytes(), "rewritten")
		if err != nil {
			t.Fatalf("re-written file does not parse: %v", err)
		}
		for i, ti := range q.Tensors() {
			if ti.Name != ts[i].Name || ti.DType != ts[i].DType || !slices.Equal(ti.Shape, ts[i].Shape) || !bytes.Equal(ti.Data, ts[i].Data) {
				t.Fatalf("round trip changed tensor %q", ts[i].Name)
			}
		}
	})
}

// FuzzReadConfig feeds config.json and generation_config.json contents to
// the decoders ReadConfig uses; whatever validates must be usable.
func FuzzReadConfig(f *testing.F) {
	f.Add([]byte(tinyCfg), []byte(`{"bos_token_id":1,"eos_token_id":[2,3]}`))
	f.Add(withBase(`"rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192},`), []byte(`{}`))
	f.Add(withBase(`"head_dim":16,"num_key_value_heads":2,"rope_parameters":{"rope_type":"linear","factor":2}`+","), []byte(`null`))
	f.Add([]byte(`{"model_type":"qwen2","hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10,"use_sliding_window":false}`), []byte(`{"eos_token_id":-1}`))
	f.Fuzz(func(t *testing.T, cfgJSON, genJSON []byte) {
		if g, err := ParseGenerationConfig(genJSON); err == nil {
			for _, id := range append(g.BOSTokenIDs, g.EOSTokenIDs...) {
				if id < 0 {
					t.Fatalf("generation config accepted id %d", id)
				}
			}
		}
		c, err := ParseConfig(cfgJSON)
		if err != nil {
			return
		}
		if c.HeadDim <= 0 || c.NumAttentionHeads%c.NumKeyValueHeads != 0 || c.QDim() <= 0 || c.KVDim() <= 0 {
			t.Fatalf("validated config is unusable: %+v", *c)
		}
		if c.RopeScaling != nil && !(c.RopeScaling.Factor > 0) {
			t.Fatalf("validated rope scaling %+v", *c.RopeScaling)
		}
		_ = c.expectedTensors() // sizes are bounded, so this cannot blow up
	})
}

// FuzzParseTokenizerConfig checks the tokenizer_config.json decoder never
// panics and keeps the default template consistent with the named ones.
func FuzzParseTokenizerConfig(f *testing.F) {
	f.Add([]byte(`{"bos_token":{"content":"<s>"},"eos_token":"</s>","add_bos_token":true,"chat_template":"{{ m }}"}`))
	f.Add([]byte(`{"chat_template":[{"name":"default","template":"D"}],"added_tokens_decoder":{"1":{"content":"<s>","special":true}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tc, err := ParseTokenizerConfig(data)
		if err != nil || tc.ChatTemplates == nil {
			return
		}
		if tc.ChatTemplate != tc.ChatTemplates["default"] {
			t.Fatalf("default template %q differs from the list's %q", tc.ChatTemplate, tc.ChatTemplates["default"])
		}
	})
}

// FuzzParseIndex checks that no index can name a shard outside the model
// directory.
func FuzzParseIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../x.safetensors","a":"y"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		wm, err := parseIndex(data)
		if err != nil {
			return
		}
		for name, file := range wm {
			if name == "" || filepath.Base(file) != file || !filepath.IsLocal(file) {
				t.Fatalf("index maps %q to unsafe shard %q", name, file)
			}
		}
	})
}

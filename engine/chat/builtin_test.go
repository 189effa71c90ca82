package chat

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spillway/internal/testenv"
)

func TestBuiltinNames(t *testing.T) {
	want := []string{"chatml", "llama-2", "llama-3", "mistral", "zephyr"}
	if got := strings.Join(BuiltinNames(), ","); got != strings.Join(want, ",") {
		t.Fatalf("BuiltinNames() = %s", got)
	}
	for _, name := range want {
		tmpl, err := Builtin(name)
		if err != nil {
			t.Fatalf("Builtin(%q): %v", name, err)
		}
		if got := Detect(tmpl.Source()); got != name {
			t.Errorf("Detect(builtin %s) = %s", name, got)
		}
	}
	if _, err := Builtin("vicuna"); err == nil || !strings.Contains(err.Error(), "llama-3") {
		t.Fatalf("Builtin(vicuna) = %v, want an error listing the names", err)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct{ file, want string }{
		{"llama-2-7b-chat", "llama-2"},
		{"llama-3-8b-instruct", "llama-3"},
		{"llama-3.1-8b-instruct", "llama-3.1"},
		{"llama-3.2-3b-instruct", "llama-3.1"},
		{"mistral-7b-instruct-v0.1", "mistral"},
		{"mistral-7b-instruct-v0.2-original", "mistral"},
		{"mistral-7b-instruct-v0.3", "mistral-v3"},
		{"tinyllama-1.1b-chat-v1.0", "zephyr"},
		{"qwen2-7b-instruct", "chatml"},
		{"qwen2.5-3b-instruct", "qwen"},
	}
	for _, tt := range tests {
		b, err := os.ReadFile(filepath.Join("testdata", "templates", tt.file+".jinja"))
		if err != nil {
			t.Fatal(err)
		}
		if got := Detect(string(b)); got != tt.want {
			t.Errorf("Detect(%s) = %s, want %s", tt.file, got, tt.want)
		}
	}
	literals := []struct{ src, want string }{
		{"", "unknown"},
		{"{{ messages }}", "unknown"},
		{"{{ '<start_of_turn>' + role }}", "gemma"},
		{"{{ '<|user|>' + c + '<|end|>' }}", "phi-3"},
		{"{{ '<｜User｜>' + c }}", "deepseek"},
		{"<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", "command-r"},
	}
	for _, tt := range literals {
		if got := Detect(tt.src); got != tt.want {
			t.Errorf("Detect(%q) = %s, want %s", tt.src, got, tt.want)
		}
	}
}

func TestForModel(t *testing.T) {
	llama3, err := os.ReadFile(filepath.Join("testdata", "templates", "llama-3-8b-instruct.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, src, bos, eos, arch string
		wantFamily                string
		wantBOS                   string // the BOS the rendered prompt starts with
	}{
		{"own template", string(llama3), "<|begin_of_text|>", "<|eot_id|>", "llama", "llama-3", "<|begin_of_text|>"},
		{"llama 3 vocab", "", "<|begin_of_text|>", "<|end_of_text|>", "llama", "llama-3", "<|begin_of_text|>"},
		{"qwen eos", "", "", "<|im_end|>", "qwen2", "chatml", "<|im_start|>"},
		{"qwen arch", "", "", "", "qwen2", "chatml", "<|im_start|>"},
		{"mistral arch", "", "<s>", "</s>", "mistral", "mistral", "<s>"},
		{"llama sentencepiece", "", "<s>", "</s>", "llama", "llama-2", "<s>"},
		{"unknown", "", "<|start_story|>", "<|end_story|>", "llama", "chatml", "<|im_start|>"},
		{"no tokens, llama", "", "", "", "llama", "chatml", "<|im_start|>"},
		{"whitespace source", "  \n", "<s>", "</s>", "mistral", "mistral", "<s>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ForModel(tt.src, tt.bos, tt.eos, tt.arch)
			if err != nil {
				t.Fatal(err)
			}
			if got := Detect(tmpl.Source()); got != tt.wantFamily {
				t.Errorf("family = %s, want %s", got, tt.wantFamily)
			}
			out, err := tmpl.Render([]Message{{Role: "user", Content: "hi"}}, true)
			if err != nil || !strings.HasPrefix(out, tt.wantBOS) {
				t.Errorf("Render = %q, %v; want it to start with %q", out, err, tt.wantBOS)
			}
		})
	}
	_, err = ForModel("{% if %}", "<s>", "</s>", "llama")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("broken model template: %v, want *SyntaxError and no silent fallback", err)
	}
}

// TestForModelHFCheckpoint goes the way a Hugging Face checkpoint does:
// tokenizer_config.json for the template and tokens, config.json for the
// architecture. TinyStories-656K has no chat template, so a builtin serves.
func TestForModelHFCheckpoint(t *testing.T) {
	dir := testenv.Shared(t, "models/TinyStories-656K-hf")
	var tc struct {
		ChatTemplate string `json:"chat_template"`
		BOS          string `json:"bos_token"`
		EOS          string `json:"eos_token"`
	}
	var cfg struct {
		ModelType string `json:"model_type"`
	}
	for file, dst := range map[string]any{"tokenizer_config.json": &tc, "config.json": &cfg} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	tmpl, err := ForModel(tc.ChatTemplate, tc.BOS, tc.EOS, cfg.ModelType)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render([]Message{{Role: "user", Content: "Once upon a time"}}, true)
	want := "<|im_start|>user\nOnce upon a time<|im_end|>\n<|im_start|>assistant\n"
	if err != nil || got != want {
		t.Fatalf("Render = %q, %v; want %q", got, err, want)
	}
}

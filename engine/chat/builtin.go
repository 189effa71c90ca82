package chat

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

// The builtin templates are the models' own where one exists:
// llama-2 is Llama-2-7b-chat-hf's, llama-3 is Meta-Llama-3-8B-Instruct's,
// mistral is Mistral-7B-Instruct-v0.1's (2024 revision, which accepts a
// leading system message), zephyr is zephyr-7b-beta's (also
// TinyLlama-1.1B-Chat-v1.0's); chatml is the plain ChatML form.
//
//go:embed builtin/*.jinja
var builtinFS embed.FS

type builtinSpec struct {
	bos, eos string // the family's usual special tokens
}

var builtinSpecs = map[string]builtinSpec{
	"llama-2": {bos: "<s>", eos: "</s>"},
	"llama-3": {bos: "<|begin_of_text|>", eos: "<|eot_id|>"},
	"mistral": {bos: "<s>", eos: "</s>"},
	"chatml":  {bos: "", eos: "<|im_end|>"},
	"zephyr":  {bos: "<s>", eos: "</s>"},
}

// BuiltinNames lists the names Builtin accepts, sorted.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtinSpecs))
	for n := range builtinSpecs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Builtin returns a fallback template by family name ("llama-2", "llama-3",
// "mistral", "chatml", "zephyr") with that family's usual BOS/EOS tokens.
func Builtin(name string) (*Template, error) {
	spec, ok := builtinSpecs[name]
	if !ok {
		return nil, fmt.Errorf("chat: no builtin template %q (have %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return builtinWith(name, spec.bos, spec.eos)
}

// builtinWith compiles a builtin with the model's own tokens where known.
func builtinWith(name, bos, eos string) (*Template, error) {
	src, err := builtinFS.ReadFile("builtin/" + name + ".jinja")
	if err != nil {
		return nil, fmt.Errorf("chat: builtin %q: %w", name, err)
	}
	return New(string(src), bos, eos)
}

// Detect names the family of a template source, best effort, for logs and
// `spillway inspect`: one of the builtin names, "llama-3.1" (Llama 3.1 and
// later, with the tool and date preamble), "mistral-v3" (the [AVAILABLE_TOOLS]
// generation), "qwen" (ChatML naming Qwen in its default system prompt), "gemma",
// "phi-3", "deepseek", "command-r", or "unknown". Order matters: the
// markers are checked from the most to the least specific.
func Detect(source string) string {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if !strings.Contains(source, s) {
				return false
			}
		}
		return true
	}
	switch {
	case strings.TrimSpace(source) == "":
		return "unknown"
	case has("<|start_header_id|>", "Cutting Knowledge Date"):
		return "llama-3.1"
	case has("<|start_header_id|>", "<|eot_id|>"):
		return "llama-3"
	case has("[AVAILABLE_TOOLS]"):
		return "mistral-v3"
	case has("<|im_start|>", "Qwen"):
		return "qwen"
	case has("<|im_start|>"):
		return "chatml"
	case has("<start_of_turn>"):
		return "gemma"
	case has("<|user|>", "<|end|>"):
		return "phi-3"
	case has("<|user|>", "<|assistant|>"):
		return "zephyr"
	case has("<<SYS>>", "[INST]"):
		return "llama-2"
	case has("[INST]"):
		return "mistral"
	case has("<｜User｜>") || has("<｜begin▁of▁sentence｜>"):
		return "deepseek"
	case has("<|START_OF_TURN_TOKEN|>"):
		return "command-r"
	}
	return "unknown"
}

// ForModel returns the model's own template when source is non-empty, and
// otherwise a builtin chosen from what the model is:
//
//   - bos or eos "<|begin_of_text|>"/"<|eot_id|>"/"<|end_of_text|>" (the Llama 3 vocabulary): llama-3
//   - eos "<|im_end|>" or arch qwen2/qwen3: chatml
//   - arch "llama" with a SentencePiece "<s>"/"</s>" vocabulary: llama-2
//   - arch "mistral" or "mixtral": mistral
//   - anything else: chatml, the most widely understood format.
//
// arch is GGUF's general.architecture or the lower-cased HF model_type. A
// source that does not compile is an error, not a silent fallback: the
// operator should learn that the model's template is broken.
func ForModel(source, bos, eos, arch string) (*Template, error) {
	if strings.TrimSpace(source) != "" {
		return New(source, bos, eos)
	}
	name := fallbackFor(bos, eos, strings.ToLower(arch))
	spec := builtinSpecs[name]
	if bos == "" && eos == "" {
		bos, eos = spec.bos, spec.eos
	}
	return builtinWith(name, bos, eos)
}

func fallbackFor(bos, eos, arch string) string {
	switch {
	case bos == "<|begin_of_text|>" || eos == "<|eot_id|>" || eos == "<|end_of_text|>":
		return "llama-3"
	case eos == "<|im_end|>" || strings.HasPrefix(arch, "qwen"):
		return "chatml"
	case arch == "mistral" || arch == "mixtral":
		return "mistral"
	case arch == "llama" && (bos == "<s>" || eos == "</s>"):
		return "llama-2"
	}
	return "chatml"
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"spillway/engine/gguf"
	"spillway/engine/tokenizer"
)

// stdin is where tokenize reads its text; tests replace it.
var stdin io.Reader = os.Stdin

func init() {
	register("tokenize", "print the token ids of stdin's text as a JSON array", runTokenize)
}

func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("tokenize", stderr)
	modelPath := fs.String("model", "", "GGUF file or HF model directory (its tokenizer only is loaded)")
	noBOS := fs.Bool("no-bos", false, "add no BOS/EOS tokens (the model's add_bos/add_eos are ignored)")
	special := fs.Bool("special", false, "parse special-token text such as <s> as special tokens")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return fmt.Errorf("--model is required")
	}
	tok, closeFn, err := loadTokenizer(*modelPath)
	if err != nil {
		return err
	}
	defer closeFn()
	text, err := io.ReadAll(stdin)
	if err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	ids := tok.Encode(string(text), tokenizer.EncodeOptions{AddSpecial: !*noBOS, ParseSpecial: *special})
	if ids == nil {
		ids = []int32{}
	}
	return json.NewEncoder(stdout).Encode(ids)
}

// loadTokenizer reads only the tokenizer of a model, so vocabulary-only
// GGUF files work too.
func loadTokenizer(path string) (*tokenizer.Tokenizer, func(), error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if st.IsDir() {
		t, err := tokenizer.FromHF(path)
		return t, func() {}, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, err
	}
	t, err := tokenizer.FromGGUF(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, func() { f.Close() }, nil
}

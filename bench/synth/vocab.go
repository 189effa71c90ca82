package synth

import (
	"fmt"
	"strings"

	"spillway/engine/gguf"
)

// commonWords make the synthetic vocabulary tokenize English into word
// pieces rather than bytes, so prompt lengths resemble a real model's.
var commonWords = strings.Fields(`the of and to in is was that for it as with he on be at by this had not are but from
or have an they which one you were her all she there would their we him been has when who will more no if out so said
what up its about into than them can only other new some could time these two may then do first any my now such like
our over man me even most made after also did many before must through back years where much your way well down
should because each just those people how too little state good very make world still own see men work long get here
between both life being under never day same another know while last might us great old year off come since against
go came right used take three once upon lily tom dog cat ball park play happy big red saw wanted friend mom dad`)

// Vocab is a tokenizer written into the GGUF metadata.
type Vocab struct {
	KV     []gguf.KV // every tokenizer.* key
	Tokens int
	// Quiet are the control and unknown tokens: their output rows are
	// zero, so a random model rarely ends a reply at once with an EOS.
	Quiet map[int]bool
}

// quietTokens picks the control (3) and unknown (2) ids of a token_type array.
func quietTokens(types []int32) map[int]bool {
	q := map[int]bool{}
	for i, t := range types {
		if t == 2 || t == 3 {
			q[i] = true
		}
	}
	return q
}

// SyntheticSPM builds a SentencePiece-style ("llama") vocabulary of n
// tokens: the three specials, 256 byte-fallback tokens, printable ASCII,
// common English words with all their prefixes, then filler pieces.
func SyntheticSPM(n int) (Vocab, error) {
	if n < 512 {
		return Vocab{}, fmt.Errorf("synthetic vocabulary needs at least 512 tokens, asked for %d", n)
	}
	toks := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3}
	for b := 0; b < 256; b++ {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	seen := map[string]bool{}
	add := func(s string) {
		if len(toks) < n && !seen[s] {
			seen[s] = true
			toks = append(toks, s)
			types = append(types, 1)
		}
	}
	add("▁")
	for c := byte(33); c < 127; c++ {
		add(string(c))
		add("▁" + string(c))
	}
	for _, w := range commonWords {
		for i := 2; i <= len(w); i++ {
			add("▁" + w[:i])
			add(w[:i])
		}
	}
	for i := 0; len(toks) < n; i++ {
		add(fmt.Sprintf("▁x%d", i))
	}
	scores := make([]float32, n)
	for i := range scores {
		scores[i] = -float32(i) // earlier pieces merge first, like SPM's log-probs
	}
	kv := []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: gguf.StringValue("llama")},
		{Key: "tokenizer.ggml.pre", Value: gguf.StringValue("default")},
		{Key: "tokenizer.ggml.tokens", Value: gguf.StringsValue(toks)},
		{Key: "tokenizer.ggml.scores", Value: gguf.Float32sValue(scores)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Int32sValue(types)},
		{Key: "tokenizer.ggml.bos_token_id", Value: gguf.Uint32Value(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: gguf.Uint32Value(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: gguf.Uint32Value(0)},
		{Key: "tokenizer.ggml.add_bos_token", Value: gguf.BoolValue(true)},
		{Key: "tokenizer.ggml.add_eos_token", Value: gguf.BoolValue(false)},
	}
	return Vocab{KV: kv, Tokens: n, Quiet: quietTokens(types)}, nil
}

// VocabFrom copies every tokenizer.* key of a GGUF file (a model or a
// vocabulary-only file), so synthetic models use a real vocabulary.
func VocabFrom(path string) (Vocab, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return Vocab{}, err
	}
	defer f.Close()
	var v Vocab
	for _, kv := range f.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			v.KV = append(v.KV, kv)
		}
	}
	toks, ok := f.Strings("tokenizer.ggml.tokens")
	if !ok || len(toks) == 0 {
		return Vocab{}, fmt.Errorf("%s has no tokenizer.ggml.tokens", path)
	}
	v.Tokens = len(toks)
	if types, ok := f.Int32s("tokenizer.ggml.token_type"); ok {
		v.Quiet = quietTokens(types)
	}
	return v, nil
}

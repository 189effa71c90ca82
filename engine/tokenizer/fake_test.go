package tokenizer

import (
	"fmt"
	"testing"

	"spillway/internal/testenv"
)

// fakeMD is an in-memory Metadata.
type fakeMD map[string]any

func (m fakeMD) String(k string) (string, bool)      { v, ok := m[k].(string); return v, ok }
func (m fakeMD) Strings(k string) ([]string, bool)   { v, ok := m[k].([]string); return v, ok }
func (m fakeMD) Float32s(k string) ([]float32, bool) { v, ok := m[k].([]float32); return v, ok }
func (m fakeMD) Int32s(k string) ([]int32, bool)     { v, ok := m[k].([]int32); return v, ok }
func (m fakeMD) Bool(k string) (bool, bool)          { v, ok := m[k].(bool); return v, ok }
func (m fakeMD) Uint(k string) (uint64, bool) {
	switch v := m[k].(type) {
	case uint64:
		return v, true
	case int:
		return uint64(v), v >= 0
	}
	return 0, false
}

func sharedPath(t testing.TB, rel string) string { return testenv.Shared(t, rel) }

// spmMD describes a small SentencePiece vocabulary: <unk> <s> </s>, the
// 256 byte tokens, then words with scores (higher merges first).
func spmMD(words []string, scores []float32) fakeMD {
	toks := []string{"<unk>", "<s>", "</s>"}
	types := []int32{2, 3, 3}
	sc := []float32{0, 0, 0}
	for b := range 256 {
		toks = append(toks, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
		sc = append(sc, 0)
	}
	for i, w := range words {
		toks = append(toks, w)
		types = append(types, 1)
		sc = append(sc, scores[i])
	}
	return fakeMD{
		kp + "model": "llama", kp + "tokens": toks, kp + "scores": sc, kp + "token_type": types,
		kp + "bos_token_id": 1, kp + "eos_token_id": 2, kp + "unknown_token_id": 0,
	}
}

var spmWords = []string{"▁", "a", "b", "c", "▁a", "ab", "▁ab", "bc", "▁abc", "<b>"}
var spmScores = []float32{-1, -2, -2, -2, -3, -4, -1.5, -5, -0.5, -9}

func fakeSPM(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := FromGGUF(spmMD(spmWords, spmScores))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bpeMD describes a small byte-level BPE vocabulary: the 256 byte
// characters, the merges' results and extra tokens.
func bpeMD(pre string, merges []string, extra []string, extraTypes []int32) fakeMD {
	var toks []string
	var types []int32
	seen := map[string]bool{}
	add := func(s string, typ int32) {
		if !seen[s] {
			seen[s] = true
			toks = append(toks, s)
			types = append(types, typ)
		}
	}
	for b := range 256 {
		add(byteChars[b], 1)
	}
	for _, m := range merges {
		var l, r string
		fmt.Sscanf(m, "%s %s", &l, &r)
		add(l+r, 1)
	}
	for i, s := range extra {
		add(s, extraTypes[i])
	}
	md := fakeMD{kp + "model": "gpt2", kp + "tokens": toks, kp + "token_type": types, kp + "merges": merges}
	if pre != "" {
		md[kp+"pre"] = pre
	}
	return md
}

var bpeMerges = []string{"Ġ t", "h e", "Ġt he", "i n", "Ġ a", "Ġa n", "Ġan d", "1 2", "12 3"}

func fakeBPE(t testing.TB, pre string) *Tokenizer {
	t.Helper()
	md := bpeMD(pre, bpeMerges, []string{"<|eot|>", "<|end_of_text|>", "<|user|>", "xyz"}, []int32{3, 3, 4, 1})
	md[kp+"bos_token_id"] = bpeEnd
	md[kp+"eos_token_id"] = bpeEnd
	tok, err := FromGGUF(md)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

package tokenizer

import (
	"fmt"
	"slices"
	"strings"
)

// Metadata is what the tokenizer reads from a GGUF file. *gguf.File
// implements it; the interface keeps this package free of the GGUF reader.
type Metadata interface {
	String(key string) (string, bool)
	Strings(key string) ([]string, bool)
	Float32s(key string) ([]float32, bool)
	Int32s(key string) ([]int32, bool)
	Uint(key string) (uint64, bool)
	Bool(key string) (bool, bool)
}

// EncodeOptions controls Encode.
type EncodeOptions struct {
	// AddSpecial adds the model's BOS/EOS (or tokenizer.json post-processor
	// tokens) around the text, per the model's add_bos/add_eos flags.
	AddSpecial bool
	// ParseSpecial matches the text of control tokens (e.g. "<s>",
	// "<|eot_id|>") in the input; otherwise they are plain text.
	ParseSpecial bool
}

// DecodeOptions controls Decode and the Detokenizer.
type DecodeOptions struct {
	// Special renders control and unknown tokens as their text (llama.cpp's
	// special=true); by default they produce no text.
	Special bool
}

// Kind is the tokenization algorithm.
type Kind int

const (
	// KindSPM is SentencePiece-style score merging (GGUF "llama").
	KindSPM Kind = iota + 1
	// KindBPE is merge-rank byte-pair encoding (GGUF "gpt2", tokenizer.json BPE).
	KindBPE
)

func (k Kind) String() string {
	switch k {
	case KindSPM:
		return "spm"
	case KindBPE:
		return "bpe"
	}
	return "unknown"
}

// TokenType is llama.cpp's per-token type (tokenizer.ggml.token_type).
type TokenType int32

// Token types, with llama.cpp's numbering.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// attr is llama.cpp's token attribute bit set; types map onto it and a few
// name-based rules (EOG detection, phi-3's rstrip) adjust it.
type attr uint16

const (
	attrUnknown attr = 1 << iota
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
	attrLStrip
	attrRStrip
	attrSingleWord
)

func attrOf(t TokenType) attr {
	switch t {
	case TypeNormal:
		return attrNormal
	case TypeUnknown:
		return attrUnknown
	case TypeControl:
		return attrControl
	case TypeUserDefined:
		return attrUserDefined
	case TypeUnused:
		return attrUnused
	case TypeByte:
		return attrByte
	}
	return 0
}

// none marks an absent special token id.
const none int32 = -1

// Tokenizer encodes text to ids and decodes ids to text. It is immutable
// and safe for concurrent use.
type Tokenizer struct {
	kind   Kind
	source string // "gguf" or "hf"
	pre    string

	vocab
	bpe   bpeModel
	cache wordCache

	// SentencePiece options.
	addSpacePrefix bool // prefix " " at the start and after special tokens
	spmSplit       bool // merges never cross the start of a "▁" run

	split      splitter    // GGUF BPE pre-tokenizer
	hf         *hfPipeline // tokenizer.json normalizer/pre-tokenizer/added tokens
	stripSpace bool        // decoding drops the leading space of the text
	style      pieceStyle  // how normal tokens render

	bos, eos, eot, eom, unk, pad int32
	eog                          []int32 // sorted
	addBOS, addEOS               bool
	prefix, suffix               []int32 // added by EncodeOptions.AddSpecial
}

// Info summarizes a tokenizer for `spillway inspect`.
type Info struct {
	Source         string // "gguf" or "hf"
	Kind           Kind
	Model          string // tokenizer.ggml.model equivalent: "llama" or "gpt2"/"bpe"
	Pre            string // pre-tokenizer name
	VocabSize      int
	Merges         int
	SpecialTokens  int   // control, user-defined and unknown tokens
	BOS, EOS       int32 // -1 when absent
	EOT, EOM       int32
	UNK, PAD       int32
	EOG            []int32
	AddBOS, AddEOS bool
	AddSpacePrefix bool
	IgnoreMerges   bool
	ByteFallback   bool
	ByteLevel      bool
}

// VocabSize is the number of token ids.
func (t *Tokenizer) VocabSize() int { return len(t.texts) }

// BOS is the beginning-of-sequence id, or -1.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS is the end-of-sequence id, or -1.
func (t *Tokenizer) EOS() int32 { return t.eos }

// EOT is the end-of-turn id (e.g. <|eot_id|>), or -1.
func (t *Tokenizer) EOT() int32 { return t.eot }

// IsEOG reports whether id ends generation (EOS, EOT, EOM and llama.cpp's
// name-based end-of-generation tokens).
func (t *Tokenizer) IsEOG(id int32) bool {
	_, ok := slices.BinarySearch(t.eog, id)
	return ok
}

// EOG returns the end-of-generation ids, sorted.
func (t *Tokenizer) EOG() []int32 { return slices.Clone(t.eog) }

// AddBOS reports whether AddSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// Piece returns the raw text of a token as stored in the vocabulary (e.g.
// "▁the", "Ġthe", "<0x0A>"), or "" for an out-of-range id.
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.texts) {
		return ""
	}
	return t.texts[id]
}

// Type returns the token's type (control, user-defined, byte, ...).
func (t *Tokenizer) Type(id int32) TokenType {
	if id < 0 || int(id) >= len(t.attrs) {
		return TypeUndefined
	}
	a := t.attrs[id]
	switch {
	case a&attrControl != 0:
		return TypeControl
	case a&attrUserDefined != 0:
		return TypeUserDefined
	case a&attrUnknown != 0:
		return TypeUnknown
	case a&attrByte != 0:
		return TypeByte
	case a&attrUnused != 0:
		return TypeUnused
	case a&attrNormal != 0:
		return TypeNormal
	}
	return TypeUndefined
}

// TokenID returns the id of a token's raw text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.ids[text]
	return id, ok
}

// Summary describes the tokenizer.
func (t *Tokenizer) Summary() Info {
	model := "llama"
	if t.kind == KindBPE {
		model = "gpt2"
	}
	return Info{
		Source: t.source, Kind: t.kind, Model: model, Pre: t.pre,
		VocabSize: len(t.texts), Merges: t.bpe.nMerges,
		SpecialTokens: len(t.specials),
		BOS:           t.bos, EOS: t.eos, EOT: t.eot, EOM: t.eom, UNK: t.unk, PAD: t.pad,
		EOG:    slices.Clone(t.eog),
		AddBOS: t.addBOS, AddEOS: t.addEOS,
		AddSpacePrefix: t.addSpacePrefix,
		IgnoreMerges:   t.bpe.ignoreMerges,
		ByteFallback:   t.bpe.byteFallback || t.kind == KindSPM && !slices.Contains(t.byteTok[:], none),
		ByteLevel:      t.bpe.byteLevel,
	}
}

// String renders the summary one field per line, as `spillway inspect`
// prints it.
func (i Info) String() string {
	var b strings.Builder
	id := func(v int32) string {
		if v < 0 {
			return "none"
		}
		return fmt.Sprint(v)
	}
	fmt.Fprintf(&b, "source: %s\nmodel: %s (%s)\npre-tokenizer: %s\n", i.Source, i.Model, i.Kind, i.Pre)
	fmt.Fprintf(&b, "vocab size: %d\nmerges: %d\nspecial tokens: %d\n", i.VocabSize, i.Merges, i.SpecialTokens)
	fmt.Fprintf(&b, "bos: %s\neos: %s\neot: %s\neom: %s\nunk: %s\npad: %s\neog: %v\n",
		id(i.BOS), id(i.EOS), id(i.EOT), id(i.EOM), id(i.UNK), id(i.PAD), i.EOG)
	fmt.Fprintf(&b, "add bos: %v\nadd eos: %v\nadd space prefix: %v\n", i.AddBOS, i.AddEOS, i.AddSpacePrefix)
	fmt.Fprintf(&b, "ignore merges: %v\nbyte fallback: %v\nbyte level: %v\n", i.IgnoreMerges, i.ByteFallback, i.ByteLevel)
	return b.String()
}

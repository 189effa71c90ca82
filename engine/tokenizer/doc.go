// Package tokenizer turns text into token ids and back, reproducing
// llama.cpp's tokenizers (vocabularies from GGUF metadata, FromGGUF) and
// Hugging Face tokenizers (tokenizer.json, FromHF).
//
// Two algorithms cover the llama family:
//
//   - SentencePiece-style (GGUF tokenizer.ggml.model = "llama"): spaces
//     become "▁", a "▁" is added at the start and after every special token
//     (add_space_prefix), the text is split into UTF-8 characters and the
//     adjacent pair forming the highest-scoring token is merged, the
//     leftmost on ties, until none forms a token. Characters outside the
//     vocabulary fall back to <0xNN> byte tokens.
//   - Byte-pair encoding (GGUF "gpt2", tokenizer.json BPE): text is split
//     into words by a pre-tokenizer, each word is spelled in GPT-2's
//     byte-to-unicode alphabet (byte-level vocabularies) and the adjacent
//     pair with the lowest merge rank is merged, the leftmost on ties.
//     With ignore_merges (Llama 3) a word that is itself a token is kept
//     whole.
//
// GGUF pre-tokenizers (tokenizer.ggml.pre): default, gpt-2 and its aliases,
// llama-bpe/llama3 and aliases, qwen2 and aliases, deepseek-llm,
// deepseek-coder, falcon, starcoder and aliases, dbrx, smaug-bpe, chatglm,
// poro/bloom, viking. GPT-2's and Llama 3's regexes are hand-written
// (pretok.go); pretok_test.go checks them against regexp2 running the
// original regexes. Other names are an error that says so.
//
// tokenizer.json support: BPE models (byte_fallback, unk_token, fuse_unk,
// ignore_merges, merges as "a b" or [a, b]); normalizers Sequence, Prepend,
// Replace, Lowercase, Strip; pre-tokenizers Sequence, ByteLevel, Split
// (known regexes hand-written, others through regexp2), Digits, Metaspace,
// Whitespace, WhitespaceSplit; post-processors TemplateProcessing,
// Roberta/Bert, ByteLevel; decoders ByteLevel, Metaspace, Replace,
// ByteFallback, Fuse, Strip. Added tokens match leftmost-longest, special
// ones only with ParseSpecial, normalized ones after normalization.
// tokenizer_config.json (add_bos_token/add_eos_token, bos/eos/unk/pad
// names), special_tokens_map.json and generation_config.json (eos ids join
// the end-of-generation set) are read when present. Unsupported components
// (NFC and other Unicode normalizers, Unigram/WordPiece models, ...) are an
// error naming them.
//
// Invariants:
//
//   - A Tokenizer never changes what it returns after construction and is
//     safe for concurrent use. Its only mutable state is an internal,
//     bounded cache of word encodings, which does not change results.
//   - Encode never fails and never panics: any byte string is tokenized
//     (invalid UTF-8 becomes U+FFFD for byte-level models as in llama.cpp,
//     byte tokens for SentencePiece models, one <unk> per character where
//     a vocabulary has neither), and every id is in [0, VocabSize()).
//   - Special-token text is matched only with EncodeOptions.ParseSpecial;
//     user-defined tokens (non-special added tokens) are always matched, as
//     in llama.cpp and Hugging Face.
//   - Decode drops the space the tokenizer put in front of the text (SPM
//     add_space_prefix, tokenizer.json Strip/Metaspace decoders) from the
//     first text after an optional leading BOS, so Decode(Encode(s)) == s
//     for byte-fallback and byte-level vocabularies (valid UTF-8 for the
//     latter; no user-defined token text in s). clean_up_tokenization_spaces
//     is not applied.
//   - A Detokenizer never emits invalid UTF-8: incomplete characters are
//     held back until complete, bytes that can never form one come out as
//     U+FFFD, one per byte. Its deltas add up to ValidUTF8(Decode(ids)).
//   - Loaders check every length and id they read; a malformed file is an
//     error naming the problem, never a panic or an allocation sized by an
//     unchecked number from the file.
package tokenizer

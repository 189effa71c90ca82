package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// Regexes of the form X?C{min,max} (X and C character classes) cover the
// remaining llama.cpp pre-tokenizers; llama.cpp runs them with std::regex,
// where every non-ASCII whitespace code point is first replaced by \v.

// runStage finds, left to right, the matches of opt?cls{min,max} (greedy;
// max 0 is unbounded) and splits the text into matches and gaps.
func runStage(opt, cls func(rune) bool, minN, maxN int) stage {
	return func(s string, lo, hi int, out []span) []span {
		c := cursor{s: s, lo: lo, hi: hi, out: out, prev: lo}
		for pos := lo; pos < hi; {
			r, n, _ := c.at(pos)
			if opt != nil && opt(r) {
				if end, ok := c.runN(pos+n, cls, minN, maxN); ok {
					c.emit(pos)
					c.emit(end)
					pos = end
					continue
				}
			}
			if end, ok := c.runN(pos, cls, minN, maxN); ok {
				c.emit(pos)
				c.emit(end)
				pos = end
				continue
			}
			pos += n
		}
		c.emit(hi)
		return c.out
	}
}

// runN matches cls between minN and maxN times at pos.
func (c *cursor) runN(pos int, cls func(rune) bool, minN, maxN int) (int, bool) {
	count := 0
	for maxN == 0 || count < maxN {
		r, n, _ := c.at(pos)
		if r < 0 || !cls(effective(r)) {
			break
		}
		pos += n
		count++
	}
	return pos, count >= minN && count > 0
}

// effective is the code point std::regex sees.
func effective(r rune) rune {
	if r >= utf8.RuneSelf && flagsOf(r)&cfSpace != 0 {
		return '\v'
	}
	return r
}

// trailingSpace is \s+$: the whitespace run that ends the piece.
func trailingSpace(s string, lo, hi int, out []span) []span {
	cut := hi
	for cut > lo {
		r, n := utf8.DecodeLastRuneInString(s[lo:cut])
		if !isSpace(r) {
			break
		}
		cut -= n
	}
	if cut > lo {
		out = append(out, span{int32(lo), int32(cut)})
	}
	if cut < hi {
		out = append(out, span{int32(cut), int32(hi)})
	}
	return out
}

func isSpace(r rune) bool  { return flagsOf(r)&cfSpace != 0 }
func isNumber(r rune) bool { return flagsOf(r)&cfNumber != 0 }
func isLetter(r rune) bool { return flagsOf(r)&cfLetter != 0 }
func isPunct(r rune) bool  { return flagsOf(r)&cfPunct != 0 }

// runeRanges is a parsed regex character class.
type runeRanges []rune // lo, hi pairs

// class parses the body of a [...] class made of literal code points and
// a-b ranges (no escapes).
func class(body string) runeRanges {
	rs := []rune(body)
	var out runeRanges
	for i := 0; i < len(rs); i++ {
		lo, hi := rs[i], rs[i]
		if i+2 < len(rs) && rs[i+1] == '-' {
			hi = rs[i+2]
			i += 2
		}
		out = append(out, lo, hi)
	}
	return out
}

func (rr runeRanges) has(r rune) bool {
	for i := 0; i < len(rr); i += 2 {
		if r >= rr[i] && r <= rr[i+1] {
			return true
		}
	}
	return false
}

func oneOf(set string) func(rune) bool {
	return func(r rune) bool { return strings.ContainsRune(set, r) }
}

// Character classes of DeepSeek's tokenizer.json pre-tokenizers.
var (
	deepseekLetters = class("A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃")
	deepseekPunct   = class("!-/:-~！-／：-～‘-‟　-。")
	deepseekCJK     = class("一-龥ࠀ-一가-퟿")
	poroStops       = class("(|.,!?…。，、।۔،)")
)

func splitNewlines() stage { return runStage(nil, oneOf("\r\n"), 1, 1) }

func eachNumber() stage { return runStage(nil, isNumber, 1, 1) }

// punctRun is [\p{P}extra]+.
func punctRun(extra string) stage {
	return runStage(nil, func(r rune) bool { return isPunct(r) || strings.ContainsRune(extra, r) }, 1, 0)
}

// poro is " ?[^(\s|.,!?…。，、।۔،)]+".
func poro() stage {
	return runStage(oneOf(" "), func(r rune) bool { return !isSpace(r) && !poroStops.has(r) }, 1, 0)
}

// preTokenizers maps tokenizer.ggml.pre to llama.cpp's regex lists and the
// flags its pre-tokenizer type implies.
type preSpec struct {
	names        []string
	split        func() splitter
	ignoreMerges bool
	addBOS       bool
	noBOS        bool // the pre-tokenizer type clears the BOS id
}

var preSpecs = []preSpec{
	{names: []string{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"},
		split: func() splitter { return splitter{splitLlama3(3)} }, ignoreMerges: true, addBOS: true},
	{names: []string{"dbrx", "smaug-bpe"}, split: func() splitter { return splitter{splitLlama3(3)} }},
	{names: []string{"glm4", "chatglm-bpe"}, split: func() splitter { return splitter{splitLlama3(3)} }, noBOS: true},
	{names: []string{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open"},
		split: func() splitter { return splitter{splitLlama3(1)} }},
	{names: []string{"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
		"modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais", "trillion", "granite-docling"},
		split: func() splitter { return splitter{splitGPT2} }},
	{names: []string{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"},
		split: func() splitter { return splitter{eachNumber(), splitGPT2} }},
	{names: []string{"falcon"}, split: func() splitter {
		return splitter{punctRun("$+<=>^~|`"), splitGPT2, runStage(nil, isASCIIDigit, 3, 3)}
	}},
	{names: []string{"default", ""}, split: func() splitter {
		return splitter{punctRun("$+<=>^~|"), splitGPT2, runStage(nil, isNumber, 1, 0), runStage(nil, isASCIIDigit, 3, 3)}
	}},
	{names: []string{"deepseek-llm"}, split: func() splitter {
		return splitter{splitNewlines(), runStage(isSpace, deepseekLetters.has, 1, 0), runStage(isSpace, deepseekPunct.has, 1, 0),
			trailingSpace, runStage(nil, deepseekCJK.has, 1, 0), runStage(nil, isNumber, 1, 0)}
	}},
	{names: []string{"deepseek-coder"}, split: func() splitter {
		return splitter{splitNewlines(), runStage(isSpace, isLetter, 1, 0), runStage(isSpace, isPunct, 1, 0),
			runStage(nil, deepseekCJK.has, 1, 0), eachNumber()}
	}},
	{names: []string{"poro-chat", "bloom", "gpt3-finnish"}, split: func() splitter { return splitter{poro()} }},
	{names: []string{"viking"}, split: func() splitter { return splitter{poro(), eachNumber()} }},
}

func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

func lookupPre(name string) (preSpec, bool) {
	for _, p := range preSpecs {
		for _, n := range p.names {
			if n == name {
				return p, true
			}
		}
	}
	return preSpec{}, false
}

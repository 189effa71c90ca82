package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dlclark/regexp2"
)

// hfWord is a piece of pre-tokenized text; first marks the piece that
// starts the whole input (Metaspace's prepend_scheme "first").
type hfWord struct {
	text  string
	first bool
}

// preStep is one tokenizer.json pre-tokenizer.
type preStep func(words []hfWord) []hfWord

// Regexes of well-known pre-tokenizers, which run on the hand-written
// splitters instead of the regex engine.
const (
	gpt2Regex   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	llama3Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Regex  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

var knownRegex = map[string]func() stage{
	gpt2Regex:   func() stage { return splitGPT2 },
	llama3Regex: func() stage { return splitLlama3(3) },
	qwen2Regex:  func() stage { return splitLlama3(1) },
}

func (t *Tokenizer) addPreTokenizer(raw json.RawMessage, depth int) error {
	c, ok, err := hfParse(raw, depth)
	if !ok || err != nil {
		return err
	}
	p := t.hf
	switch c.Type {
	case "Sequence":
		for _, sub := range c.PreTokenizers {
			if err := t.addPreTokenizer(sub, depth+1); err != nil {
				return err
			}
		}
		return nil
	case "ByteLevel":
		t.bpe.byteLevel = true
		for b := range 256 {
			t.bpe.charTok[b] = t.lookup(byteChars[b])
		}
		p.pre = append(p.pre, byteLevelStep(c.AddPrefixSpace == nil || *c.AddPrefixSpace, c.UseRegex == nil || *c.UseRegex))
		return nil
	case "Metaspace":
		p.pre = append(p.pre, metaspaceStep(c))
		return nil
	}
	step, err := splitStepFor(c)
	if err != nil {
		return err
	}
	p.pre = append(p.pre, step)
	return nil
}

// splitStepFor builds the pre-tokenizers that only split.
func splitStepFor(c hfComponent) (preStep, error) {
	switch c.Type {
	case "Split":
		return splitStep(c.Pattern, c.Behavior, c.Invert)
	case "Digits":
		if c.IndividualDigits {
			return stageStep(eachNumber()), nil
		}
		return stageStep(runStage(nil, isNumber, 1, 0)), nil
	case "WhitespaceSplit":
		return matchStep(func(s string) [][2]int { return runsOf(s, isSpace) }, "Removed", false), nil
	case "Whitespace":
		m, err := regexMatcher(`\w+|[^\w\s]+`)
		if err != nil {
			return nil, err
		}
		return matchStep(m, "Removed", true), nil
	}
	return nil, fmt.Errorf("pre-tokenizer %q is not supported", c.Type)
}

// byteLevelStep is the ByteLevel pre-tokenizer; the byte-to-character
// mapping itself happens in bpeWord.
func byteLevelStep(addPrefixSpace, useRegex bool) preStep {
	split := stageStep(splitGPT2)
	return func(words []hfWord) []hfWord {
		if addPrefixSpace {
			for i := range words {
				if !strings.HasPrefix(words[i].text, " ") {
					words[i].text = " " + words[i].text
				}
			}
		}
		if useRegex {
			return split(words)
		}
		return words
	}
}

// metaspaceStep replaces spaces by the replacement character, prepends one
// per the scheme and optionally splits before each replacement.
func metaspaceStep(c hfComponent) preStep {
	rep := c.Replacement
	if rep == "" {
		rep = spaceMark
	}
	scheme := c.PrependScheme
	if scheme == "" {
		scheme = "always"
		if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
			scheme = "never"
		}
	}
	split := c.Split == nil || *c.Split
	return func(words []hfWord) []hfWord {
		var out []hfWord
		for _, w := range words {
			s := strings.ReplaceAll(w.text, " ", rep)
			if (scheme == "always" || scheme == "first" && w.first) && !strings.HasPrefix(s, rep) {
				s = rep + s
			}
			if !split {
				out = append(out, hfWord{s, w.first})
				continue
			}
			for i, part := range splitBefore(s, rep) {
				out = append(out, hfWord{part, w.first && i == 0})
			}
		}
		return out
	}
}

// splitBefore splits s before every occurrence of sep (HF's MergedWithNext).
func splitBefore(s, sep string) []string {
	var out []string
	for {
		skip := 0
		if strings.HasPrefix(s, sep) {
			skip = len(sep)
		}
		i := strings.Index(s[skip:], sep)
		if i < 0 {
			if s != "" {
				out = append(out, s)
			}
			return out
		}
		out = append(out, s[:skip+i])
		s = s[skip+i:]
	}
}

// stageStep applies a splitter stage to every word.
func stageStep(st stage) preStep {
	return func(words []hfWord) []hfWord {
		var out []hfWord
		var spans []span
		for _, w := range words {
			spans = st(w.text, 0, len(w.text), spans[:0])
			for i, sp := range spans {
				out = append(out, hfWord{w.text[sp.lo:sp.hi], w.first && i == 0})
			}
		}
		return out
	}
}

func splitStep(pat *hfPattern, behavior string, invert bool) (preStep, error) {
	if pat == nil {
		return nil, errors.New("Split has no pattern")
	}
	var m func(string) [][2]int
	switch {
	case pat.Regex != nil:
		if mk, ok := knownRegex[*pat.Regex]; ok && behavior == "Isolated" && !invert {
			return stageStep(mk()), nil
		}
		var err error
		if m, err = regexMatcher(*pat.Regex); err != nil {
			return nil, err
		}
	case pat.String != nil && *pat.String != "":
		lit := *pat.String
		m = func(s string) [][2]int { return literalMatches(s, lit) }
	default:
		return nil, errors.New("Split pattern is neither String nor Regex")
	}
	switch behavior {
	case "Isolated", "Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous":
	default:
		return nil, fmt.Errorf("Split behavior %q is not supported", behavior)
	}
	return matchStep(m, behavior, invert), nil
}

func literalMatches(s, lit string) [][2]int {
	var out [][2]int
	for off := 0; ; {
		i := strings.Index(s[off:], lit)
		if i < 0 {
			return out
		}
		out = append(out, [2]int{off + i, off + i + len(lit)})
		off += i + len(lit)
	}
}

// runsOf returns the maximal runs of code points satisfying ok.
func runsOf(s string, ok func(rune) bool) [][2]int {
	var out [][2]int
	start := -1
	for i, r := range s {
		switch {
		case ok(r) && start < 0:
			start = i
		case !ok(r) && start >= 0:
			out = append(out, [2]int{start, i})
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(s)})
	}
	return out
}

// regexMatcher compiles a tokenizer.json regex (Oniguruma syntax, which
// regexp2's .NET dialect covers for the patterns tokenizers use). The
// timeout stops pathological backtracking on hostile input.
func regexMatcher(pattern string) (func(string) [][2]int, error) {
	re, err := regexp2.Compile(pattern, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	re.MatchTimeout = 5 * time.Second
	return func(s string) [][2]int {
		runes := []rune(s)
		offs := make([]int, 0, len(runes)+1) // rune index -> byte offset
		for i := range s {
			offs = append(offs, i)
		}
		offs = append(offs, len(s))
		var out [][2]int
		m, err := re.FindRunesMatch(runes)
		for err == nil && m != nil {
			if m.Length > 0 {
				out = append(out, [2]int{offs[m.Index], offs[m.Index+m.Length]})
			}
			m, err = re.FindNextMatch(m)
		}
		return out
	}, nil
}

// matchStep splits words at the matches of m, which are delimiters
// handled per behavior (or, inverted, the pieces to keep).
func matchStep(m func(string) [][2]int, behavior string, invert bool) preStep {
	return func(words []hfWord) []hfWord {
		var out []hfWord
		for _, w := range words {
			for i, part := range splitPieces(w.text, m(w.text), behavior, invert) {
				out = append(out, hfWord{part, w.first && i == 0})
			}
		}
		return out
	}
}

// splitPieces implements HF's SplitDelimiterBehavior.
func splitPieces(s string, ms [][2]int, behavior string, invert bool) []string {
	type piece struct {
		lo, hi int
		delim  bool
	}
	var ps []piece
	prev := 0
	for _, m := range ms {
		if m[0] > prev {
			ps = append(ps, piece{prev, m[0], invert})
		}
		ps = append(ps, piece{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev < len(s) {
		ps = append(ps, piece{prev, len(s), invert})
	}
	var out []piece
	for i, p := range ps {
		switch {
		case !p.delim || behavior == "Isolated":
			out = append(out, p)
		case behavior == "Removed":
		case behavior == "MergedWithPrevious" && len(out) > 0 && !ps[i-1].delim:
			out[len(out)-1].hi = p.hi
		case behavior == "MergedWithNext" && i+1 < len(ps) && !ps[i+1].delim:
			ps[i+1].lo = p.lo
		case behavior == "Contiguous" && len(out) > 0 && i > 0 && ps[i-1].delim:
			out[len(out)-1].hi = p.hi
		default:
			out = append(out, p)
		}
	}
	strs := make([]string, 0, len(out))
	for _, p := range out {
		if p.hi > p.lo {
			strs = append(strs, s[p.lo:p.hi])
		}
	}
	return strs
}

package tokenizer

import (
	"golang.org/x/text/unicode/norm"

	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// hfComponent is any tokenizer.json normalizer, pre-tokenizer, decoder or
// post-processor; which fields mean something depends on Type.
type hfComponent struct {
	Type string `json:"type"`

	Normalizers   []json.RawMessage `json:"normalizers"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Decoders      []json.RawMessage `json:"decoders"`
	Processors    []json.RawMessage `json:"processors"`

	Prepend    string     `json:"prepend"`
	Pattern    *hfPattern `json:"pattern"`
	Content    string     `json:"content"`
	StripLeft  *bool      `json:"strip_left"`
	StripRight *bool      `json:"strip_right"`

	AddPrefixSpace   *bool  `json:"add_prefix_space"`
	UseRegex         *bool  `json:"use_regex"`
	Behavior         string `json:"behavior"`
	Invert           bool   `json:"invert"`
	IndividualDigits bool   `json:"individual_digits"`
	Replacement      string `json:"replacement"`
	PrependScheme    string `json:"prepend_scheme"`
	Split            *bool  `json:"split"`

	Start int `json:"start"`

	Single        []hfTemplateItem          `json:"single"`
	SpecialTokens map[string]hfTemplateToks `json:"special_tokens"`
	Sep           []json.RawMessage         `json:"sep"`
	Cls           []json.RawMessage         `json:"cls"`
}

type hfPattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

type hfTemplateItem struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type hfTemplateToks struct {
	IDs []int64 `json:"ids"`
}

// maxNesting bounds Sequence nesting, which real files use one level deep.
const maxNesting = 8

// hfParse decodes raw into a component; ok is false for JSON null.
func hfParse(raw json.RawMessage, depth int) (c hfComponent, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return c, false, nil
	}
	if depth > maxNesting {
		return c, false, fmt.Errorf("components nested deeper than %d", maxNesting)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, false, err
	}
	return c, true, nil
}

// normStep is one normalizer.
type normStep func(string) string

// hfPipeline is what a tokenizer.json adds around the BPE model.
type hfPipeline struct {
	norm       []normStep
	pre        []preStep
	raw, norm2 addedSet // added tokens matched before / after normalization
}

func (p *hfPipeline) normalize(s string) string {
	for _, n := range p.norm {
		s = n(s)
	}
	return s
}

// hfPipelineFrom reads normalizer, pre-tokenizer and decoder.
func (t *Tokenizer) hfPipelineFrom(f *hfFile) error {
	p := &hfPipeline{}
	t.hf = p
	if err := p.addNormalizer(f.Normalizer, 0); err != nil {
		return fmt.Errorf("normalizer: %w", err)
	}
	if err := t.addPreTokenizer(f.PreTokenizer, 0); err != nil {
		return fmt.Errorf("pre_tokenizer: %w", err)
	}
	if err := t.hfDecoder(f.Decoder); err != nil {
		return fmt.Errorf("decoder: %w", err)
	}
	p.raw, p.norm2 = t.addedSets(f.AddedTokens)
	t.pre = "hf"
	return nil
}

func (p *hfPipeline) addNormalizer(raw json.RawMessage, depth int) error {
	c, ok, err := hfParse(raw, depth)
	if !ok || err != nil {
		return err
	}
	switch c.Type {
	case "Sequence":
		for _, sub := range c.Normalizers {
			if err := p.addNormalizer(sub, depth+1); err != nil {
				return err
			}
		}
	case "Prepend":
		pre := c.Prepend
		p.norm = append(p.norm, func(s string) string {
			if s == "" {
				return s
			}
			return pre + s
		})
	case "Replace":
		step, err := replaceStep(c.Pattern, c.Content)
		if err != nil {
			return err
		}
		p.norm = append(p.norm, step)
	case "Lowercase":
		p.norm = append(p.norm, strings.ToLower)
	case "NFC": // Qwen2's tokenizer.json
		p.norm = append(p.norm, norm.NFC.String)
	case "NFKC":
		p.norm = append(p.norm, norm.NFKC.String)
	case "NFD":
		p.norm = append(p.norm, norm.NFD.String)
	case "NFKD":
		p.norm = append(p.norm, norm.NFKD.String)
	case "Strip":
		left, right := c.StripLeft == nil || *c.StripLeft, c.StripRight == nil || *c.StripRight
		p.norm = append(p.norm, func(s string) string {
			if left {
				s = strings.TrimLeftFunc(s, isSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, isSpace)
			}
			return s
		})
	default:
		return fmt.Errorf("normalizer %q is not supported", c.Type)
	}
	return nil
}

func replaceStep(pat *hfPattern, content string) (normStep, error) {
	switch {
	case pat == nil:
		return nil, errors.New("Replace has no pattern")
	case pat.String != nil:
		from := *pat.String
		if from == "" {
			return nil, errors.New("Replace pattern is empty")
		}
		return func(s string) string { return strings.ReplaceAll(s, from, content) }, nil
	case pat.Regex != nil:
		m, err := regexMatcher(*pat.Regex)
		if err != nil {
			return nil, err
		}
		return func(s string) string { return replaceMatches(s, m(s), content) }, nil
	}
	return nil, errors.New("Replace pattern is neither String nor Regex")
}

func replaceMatches(s string, ms [][2]int, content string) string {
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	prev := 0
	for _, m := range ms {
		b.WriteString(s[prev:m[0]])
		b.WriteString(content)
		prev = m[1]
	}
	b.WriteString(s[prev:])
	return b.String()
}

// hfDecoder chooses how tokens become bytes and whether the first space of
// a text is dropped (Strip / Metaspace decoders).
func (t *Tokenizer) hfDecoder(raw json.RawMessage) error {
	style := styleSPM
	if t.bpe.byteLevel {
		style = styleByteLevel
	}
	var walk func(raw json.RawMessage, depth int) error
	walk = func(raw json.RawMessage, depth int) error {
		c, ok, err := hfParse(raw, depth)
		if !ok || err != nil {
			return err
		}
		switch c.Type {
		case "Sequence":
			for _, d := range c.Decoders {
				if err := walk(d, depth+1); err != nil {
					return err
				}
			}
		case "ByteLevel":
			style = styleByteLevel
		case "Metaspace":
			style = styleSPM
			t.stripSpace = c.PrependScheme != "never" && (c.AddPrefixSpace == nil || *c.AddPrefixSpace)
		case "Strip":
			t.stripSpace = t.stripSpace || (c.Content == " " && c.Start > 0)
		case "Replace", "ByteFallback", "Fuse":
			// the SentencePiece-style rendering does these
		default:
			return fmt.Errorf("decoder %q is not supported", c.Type)
		}
		return nil
	}
	if err := walk(raw, 0); err != nil {
		return err
	}
	t.style = style
	return nil
}

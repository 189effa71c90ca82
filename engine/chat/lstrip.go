package chat

import (
	"regexp"
	"strings"
)

// Jinja2's lstrip_blocks removes the spaces and tabs before a block or
// comment tag only when nothing else precedes the tag on its line, where
// "the line" starts after a newline in the text or, when the text has none,
// at the start of the template or right after a tag whose match ended with
// a newline (trim_blocks' "\n", or a "-%}" that ate whitespace up to one).
// gonja strips that whitespace even after text on the same line, so
// `{{ x }} {% endif %}` loses its space. We therefore turn gonja's
// lstrip_blocks off and apply Jinja's rule to the source ourselves (as
// Jinja's lexer does, on newline-normalised text). Only spaces and tabs are
// removed, so line numbers in later errors are unchanged.

var (
	newlines = strings.NewReplacer("\r\n", "\n", "\r", "\n")
	// {% raw %} and its end, as Jinja's lexer recognises them.
	rawOpen = regexp.MustCompile(`^\{%[-+]?\s*raw\s*[-+]?%\}`)
	rawEnd  = regexp.MustCompile(`\{%[-+]?\s*endraw\s*[-+]?%\}`)
)

// lstripBlocks applies Jinja2's lstrip_blocks (with trim_blocks on) to src.
func lstripBlocks(src string) string {
	src = newlines.Replace(src)
	var out strings.Builder
	out.Grow(len(src))
	pos, lineStarting := 0, true
	for pos < len(src) {
		open := nextTag(src, pos)
		if open < 0 {
			out.WriteString(src[pos:])
			break
		}
		kind, sign := src[open+1], tagSign(src, open+2)
		text := src[pos:open]
		if kind != '{' && sign == 0 {
			text = stripLineStart(text, lineStarting)
		}
		out.WriteString(text)
		end, ok := tagEnd(src, open, kind)
		if !ok { // unterminated: leave the rest to the parser's error
			out.WriteString(src[open:])
			break
		}
		tag := src[open:end]
		if kind == '%' && rawOpen.MatchString(tag) {
			end, lineStarting = copyRaw(&out, src, tag, end)
			pos = end
			continue
		}
		out.WriteString(tag)
		pos = end
		lineStarting = endsLine(src, end, tag)
	}
	return out.String()
}

// nextTag finds the next "{{", "{%" or "{#" at or after pos, or -1.
func nextTag(src string, pos int) int {
	for {
		i := strings.IndexByte(src[pos:], '{')
		if i < 0 || pos+i+1 >= len(src) {
			return -1
		}
		switch src[pos+i+1] {
		case '{', '%', '#':
			return pos + i
		}
		pos += i + 1
	}
}

func tagSign(src string, i int) byte {
	if i < len(src) && (src[i] == '-' || src[i] == '+') {
		return src[i]
	}
	return 0
}

// stripLineStart drops trailing spaces and tabs of text when they are all
// that stands between the start of a line and the tag.
func stripLineStart(text string, lineStarting bool) string {
	l := strings.LastIndexByte(text, '\n') + 1
	if l == 0 && !lineStarting {
		return text
	}
	if strings.Trim(text[l:], " \t") != "" {
		return text
	}
	return text[:l]
}

// tagEnd returns the index just past the tag opened at open: the first
// closing delimiter outside string literals and, for {{ and {%, outside
// brackets, as Jinja's lexer finds it.
func tagEnd(src string, open int, kind byte) (int, bool) {
	if kind == '#' {
		i := strings.Index(src[open+2:], "#}")
		if i < 0 {
			return 0, false
		}
		return open + 2 + i + 2, true
	}
	closer := byte('}')
	if kind == '%' {
		closer = '%'
	}
	depth := 0
	for i := open + 2; i < len(src); i++ {
		switch c := src[i]; c {
		case '\'', '"':
			j := skipString(src, i)
			if j < 0 {
				return 0, false
			}
			i = j
		case '(', '[', '{':
			depth++
		case ')', ']':
			depth = max(0, depth-1)
		case '}', '%':
			if depth == 0 && c == closer && i+1 < len(src) && src[i+1] == '}' {
				return i + 2, true
			}
			if c == '}' {
				depth = max(0, depth-1)
			}
		}
	}
	return 0, false
}

// skipString returns the index of the quote closing the literal at i.
func skipString(src string, i int) int {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case q:
			return j
		}
	}
	return -1
}

// endsLine reports whether Jinja's match for the tag ending at end finished
// with a newline: a "-" closer eats all following whitespace, a block or
// comment closer without "+" eats one newline (trim_blocks).
func endsLine(src string, end int, tag string) bool {
	sign := tag[len(tag)-3]
	kind := tag[1]
	if sign == '-' {
		j := end
		for j < len(src) && strings.IndexByte(" \t\n\f\v", src[j]) >= 0 {
			j++
		}
		return j > end && src[j-1] == '\n'
	}
	if kind == '{' || sign == '+' {
		return false
	}
	return end < len(src) && src[end] == '\n'
}

// copyRaw writes a {% raw %} block: the opening tag (with a "+" so that
// gonja, unlike Jinja, does not trim the newline after it), the body
// verbatim but for whitespace control, and lstrip applied before
// {% endraw %} as Jinja does.
func copyRaw(out *strings.Builder, src, tag string, end int) (int, bool) {
	if tag[len(tag)-3] != '-' && tag[len(tag)-3] != '+' {
		tag = tag[:len(tag)-2] + "+%}"
	}
	out.WriteString(tag)
	lineStarting := endsLine(src, end, tag)
	loc := rawEnd.FindStringIndex(src[end:])
	if loc == nil {
		out.WriteString(src[end:])
		return len(src), false
	}
	body := src[end : end+loc[0]]
	closeTag := src[end+loc[0] : end+loc[1]]
	// gonja copies a raw body untouched, so the "-" of "{% raw -%}" and
	// "{%- endraw %}" is applied here.
	if tag[len(tag)-3] == '-' {
		body = strings.TrimLeftFunc(body, pyIsSpace)
	}
	switch tagSign(closeTag, 2) {
	case 0:
		body = stripLineStart(body, lineStarting)
	case '-':
		body = strings.TrimRightFunc(body, pyIsSpace)
	}
	out.WriteString(body)
	out.WriteString(closeTag)
	next := end + loc[1]
	return next, endsLine(src, next, closeTag)
}

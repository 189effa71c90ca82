package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxJSONFile bounds config-style JSON files read from a model directory.
// Real ones are kilobytes (tokenizer_config.json with a long added-token
// table reaches a few MB); the bound keeps a hostile file from exhausting
// memory.
const maxJSONFile = 64 << 20

// readSmallFile reads a config-style file whole. A missing file is
// reported as an error satisfying errors.Is(err, os.ErrNotExist).
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJSONFile+1))
	if err != nil {
		return nil, err // an *os.PathError, naming the file
	}
	if len(data) > maxJSONFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, refusing to read it", path, maxJSONFile)
	}
	return data, nil
}

// member is one key/value of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers decodes a JSON object into its members in order, rejecting
// duplicate keys (encoding/json would silently keep the last one, which for
// a tensor table means reading bytes the writer never meant) and anything
// but whitespace after the closing brace.
func objectMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, found %s", describeToken(tok))
	}
	var out []member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("want an object key, found %s", describeToken(tok))
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("value of %q: %w", key, jsonErr(err))
		}
		out = append(out, member{key, v})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, jsonErr(err)
	}
	rest := data[dec.InputOffset():]
	if len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	return out, nil
}

// jsonErr rewords encoding/json errors in the file's terms: a type error
// names the JSON field rather than a Go type, and a truncated input says so.
func jsonErr(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && strings.Contains(se.Error(), "unexpected end"):
		return errors.New("truncated JSON")
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("%s: %s is not a valid %s", te.Field, te.Value, te.Type)
	case errors.As(err, &te):
		return fmt.Errorf("found a %s where a JSON %s belongs", te.Value, jsonKind(te.Type.Kind().String()))
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated JSON")
	}
	return err
}

// jsonKind names the JSON shape a Go kind decodes from.
func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "string":
		return "string"
	case "bool":
		return "boolean"
	}
	return "number"
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// isNull reports whether a raw JSON value is absent or null.
func isNull(v json.RawMessage) bool {
	t := bytes.TrimSpace(v)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

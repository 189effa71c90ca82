package federation

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// maxConfigBytes bounds a configuration document.
const maxConfigBytes = 1 << 20

// LoadConfig parses a YAML federation configuration (the shape of
// Config; durations as "5s", targets as names or {name, weight}) and
// validates it. Unknown keys are errors: a typo must not silently turn
// a limit off.
func LoadConfig(data []byte) (Config, error) {
	var c Config
	if len(data) > maxConfigBytes {
		return c, fmt.Errorf("federation config: %d bytes, limit %d", len(data), maxConfigBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("federation config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("federation config: more than one YAML document")
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("federation config: %w", err)
	}
	return c, nil
}

package main

import (
	"io"
	"strings"
	"testing"
)

const fedYAML = `providers:
  - {name: up, kind: openai, base_url: "http://127.0.0.1:9/v1"}
routes:
  - {model: tiny, targets: [local, up], spill: {max_queue_wait: 0.5}}
  - {model: far, targets: [up]}
`

func TestLoadFederation(t *testing.T) {
	tests := []struct {
		name, content string // content "" with name "": no flag
		models        string
		err           string
	}{
		{name: "", content: "", models: ""},
		{name: "fed.yaml", content: fedYAML, models: "tiny,far"},
		{name: "typo.yaml", content: "providerz: []\n", err: "field providerz not found"},
		{name: "route.yaml", content: "routes: [{model: m, targets: [nowhere]}]\n", err: `target "nowhere" is not a provider`},
	}
	for _, tt := range tests {
		path := ""
		if tt.name != "" {
			path = writeFile(t, tt.name, tt.content)
		}
		sp, err := loadFederation(path)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: error %v, want one naming the file and %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := ""
		if sp != nil {
			got = strings.Join(sp.Models(), ",")
		}
		if got != tt.models {
			t.Errorf("%s: routed models %q, want %q", tt.name, got, tt.models)
		}
	}
	if _, err := loadFederation("/nonexistent/fed.yaml"); err == nil {
		t.Error("a missing file loaded")
	}
}

// The config file's federation key is the flag's, as for every setting.
func TestFederationConfigKey(t *testing.T) {
	fc, err := parseConfig([]byte("federation: /etc/spillway/fed.yaml\n"))
	if err != nil {
		t.Fatal(err)
	}
	fs := newFlags("serve", io.Discard)
	c := &serveConfig{}
	c.register(fs)
	if err := fc.applyFile(fs, map[string]bool{}); err != nil {
		t.Fatal(err)
	}
	if c.federationPath != "/etc/spillway/fed.yaml" {
		t.Errorf("federation path %q", c.federationPath)
	}
}

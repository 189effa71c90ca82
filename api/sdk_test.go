package api

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestOpenAINodeSDK runs the official OpenAI Node SDK (api/sdktest, a
// pinned version) against a server with the fake generator: chat and
// completions, streaming and not, n > 1, stop sequences, logprobs, the
// models list and the error cases, each checked field by field. It needs
// node and npm; node_modules is installed once (npm ci) and reused.
func TestOpenAINodeSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the Node SDK test in -short mode")
	}
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		t.Skip("skipping: node and npm are needed for the OpenAI Node SDK test (apt-get install nodejs npm)")
	}
	ts := newTestServer(t, func(c *Config) {
		c.Tenants = []Tenant{{Name: "sdk", Key: "sk-test"}, {Name: "limited", Key: "sk-limited", RequestsPerMinute: 1}}
	})
	flaky := newFakeGen(t)
	flaky.failAt = 2
	if err := ts.s.AddModel(fakeModel(t, "flaky", flaky)); err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs("sdktest")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ensureNodeModules(ctx, t, npm, dir)
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=tap", "sdk.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SPILLWAY_URL="+ts.url, "SPILLWAY_KEY=sk-test", "SPILLWAY_LIMITED_KEY=sk-limited")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test failed: %v\n%s", err, out)
	}
	pass := regexp.MustCompile(`(?m)^# pass (\d+)$`).FindSubmatch(out)
	fail := regexp.MustCompile(`(?m)^# fail (\d+)$`).FindSubmatch(out)
	if pass == nil || fail == nil || string(fail[1]) != "0" || string(pass[1]) == "0" {
		t.Fatalf("unexpected node --test summary:\n%s", out)
	}
	t.Logf("OpenAI Node SDK: %s tests passed", pass[1])
}

// ensureNodeModules runs npm ci unless node_modules already holds the
// pinned openai version.
func ensureNodeModules(ctx context.Context, t *testing.T, npm, dir string) {
	t.Helper()
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	var installed struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil || json.Unmarshal(b, &pkg) != nil {
		t.Fatalf("reading sdktest/package.json: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "node_modules", "openai", "package.json")); err == nil &&
		json.Unmarshal(b, &installed) == nil && installed.Version == pkg.Dependencies["openai"] {
		return
	}
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
}

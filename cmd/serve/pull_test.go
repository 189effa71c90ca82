package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHub stands in for huggingface.co: /api/models/REPO lists files,
// /REPO/resolve/main/FILE redirects to /cdn/FILE with the LFS headers,
// /cdn/FILE serves the bytes with Range support. cutAt > 0 makes the next
// download stop after that many bytes.
type fakeHub struct {
	files  map[string][]byte // "owner/repo/file" → content
	etag   map[string]string // overrides the advertised sha256
	mu     sync.Mutex
	cutAt  int
	ranges []string // Range headers seen by the CDN
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/models/"):
		repo := strings.TrimPrefix(r.URL.Path, "/api/models/")
		var sib []map[string]string
		for k := range h.files {
			if f, ok := strings.CutPrefix(k, repo+"/"); ok {
				sib = append(sib, map[string]string{"rfilename": f})
			}
		}
		if sib == nil {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"siblings": sib})
	case strings.Contains(r.URL.Path, "/resolve/main/"):
		key := strings.Replace(strings.TrimPrefix(r.URL.Path, "/"), "/resolve/main/", "/", 1)
		data, ok := h.files[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(data)
		etag := hex.EncodeToString(sum[:])
		if e, ok := h.etag[key]; ok {
			etag = e
		}
		w.Header().Set("X-Linked-Etag", `"`+etag+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(data)))
		http.Redirect(w, r, "/cdn/"+key, http.StatusFound)
	case strings.HasPrefix(r.URL.Path, "/cdn/"):
		h.serveCDN(w, r, strings.TrimPrefix(r.URL.Path, "/cdn/"))
	default:
		http.NotFound(w, r)
	}
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, r *http.Request, key string) {
	h.mu.Lock()
	h.ranges = append(h.ranges, r.Header.Get("Range"))
	cut := h.cutAt
	h.cutAt = 0
	h.mu.Unlock()
	data := h.files[key]
	if cut > 0 { // announce everything, send part, hang up
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:cut])
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, key, time.Time{}, bytes.NewReader(data))
}

func newHub(t *testing.T, files map[string][]byte) (*fakeHub, string) {
	h := &fakeHub{files: files, etag: map[string]string{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func pullCmd(t *testing.T, endpoint, dir string, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("SPILLWAY_HF_ENDPOINT", endpoint)
	var out, errOut bytes.Buffer
	err := runPull(append([]string{"--models-dir", dir}, args...), &out, &errOut)
	return strings.TrimSpace(out.String()), errOut.String(), err
}

func TestPullFullDownload(t *testing.T) {
	data := payload(300_000)
	_, url := newHub(t, map[string][]byte{"acme/tiny-GGUF/tiny.Q8_0.gguf": data, "acme/tiny-GGUF/README.md": []byte("hi")})
	dir := t.TempDir()
	path, progress, err := pullCmd(t, url, dir, "acme/tiny-GGUF")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "acme", "tiny-GGUF", "tiny.Q8_0.gguf"); path != want {
		t.Errorf("path %q, want %q", path, want)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes that differ from the hub's", len(got))
	}
	if !strings.Contains(progress, "tiny.Q8_0.gguf") {
		t.Errorf("no progress bar: %q", progress)
	}
	for _, name := range []string{"acme/tiny-GGUF:tiny.Q8_0.gguf", "acme/tiny-GGUF", "tiny.Q8_0", "tiny.Q8_0.gguf"} {
		got, served, err := resolveModel(name, dir)
		if err != nil || got != path || served != name {
			t.Errorf("resolveModel(%q) = %q %q %v", name, got, served, err)
		}
	}
}

func TestPullResumeAfterCut(t *testing.T) {
	data := payload(500_000)
	hub, url := newHub(t, map[string][]byte{"acme/m/m.gguf": data})
	hub.cutAt = 200_000
	dir := t.TempDir()
	_, _, err := pullCmd(t, url, dir, "--quiet", "acme/m:m.gguf")
	if err == nil || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("a cut download should fail and say how to resume: %v", err)
	}
	partial := filepath.Join(dir, "acme", "m", "m.gguf.partial")
	if st, err := os.Stat(partial); err != nil || st.Size() != 200_000 {
		t.Fatalf("partial file: %v %v", st, err)
	}
	path, _, err := pullCmd(t, url, dir, "--quiet", "acme/m:m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Error("resumed file differs")
	}
	if hub.ranges[len(hub.ranges)-1] != "bytes=200000-" {
		t.Errorf("second request's Range: %q", hub.ranges)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}
}

func TestPullChecksumMismatch(t *testing.T) {
	data := payload(1000)
	hub, url := newHub(t, map[string][]byte{"acme/m/m.gguf": data})
	hub.etag["acme/m/m.gguf"] = strings.Repeat("ab", 32)
	dir := t.TempDir()
	_, _, err := pullCmd(t, url, dir, "--quiet", "acme/m:m.gguf")
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), strings.Repeat("ab", 32)) {
		t.Fatalf("want a checksum mismatch naming the expected sum: %v", err)
	}
	for _, f := range []string{"m.gguf", "m.gguf.partial"} {
		if _, err := os.Stat(filepath.Join(dir, "acme", "m", f)); !os.IsNotExist(err) {
			t.Errorf("%s should not exist after a mismatch", f)
		}
	}
	// --sha256 overrides the hub's value.
	sum := sha256.Sum256(data)
	if _, _, err := pullCmd(t, url, dir, "--quiet", "--sha256", hex.EncodeToString(sum[:]), "acme/m:m.gguf"); err != nil {
		t.Errorf("with the right --sha256: %v", err)
	}
}

func TestPullErrors(t *testing.T) {
	_, url := newHub(t, map[string][]byte{"acme/two/a.Q8_0.gguf": {1}, "acme/two/a.Q4_K_M.gguf": {2}, "acme/two/b.Q4_K_M.gguf": {3},
		"acme/one/x.Q8_0.gguf": {1}, "acme/one/x.Q4_K_M.gguf": {2}})
	tests := []struct{ ref, want string }{
		{"../etc", "not a Hugging Face repository"},
		{"acme/m:../../x.gguf", "relative path"},
		{"acme/m:/abs.gguf", "relative path"},
		{"acme/missing:f.gguf", "not found"},
		{"acme/two", "pick one"},
		{"acme/nothing", "not found"},
	}
	for _, tt := range tests {
		if _, _, err := pullCmd(t, url, t.TempDir(), "--quiet", tt.ref); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("pull %s: %v, want %q", tt.ref, err, tt.want)
		}
	}
	path, _, err := pullCmd(t, url, t.TempDir(), "--quiet", "acme/one")
	if err != nil || filepath.Base(path) != "x.Q4_K_M.gguf" {
		t.Errorf("with several files the Q4_K_M one is taken: %q %v", path, err)
	}
	p := &puller{endpoint: url, revision: "main", client: http.DefaultClient}
	if _, err := p.pull(context.Background(), "acme/two:a.Q8_0.gguf", t.TempDir(), "xyz"); err == nil || !strings.Contains(err.Error(), "64 hex") {
		t.Errorf("bad --sha256: %v", err)
	}
}

func TestFindPulledAmbiguous(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/x/m.gguf", "b/y/m.gguf", "b/y/other.gguf", "c/z/half.gguf.partial"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte("x"), 0o644)
	}
	tests := []struct{ name, want string }{
		{"m", "several"}, {"b/y", "several"}, {"half", "neither"}, {"nope", "neither"}, {"a/x:missing.gguf", "not pulled"},
	}
	for _, tt := range tests {
		if _, err := findPulled(tt.name, dir); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("findPulled(%q) = %v, want %q", tt.name, err, tt.want)
		}
	}
	if p, err := findPulled("other", dir); err != nil || !strings.HasSuffix(p, "other.gguf") {
		t.Errorf("findPulled(other) = %q %v", p, err)
	}
}

// FuzzParseRef: whatever is accepted stays inside the models directory.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"a/b", "a/b:c.gguf", "a/b:d/e.gguf", "../x", "a/b:../../etc/passwd", "a/b:/x", "a/..:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		repo, file, err := parseRef(ref)
		if err != nil {
			return
		}
		dir := "/models"
		p := filepath.Join(dir, filepath.FromSlash(repo), filepath.FromSlash(file))
		if !strings.HasPrefix(p, dir+"/") || strings.Contains(p, "/../") {
			t.Fatalf("parseRef(%q) escapes: %s", ref, p)
		}
	})
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
)

func init() {
	register("pull", "download a GGUF model from Hugging Face into the local model directory", runPull)
}

const pullUsage = `usage: spillway pull [flags] REPO[:FILE]

Downloads FILE of the Hugging Face repository REPO (owner/name) into
--models-dir/REPO/FILE, resuming an interrupted download and checking the
SHA-256 the hub publishes (or --sha256). Without FILE the repository's only
GGUF file is taken, or its Q4_K_M one. Then: spillway serve --model REPO:FILE
(or REPO, or the file name).

flags:
`

// puller downloads from a Hugging Face compatible hub.
type puller struct {
	endpoint, revision, token string
	client                    *http.Client
	progress                  io.Writer // nil: no progress bar
}

func runPull(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("pull", stderr)
	dir := fs.String("models-dir", defaultModelsDir(), "where models go (SPILLWAY_MODELS_DIR)")
	endpoint := fs.String("hf-endpoint", "https://huggingface.co", "hub base URL (SPILLWAY_HF_ENDPOINT)")
	revision := fs.String("revision", "main", "branch, tag or commit")
	sum := fs.String("sha256", "", "expected SHA-256 of the file (default: the hub's X-Linked-Etag)")
	token := fs.String("token", "", "Hugging Face token for gated or private repos (default $HF_TOKEN)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	fs.Usage = func() { fmt.Fprint(fs.Output(), pullUsage); fs.PrintDefaults() }
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs, setFlags(fs)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	if *token == "" {
		*token = os.Getenv("HF_TOKEN")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := &puller{endpoint: strings.TrimRight(*endpoint, "/"), revision: *revision, token: *token, client: &http.Client{}}
	if !*quiet {
		p.progress = stderr
	}
	dest, err := p.pull(ctx, fs.Arg(0), *dir, *sum)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, dest)
	return nil
}

var repoPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// parseRef splits REPO[:FILE] and refuses names that could leave the
// models directory.
func parseRef(ref string) (repo, file string, err error) {
	repo, file, _ = strings.Cut(ref, ":")
	if !repoPattern.MatchString(repo) || strings.Contains(repo, "..") {
		return "", "", fmt.Errorf("%q is not a Hugging Face repository (want owner/name[:file.gguf])", repo)
	}
	if file != "" && !safeRelPath(file) {
		return "", "", fmt.Errorf("file %q must be a relative path inside the repository", file)
	}
	return repo, file, nil
}

func safeRelPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// pull downloads ref into dir and returns the file's path.
func (p *puller) pull(ctx context.Context, ref, dir, wantSum string) (string, error) {
	repo, file, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	if file == "" {
		if file, err = p.pickFile(ctx, repo); err != nil {
			return "", err
		}
	}
	dest := filepath.Join(dir, filepath.FromSlash(repo), filepath.FromSlash(file))
	if _, err := os.Stat(dest); err == nil && wantSum == "" {
		return dest, nil // already pulled; a partial download never has this name
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", err
	}
	return dest, p.download(ctx, repo, file, dest, wantSum)
}

// pickFile lists the repository and picks its GGUF file.
func (p *puller) pickFile(ctx context.Context, repo string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", p.endpoint+"/api/models/"+repo, nil)
	if err != nil {
		return "", err
	}
	resp, err := p.do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var info struct {
		Siblings []struct {
			Name string `json:"rfilename"`
		} `json:"siblings"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&info); err != nil {
		return "", fmt.Errorf("listing %s: %w", repo, err)
	}
	var ggufs, q4km []string
	for _, s := range info.Siblings {
		if strings.HasSuffix(strings.ToLower(s.Name), ".gguf") && safeRelPath(s.Name) {
			ggufs = append(ggufs, s.Name)
			if strings.Contains(strings.ToUpper(s.Name), "Q4_K_M") {
				q4km = append(q4km, s.Name)
			}
		}
	}
	switch {
	case len(ggufs) == 1:
		return ggufs[0], nil
	case len(q4km) == 1:
		return q4km[0], nil
	case len(ggufs) == 0:
		return "", fmt.Errorf("%s has no .gguf file", repo)
	}
	sort.Strings(ggufs)
	return "", fmt.Errorf("%s has %d GGUF files; pick one as %s:FILE from: %s", repo, len(ggufs), repo, strings.Join(ggufs, ", "))
}

// do sends req with the token and maps the hub's refusals to errors that
// say what to do.
func (p *puller) do(req *http.Request) (*http.Response, error) { return p.send(p.client, req) }

func (p *puller) send(c *http.Client, req *http.Request) (*http.Response, error) {
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s: the repository is gated or private; accept its terms on the hub and pass --token or HF_TOKEN", req.URL, resp.Status)
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, fmt.Errorf("%s: not found (check the repository and file names)", req.URL)
	case resp.StatusCode >= 400 && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	return resp, nil
}

// hashFile feeds a file's bytes to h (resuming a partial download).
func hashFile(path string, h io.Writer) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(h, f)
}

// download fetches file into dest through dest.partial, resuming what an
// earlier run left there, and checks the size and SHA-256 before the
// rename: a file under its final name is always complete and verified.
func (p *puller) download(ctx context.Context, repo, file, dest, wantSum string) error {
	url := p.endpoint + "/" + repo + "/resolve/" + p.revision + "/" + file
	meta, err := p.head(ctx, url)
	if err != nil {
		return err
	}
	want := strings.ToLower(strings.TrimSpace(wantSum))
	if want == "" {
		want = meta.sha256
	} else if !sha256Pattern.MatchString(want) {
		return fmt.Errorf("--sha256 %q is not 64 hex digits", wantSum)
	}
	partial := dest + ".partial"
	h := sha256.New()
	have, err := hashFile(partial, h)
	if err != nil {
		return err
	}
	if meta.size >= 0 && have > meta.size { // not ours to resume
		h.Reset()
		have = 0
	}
	if meta.size < 0 || have < meta.size || have == 0 {
		if have, err = p.fetch(ctx, url, partial, have, meta.size, h); err != nil {
			return err
		}
	}
	if meta.size >= 0 && have != meta.size {
		return fmt.Errorf("%s: got %d bytes, the hub announced %d; run the same command again to resume", file, have, meta.size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); want != "" && got != want {
		os.Remove(partial)
		return fmt.Errorf("%s: checksum mismatch: the download has sha256 %s, expected %s; the partial file was removed", file, got, want)
	}
	if want == "" && p.progress != nil {
		fmt.Fprintf(p.progress, "warning: the hub sent no SHA-256 for %s and none was given with --sha256; not verified\n", file)
	}
	return os.Rename(partial, dest)
}

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// fileMeta is what a HEAD of the resolve URL tells: the LFS object's
// SHA-256 (X-Linked-Etag) and size (X-Linked-Size); -1 size when unknown.
type fileMeta struct {
	sha256 string
	size   int64
}

func (p *puller) head(ctx context.Context, url string) (fileMeta, error) {
	req, err := http.NewRequestWithContext(ctx, "HEAD", url, nil)
	if err != nil {
		return fileMeta{}, err
	}
	noRedirect := *p.client // the redirect's own headers carry the LFS metadata
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := p.send(&noRedirect, req)
	if err != nil {
		return fileMeta{}, err
	}
	resp.Body.Close()
	m := fileMeta{size: -1}
	for _, h := range []string{"X-Linked-Etag", "Etag"} {
		v := strings.ToLower(strings.Trim(strings.TrimPrefix(resp.Header.Get(h), "W/"), `"`))
		if sha256Pattern.MatchString(v) {
			m.sha256 = v
			break
		}
	}
	if n, err := strconv.ParseInt(resp.Header.Get("X-Linked-Size"), 10, 64); err == nil && n >= 0 {
		m.size = n
	} else if resp.StatusCode == http.StatusOK && resp.ContentLength >= 0 {
		m.size = resp.ContentLength
	}
	return m, nil
}

// fetch appends the rest of the file to partial with a Range request; a
// server that ignores the range sends it all, and partial starts over.
func (p *puller) fetch(ctx context.Context, url, partial string, have, size int64, h hash.Hash) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return have, err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := p.do(req)
	if err != nil {
		return have, err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	switch {
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		return have, nil // nothing left to send
	case resp.StatusCode == http.StatusPartialContent && strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", have)):
	case resp.StatusCode == http.StatusOK:
		flags = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		h.Reset()
		have = 0
	default:
		return have, fmt.Errorf("%s: unexpected %s (Content-Range %q)", url, resp.Status, resp.Header.Get("Content-Range"))
	}
	f, err := os.OpenFile(partial, flags, 0o644)
	if err != nil {
		return have, err
	}
	var w io.Writer = io.MultiWriter(f, h)
	if p.progress != nil {
		bar := progressbar.NewOptions64(size, progressbar.OptionSetWriter(p.progress), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(filepath.Base(partial[:len(partial)-len(".partial")])), progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.progress) }))
		_ = bar.Set64(have)
		w = io.MultiWriter(w, bar)
	}
	n, err := io.Copy(w, resp.Body)
	have += n
	if cerr := errors.Join(f.Sync(), f.Close()); err == nil {
		err = cerr
	}
	if err != nil {
		return have, fmt.Errorf("download interrupted after %d bytes: %w; run the same command again to resume", have, err)
	}
	return have, nil
}

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Endpoints the load generator speaks.
const (
	EndpointChat        = "chat"        // POST /v1/chat/completions
	EndpointCompletions = "completions" // POST /v1/completions
)

// Client sends benchmark requests to one OpenAI-compatible server.
type Client struct {
	BaseURL     string // http://127.0.0.1:8080, with or without /v1
	Model       string
	APIKey      string // sent as a Bearer token when set
	Endpoint    string // EndpointChat or EndpointCompletions
	Timeout     time.Duration
	Temperature float64
	HTTP        *http.Client // nil: one made for the benchmark
}

// NewHTTPClient makes a client for n concurrent streams: enough idle
// connections that a run does not reconnect, no transparent gzip (which
// would buffer the stream), and no overall timeout (each request has its
// own context).
func NewHTTPClient(n int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = max(n, 16)
	tr.MaxIdleConnsPerHost = max(n, 16)
	tr.DisableCompression = true
	return &http.Client{Transport: tr}
}

// URL is the full address of path ("/models", "/chat/completions") under
// the server's /v1.
func (c *Client) URL(path string) string {
	base := strings.TrimRight(c.BaseURL, "/")
	if !strings.HasSuffix(base, "/v1") {
		base += "/v1"
	}
	return base + path
}

// body is the JSON the request sends: output length forced with max_tokens
// and ignore_eos, usage requested in the stream.
func (c *Client) body(req Request) ([]byte, string, error) {
	b := map[string]any{
		"model":          c.Model,
		"max_tokens":     req.OutputLen,
		"ignore_eos":     true,
		"stream":         true,
		"stream_options": map[string]bool{"include_usage": true},
		"temperature":    c.Temperature,
	}
	path := "/chat/completions"
	switch c.Endpoint {
	case EndpointChat, "":
		var msgs []map[string]string
		if req.System != "" {
			msgs = append(msgs, map[string]string{"role": "system", "content": req.System})
		}
		b["messages"] = append(msgs, map[string]string{"role": "user", "content": req.Prompt})
	case EndpointCompletions:
		path = "/completions"
		p := req.Prompt
		if req.System != "" {
			p = req.System + "\n\n" + p
		}
		b["prompt"] = p
	default:
		return nil, "", fmt.Errorf("unknown endpoint %q (have chat, completions)", c.Endpoint)
	}
	js, err := json.Marshal(b)
	return js, path, err
}

// Do sends one request and times it. The Result's Start is left for the
// caller; its failures are classified, never returned as Go errors.
func (c *Client) Do(ctx context.Context, req Request) Result {
	res := Result{PromptTokens: req.PromptLen}
	js, path, err := c.body(req)
	if err != nil {
		res.Err, res.Detail = ErrBadResponse, err.Error()
		return res
	}
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if c.Timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	defer cancel()
	start := time.Now()
	err = c.send(rctx, path, js, func() time.Duration { return time.Since(start) }, &res)
	if err == nil {
		return res
	}
	res.Err, res.Detail = classify(ctx, rctx, err)
	return res
}

func (c *Client) send(ctx context.Context, path string, js []byte, now func() time.Duration, res *Result) error {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL(path), bytes.NewReader(js))
	if err != nil {
		return fail(ErrConnect, "%v", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if c.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return fail(ErrConnect, "%v", err)
	}
	defer func() {
		io.CopyN(io.Discard, resp.Body, 64<<10) // lets the connection be reused
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fail(fmt.Sprintf("http_%d", resp.StatusCode), "%s", bytes.TrimSpace(msg))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "" && mt != "text/event-stream" {
		return fail(ErrBadResponse, "server answered %s, not an event stream", mt)
	}
	return readStream(resp.Body, now, res)
}

// classify maps an error to its kind: the request's own deadline is a
// timeout, the run's cancellation is canceled, a transport error after the
// headers is a broken stream.
func classify(run, req context.Context, err error) (kind, detail string) {
	switch {
	case run.Err() != nil:
		return ErrCanceled, err.Error()
	case req.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout, err.Error()
	}
	var re *reqError
	if errors.As(err, &re) {
		return re.kind, re.msg
	}
	return ErrBrokenStream, err.Error()
}

// Models lists the model ids the server serves (GET /v1/models), for
// picking the model name when none was given.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL("/models"), nil)
	if err != nil {
		return nil, err
	}
	if c.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", c.URL("/models"), resp.Status)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&list); err != nil {
		return nil, fmt.Errorf("GET %s: %v", c.URL("/models"), err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

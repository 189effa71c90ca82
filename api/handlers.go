package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"spillway/engine/sample"
	"spillway/scheduler"
)

// readJSON checks the body is UTF-8 (encoding/json would silently replace
// bad bytes) and decodes it into v.
func readJSON(rc *fasthttp.RequestCtx, v any) error {
	body := rc.PostBody()
	if !utf8.Valid(body) {
		return badRequest("", "the request body is not valid UTF-8")
	}
	return decodeBody(body, v)
}

// newID makes an OpenAI-style id: prefix plus 24 random base-62 characters.
func newID(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (Go ≥ 1.24)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b[:])
}

// defaultFingerprint identifies the build, as system_fingerprint does.
func defaultFingerprint() string {
	h := sha256.New()
	if bi, ok := debug.ReadBuildInfo(); ok {
		h.Write([]byte(bi.Main.Version))
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				h.Write([]byte(s.Value))
			}
		}
	}
	return "fp_" + hex.EncodeToString(h.Sum(nil))[:10]
}

// generation is what both completion endpoints validate the same way.
type generation struct {
	p       sample.Params
	n       int
	stops   []string
	stopIDs []int32
}

func (c *commonFields) generation(m *Model, wantLogprobs bool, top int) (generation, error) {
	var g generation
	var err error
	if g.p, err = c.samplingParams(m.Tokenizer.VocabSize(), wantLogprobs, top); err != nil {
		return g, err
	}
	if g.n, err = c.choices(); err != nil {
		return g, err
	}
	if g.stops, err = c.stopStrings(); err != nil {
		return g, err
	}
	g.stopIDs, err = c.stopTokens(m)
	return g, err
}

// chatCompletions is POST /v1/chat/completions.
func (s *Server) chatCompletions(rc *fasthttp.RequestCtx, t *tenantState) error {
	rc.Response.Header.Set(routeHeader, "local")
	if err := t.admitRequest(); err != nil {
		return err
	}
	var req chatRequest
	if err := readJSON(rc, &req); err != nil {
		return err
	}
	if s.federates(req.Model) {
		return s.chatFederated(rc, t, &req)
	}
	m, err := s.lookup(req.Model)
	if err != nil {
		return err
	}
	j, err := s.chatJob(t, m, &req)
	if err != nil {
		return err
	}
	return s.run(rc, j)
}

// chatJob validates a chat request for local model m and builds its job.
func (s *Server) chatJob(t *tenantState, m *Model, req *chatRequest) (*job, error) {
	want, top := req.Logprobs != nil && *req.Logprobs, 0
	if req.TopLogprobs != nil {
		top = *req.TopLogprobs
	}
	g, err := req.generation(m, want, top)
	if err != nil {
		return nil, err
	}
	msgs, err := chatMessages(req.Messages)
	if err != nil {
		return nil, err
	}
	prompt, err := chatPrompt(m, msgs, true)
	if err != nil {
		return nil, err
	}
	maxTok, err := req.maxNewTokens(len(prompt), m.ContextLen, 0)
	if err != nil {
		return nil, err
	}
	j := s.newJob(kindChat, "chatcmpl-", m, t, &req.commonFields, g)
	j.logprobs = want
	j.reqs = []*scheduler.Request{s.schedRequest(&req.commonFields, m, j.id, prompt, g.p, maxTok, g.n, g.stops, g.stopIDs, t)}
	return j, nil
}

// completions is POST /v1/completions.
func (s *Server) completions(rc *fasthttp.RequestCtx, t *tenantState) error {
	rc.Response.Header.Set(routeHeader, "local")
	if err := t.admitRequest(); err != nil {
		return err
	}
	var req completionRequest
	if err := readJSON(rc, &req); err != nil {
		return err
	}
	m, err := s.lookup(req.Model)
	if err != nil {
		return err
	}
	top := 0
	if req.Logprobs != nil {
		top = *req.Logprobs
	}
	g, err := req.generation(m, req.Logprobs != nil, top)
	if err != nil {
		return asParam(err, "top_logprobs", "logprobs")
	}
	prompts, err := completionPrompts(m, &req.Prompt)
	if err != nil {
		return err
	}
	if len(prompts)*g.n > maxChoices {
		return badRequest("n", "n × the number of prompts is over the limit of 128 choices")
	}
	j := s.newJob(kindCompletion, "cmpl-", m, t, &req.commonFields, g)
	j.logprobs = req.Logprobs != nil
	for i, prompt := range prompts {
		maxTok, err := req.maxNewTokens(len(prompt), m.ContextLen, defaultMaxCompl)
		if err != nil {
			return asParam(err, "messages", "prompt")
		}
		id := j.id
		if len(prompts) > 1 {
			id += "-" + strconv.Itoa(i)
		}
		j.reqs = append(j.reqs, s.schedRequest(&req.commonFields, m, id, prompt, g.p, maxTok, g.n, g.stops, g.stopIDs, t))
	}
	return asParam(s.run(rc, j), "messages", "prompt")
}

func (s *Server) newJob(kind jobKind, idPrefix string, m *Model, t *tenantState, c *commonFields, g generation) *job {
	j := &job{kind: kind, id: newID(idPrefix), created: s.cfg.Now().Unix(), fingerprint: s.cfg.Fingerprint,
		model: m, tenant: t, n: g.n, stream: c.Stream}
	j.usage = c.Stream && (s.cfg.ForceStreamUsage || c.StreamOptions != nil && c.StreamOptions.IncludeUsage)
	return j
}

// asParam renames the param of a classified error (the shared validators
// speak chat's names; completions calls some of them differently).
func asParam(err error, from, to string) error {
	if err == nil {
		return nil
	}
	e := classify(err)
	if e.Param == from {
		c := *e
		c.Param = to
		c.Message = strings.Replace(c.Message, from, to, 1)
		return &c
	}
	return err
}

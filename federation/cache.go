package federation

import (
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"
)

// CacheConfig configures the response cache for deterministic requests
// (temperature 0, or a seed). It is off by default: even a deterministic
// upstream may answer differently after a model update, and some
// deployments must not keep responses.
type CacheConfig struct {
	Enabled       bool          `yaml:"enabled" json:"enabled"`
	MaxBytes      int64         `yaml:"max_bytes" json:"max_bytes"`             // all entries; default 64 MiB
	MaxEntryBytes int64         `yaml:"max_entry_bytes" json:"max_entry_bytes"` // one entry; default 1 MiB
	TTL           time.Duration `yaml:"ttl" json:"ttl"`                         // default 10 min
}

func (c *CacheConfig) withDefaults() {
	setDefault(&c.MaxBytes, 64<<20)
	setDefault(&c.MaxEntryBytes, 1<<20)
	setDefault(&c.TTL, 10*time.Minute)
}

func (c CacheConfig) validate() error {
	if c.MaxBytes < 0 || c.MaxEntryBytes < 0 || c.TTL < 0 {
		return errors.New("cache: sizes and ttl must be >= 0")
	}
	return nil
}

// CacheStats is the cache's line in a Snapshot.
type CacheStats struct {
	Entries int   `json:"entries"`
	Bytes   int64 `json:"bytes"`
	Hits    int64 `json:"hits"`
	Misses  int64 `json:"misses"`
}

// entryOverhead approximates an entry's bookkeeping (list element, map
// slot, key) so many tiny entries cannot exceed MaxBytes unseen.
const entryOverhead = 160

type cacheKeyT [sha256.Size]byte

type cacheEntry struct {
	key     cacheKeyT
	body    []byte // the marshalled ChatResponse
	expires time.Time
}

// respCache is an LRU bounded in bytes, with a TTL per entry.
type respCache struct {
	cfg   CacheConfig
	clock Clock

	mu     sync.Mutex
	ll     *list.List // front: most recently used
	m      map[cacheKeyT]*list.Element
	bytes  int64
	hits   int64
	misses int64
}

func newRespCache(cfg CacheConfig, clock Clock) *respCache {
	return &respCache{cfg: cfg, clock: clock, ll: list.New(), m: map[cacheKeyT]*list.Element{}}
}

// cacheKey is the exact-match key of a deterministic request, salted by
// tenant so tenants cannot read each other's answers. ok is false for
// requests whose answer is meant to vary. Fields that do not change the
// answer (stream, stream_options, user) are cleared and max_tokens is
// folded into max_completion_tokens before hashing.
func cacheKey(tenant string, req *ChatRequest) (key cacheKeyT, ok bool) {
	det := (req.Temperature != nil && *req.Temperature == 0) || req.Seed != nil
	if !det {
		return key, false
	}
	n := *req
	n.Stream, n.StreamOptions, n.User = false, nil, ""
	if n.MaxCompletionTokens == nil {
		n.MaxCompletionTokens = n.MaxTokens
	}
	n.MaxTokens = nil
	if n.N != nil && *n.N == 1 {
		n.N = nil
	}
	b, err := json.Marshal(n)
	if err != nil {
		return key, false
	}
	h := sha256.New()
	h.Write([]byte(tenant))
	h.Write([]byte{0})
	h.Write(b)
	copy(key[:], h.Sum(nil))
	return key, true
}

func (c *respCache) get(key cacheKeyT) (*ChatResponse, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.m[key]
	if el == nil {
		c.misses++
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.clock.Now().Before(e.expires) {
		c.remove(el)
		c.misses++
		return nil, false
	}
	var r ChatResponse
	if json.Unmarshal(e.body, &r) != nil {
		c.remove(el)
		c.misses++
		return nil, false
	}
	c.ll.MoveToFront(el)
	c.hits++
	return &r, true
}

func (c *respCache) put(key cacheKeyT, r *ChatResponse) {
	body, err := json.Marshal(r)
	if err != nil || int64(len(body)) > c.cfg.MaxEntryBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.m[key]; el != nil {
		c.remove(el)
	}
	e := &cacheEntry{key: key, body: body, expires: c.clock.Now().Add(c.cfg.TTL)}
	c.m[key] = c.ll.PushFront(e)
	c.bytes += e.size()
	for c.bytes > c.cfg.MaxBytes {
		c.remove(c.ll.Back())
	}
}

func (e *cacheEntry) size() int64 { return int64(len(e.body)) + entryOverhead }

func (c *respCache) remove(el *list.Element) {
	e := c.ll.Remove(el).(*cacheEntry)
	delete(c.m, e.key)
	c.bytes -= e.size()
}

func (c *respCache) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Entries: c.ll.Len(), Bytes: c.bytes, Hits: c.hits, Misses: c.misses}
}

// replayChunks renders a cached response as the stream a client would
// have seen: per choice a role chunk, its text, its finish reason; then
// the usage chunk if the client asked for it.
func replayChunks(r *ChatResponse, wantUsage bool) []*ChatChunk {
	mk := func(ch ChunkChoice) *ChatChunk {
		return &ChatChunk{ID: r.ID, Object: "chat.completion.chunk", Created: r.Created, Model: r.Model,
			SystemFingerprint: r.SystemFingerprint, Choices: []ChunkChoice{ch}}
	}
	var out []*ChatChunk
	for _, c := range r.Choices {
		out = append(out,
			mk(ChunkChoice{Index: c.Index, Delta: Delta{Role: "assistant", Content: strPtr("")}}),
			mk(ChunkChoice{Index: c.Index, Delta: Delta{Content: strPtr(c.Message.Content), Refusal: c.Message.Refusal}}),
			mk(ChunkChoice{Index: c.Index, FinishReason: strPtr(c.FinishReason)}))
	}
	if wantUsage && r.Usage != nil {
		u := mk(ChunkChoice{})
		u.Choices, u.Usage = []ChunkChoice{}, r.Usage
		out = append(out, u)
	}
	return out
}

// assembler rebuilds a ChatResponse from a stream's chunks so a streamed
// answer can be cached; it gives up beyond limit bytes of text.
type assembler struct {
	limit  int64
	size   int64
	resp   ChatResponse
	texts  map[int]*strings.Builder
	finish map[int]string
	failed bool
}

func newAssembler(limit int64) *assembler {
	return &assembler{limit: limit, texts: map[int]*strings.Builder{}, finish: map[int]string{}}
}

func (a *assembler) add(ch *ChatChunk) {
	if a.failed {
		return
	}
	a.resp.ID, a.resp.Created, a.resp.Model = ch.ID, ch.Created, ch.Model
	a.resp.SystemFingerprint = ch.SystemFingerprint
	if ch.Usage != nil {
		a.resp.Usage = ch.Usage
	}
	for _, c := range ch.Choices {
		if c.Index < 0 || c.Index > 128 || c.Delta.Refusal != nil || len(c.Delta.ToolCalls) > 0 {
			a.failed = true // shapes a plain-text replay cannot reproduce
			return
		}
		b := a.texts[c.Index]
		if b == nil {
			b = &strings.Builder{}
			a.texts[c.Index] = b
		}
		if c.Delta.Content != nil {
			a.size += int64(len(*c.Delta.Content))
			b.WriteString(*c.Delta.Content)
		}
		if c.FinishReason != nil {
			a.finish[c.Index] = *c.FinishReason
		}
	}
	a.failed = a.size > a.limit
}

// response returns the assembled response, or nil when it is not
// complete (a choice without a finish reason) or not representable.
func (a *assembler) response() *ChatResponse {
	if a.failed || len(a.texts) == 0 {
		return nil
	}
	r := a.resp
	r.Object = "chat.completion"
	r.Choices = make([]Choice, len(a.texts))
	for i := range r.Choices {
		b, ok := a.texts[i]
		f, done := a.finish[i]
		if !ok || !done {
			return nil
		}
		r.Choices[i] = Choice{Index: i, Message: ResponseMessage{Role: "assistant", Content: b.String()}, FinishReason: f}
	}
	return &r
}

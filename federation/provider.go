package federation

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Provider is one upstream behind one wire format. Implementations map
// the client-facing model name to the upstream's, translate the request,
// and return OpenAI-shaped results. They do not retry: retries, breakers
// and accounting belong to Spiller, which alone knows whether a byte has
// reached the client.
type Provider interface {
	Name() string
	Chat(ctx context.Context, req *ChatRequest) (*ChatResponse, error)
	ChatStream(ctx context.Context, req *ChatRequest) (Stream, error)
}

// Stream yields a response's chunks. Recv returns io.EOF after the
// upstream's terminal event; any other error means the stream broke
// (truncation is an error, never an EOF). Close may be called at any
// time and releases the connection.
type Stream interface {
	Recv() (*ChatChunk, error)
	Close() error
}

// NewProvider builds a provider from its configuration; getenv reads the
// API key (os.Getenv when nil), dial replaces the TCP dialer (nil: net).
func NewProvider(cfg ProviderConfig, getenv func(string) string, dial DialFunc, clock Clock) (Provider, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("provider %q: %w", cfg.Name, err)
	}
	if clock == nil {
		clock = wallClock{}
	}
	key := ""
	if cfg.APIKeyEnv != "" {
		key = getenv(cfg.APIKeyEnv)
		if key == "" {
			return nil, fmt.Errorf("provider %q: environment variable %s (api_key_env) is empty or unset", cfg.Name, cfg.APIKeyEnv)
		}
	}
	up := newUpstream(cfg.Name, cfg.Timeouts, dial, clock)
	base := strings.TrimRight(cfg.BaseURL, "/")
	switch cfg.Kind {
	case KindAnthropic:
		return &anthropicProvider{cfg: cfg, key: key, up: up, url: base + "/v1/messages", clock: clock}, nil
	default:
		return &openAIProvider{cfg: cfg, key: key, up: up, url: base + "/chat/completions"}, nil
	}
}

// headers builds a request's header set: configured extras first, so
// they can never replace authentication or content type.
func headers(extra map[string]string, stream bool) http.Header {
	h := make(http.Header, len(extra)+4)
	for k, v := range extra {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	if stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	return h
}

package federation

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"
)

// Kind names a provider's wire format.
type Kind string

const (
	KindOpenAI    Kind = "openai"    // OpenAI, vLLM, llama.cpp server, Ollama, another Spillway
	KindAnthropic Kind = "anthropic" // Anthropic Messages API
)

// Config is the federation section of the server configuration. Zero
// values mean "the default" throughout; see withDefaults.
type Config struct {
	Providers     []ProviderConfig  `yaml:"providers" json:"providers"`
	Routes        []RouteConfig     `yaml:"routes" json:"routes"`
	Retry         RetryConfig       `yaml:"retry" json:"retry"`
	DefaultBudget Budget            `yaml:"default_budget" json:"default_budget"`
	Budgets       map[string]Budget `yaml:"budgets" json:"budgets"` // by tenant
	Cache         CacheConfig       `yaml:"cache" json:"cache"`
}

// ProviderConfig describes one upstream.
type ProviderConfig struct {
	Name string `yaml:"name" json:"name"`
	Kind Kind   `yaml:"kind" json:"kind"`
	// BaseURL follows each vendor SDK's convention: with the /v1 for
	// OpenAI-compatible servers ("https://api.openai.com/v1"), without it
	// for Anthropic ("https://api.anthropic.com").
	BaseURL string `yaml:"base_url" json:"base_url"`
	// APIKeyEnv names the environment variable holding the key; keys never
	// appear in configuration files. Empty: no key (local vLLM, Ollama).
	APIKeyEnv string `yaml:"api_key_env" json:"api_key_env"`
	// Models maps the names clients use to the upstream's names; a model
	// not listed keeps its name.
	Models map[string]string `yaml:"models" json:"models"`
	// Prices in USD per million tokens.
	PriceInput  float64 `yaml:"price_input" json:"price_input"`
	PriceOutput float64 `yaml:"price_output" json:"price_output"`
	// MaxConcurrent and RequestsPerMinute bound what we send; 0 = no limit.
	MaxConcurrent     int               `yaml:"max_concurrent" json:"max_concurrent"`
	RequestsPerMinute int               `yaml:"requests_per_minute" json:"requests_per_minute"`
	Timeouts          Timeouts          `yaml:"timeouts" json:"timeouts"`
	Breaker           BreakerConfig     `yaml:"breaker" json:"breaker"`
	Headers           map[string]string `yaml:"headers" json:"headers"` // sent on every request
	// DefaultMaxTokens is sent to upstreams that require max_tokens
	// (Anthropic) when the request has none.
	DefaultMaxTokens int    `yaml:"default_max_tokens" json:"default_max_tokens"`
	AnthropicVersion string `yaml:"anthropic_version" json:"anthropic_version"`
}

// Timeouts bound an upstream exchange.
type Timeouts struct {
	Connect    time.Duration `yaml:"connect" json:"connect"`         // TCP (and TLS) connect
	FirstToken time.Duration `yaml:"first_token" json:"first_token"` // stream: request sent → first token
	Idle       time.Duration `yaml:"idle" json:"idle"`               // stream: between events after the first token
	Request    time.Duration `yaml:"request" json:"request"`         // non-streamed request, whole
}

// RetryConfig shapes retries against one provider before failing over.
type RetryConfig struct {
	MaxAttempts int           `yaml:"max_attempts" json:"max_attempts"` // per provider, first try included
	BaseDelay   time.Duration `yaml:"base_delay" json:"base_delay"`
	MaxDelay    time.Duration `yaml:"max_delay" json:"max_delay"`
	// MaxRetryAfter is the longest Retry-After we wait for; a longer one
	// fails over at once (the client is waiting, another provider may not
	// make it wait).
	MaxRetryAfter time.Duration `yaml:"max_retry_after" json:"max_retry_after"`
}

func (c *Config) withDefaults() {
	for i := range c.Providers {
		c.Providers[i].withDefaults()
	}
	for i := range c.Routes {
		c.Routes[i].Spill = c.Routes[i].Spill.withDefaults()
	}
	r := &c.Retry
	setDefault(&r.MaxAttempts, 3)
	setDefault(&r.BaseDelay, 100*time.Millisecond)
	setDefault(&r.MaxDelay, 2*time.Second)
	setDefault(&r.MaxRetryAfter, 5*time.Second)
	c.Cache.withDefaults()
}

func (p *ProviderConfig) withDefaults() {
	t := &p.Timeouts
	setDefault(&t.Connect, 5*time.Second)
	setDefault(&t.FirstToken, 30*time.Second)
	setDefault(&t.Idle, 30*time.Second)
	setDefault(&t.Request, 120*time.Second)
	b := &p.Breaker
	setDefault(&b.Failures, 5)
	setDefault(&b.Window, 30*time.Second)
	setDefault(&b.Cooldown, 15*time.Second)
	setDefault(&b.Probes, 1)
	setDefault(&p.DefaultMaxTokens, 4096)
	setDefault(&p.AnthropicVersion, "2023-06-01")
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// upstreamModel maps a client-facing model name to the provider's.
func (p *ProviderConfig) upstreamModel(model string) string {
	if m, ok := p.Models[model]; ok && m != "" {
		return m
	}
	return model
}

// cost is the USD price of a token count.
func (p *ProviderConfig) cost(prompt, completion int) float64 {
	return (float64(prompt)*p.PriceInput + float64(completion)*p.PriceOutput) / 1e6
}

// Validate reports the first configuration mistake, naming it.
func (c *Config) Validate() error {
	names := map[string]bool{Local: true}
	for i, p := range c.Providers {
		if err := p.validate(); err != nil {
			return fmt.Errorf("providers[%d]: %w", i, err)
		}
		if names[p.Name] {
			return fmt.Errorf("providers[%d]: name %q is reserved or used twice", i, p.Name)
		}
		names[p.Name] = true
	}
	models := map[string]bool{}
	for i, r := range c.Routes {
		if err := r.validate(names); err != nil {
			return fmt.Errorf("routes[%d] (%s): %w", i, r.Model, err)
		}
		if models[r.Model] {
			return fmt.Errorf("routes[%d]: model %q routed twice", i, r.Model)
		}
		models[r.Model] = true
	}
	for t, b := range c.Budgets {
		if err := b.validate(); err != nil {
			return fmt.Errorf("budgets[%s]: %w", t, err)
		}
	}
	if err := c.DefaultBudget.validate(); err != nil {
		return fmt.Errorf("default_budget: %w", err)
	}
	if err := c.Retry.validate(); err != nil {
		return err
	}
	return c.Cache.validate()
}

func (p *ProviderConfig) validate() error {
	if p.Name == "" {
		return errors.New("name: required")
	}
	if p.Kind != KindOpenAI && p.Kind != KindAnthropic {
		return fmt.Errorf("kind: %q, want %q or %q", p.Kind, KindOpenAI, KindAnthropic)
	}
	u, err := url.Parse(p.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base_url: %q is not an http(s) URL", p.BaseURL)
	}
	for _, v := range []float64{p.PriceInput, p.PriceOutput} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("prices must be finite and >= 0, got %v", v)
		}
	}
	if p.MaxConcurrent < 0 || p.RequestsPerMinute < 0 || p.DefaultMaxTokens < 0 {
		return errors.New("limits must be >= 0")
	}
	t := p.Timeouts
	if t.Connect < 0 || t.FirstToken < 0 || t.Idle < 0 || t.Request < 0 {
		return errors.New("timeouts must be >= 0")
	}
	return p.Breaker.validate()
}

package api

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"time"

	"github.com/valyala/fasthttp"
)

// Tenant is one API key's owner and its limits.
type Tenant struct {
	Name              string  // also the prefix-cache salt: tenants never share cached blocks
	Key               string  // the Bearer token
	RequestsPerMinute float64 // 0 = unlimited
	TokensPerMinute   float64 // prompt plus completion tokens; 0 = unlimited
	Priority          int     // lower runs first (the scheduler's convention)
}

// tenantState is a tenant with its token buckets.
type tenantState struct {
	Tenant
	requests *bucket // nil when unlimited
	tokens   *bucket
}

// authenticator maps Bearer keys to tenants. Keys are held as SHA-256
// digests so a lookup's timing says nothing about how much of a guessed
// key matched.
type authenticator struct {
	byKey map[[32]byte]*tenantState
}

func newAuthenticator(tenants []Tenant, now func() time.Time) (*authenticator, error) {
	a := &authenticator{byKey: map[[32]byte]*tenantState{}}
	names := map[string]bool{}
	for i, t := range tenants {
		if t.Key == "" {
			return nil, fmt.Errorf("api: tenant %d (%q) has an empty key", i, t.Name)
		}
		if t.Name == "" {
			return nil, fmt.Errorf("api: tenant %d has no name", i)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("api: tenant name %q appears twice", t.Name)
		}
		names[t.Name] = true
		for _, v := range []float64{t.RequestsPerMinute, t.TokensPerMinute} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("api: tenant %q: limit %v must be a non-negative number", t.Name, v)
			}
		}
		h := sha256.Sum256([]byte(t.Key))
		if _, dup := a.byKey[h]; dup {
			return nil, fmt.Errorf("api: tenant %q reuses another tenant's key", t.Name)
		}
		st := &tenantState{Tenant: t}
		if t.RequestsPerMinute > 0 {
			st.requests = newBucket(t.RequestsPerMinute, now)
		}
		if t.TokensPerMinute > 0 {
			st.tokens = newBucket(t.TokensPerMinute, now)
		}
		a.byKey[h] = st
	}
	return a, nil
}

func (a *authenticator) enabled() bool { return len(a.byKey) > 0 }

// authenticate checks an Authorization header. An open server admits
// everyone as the anonymous tenant (nil).
func (a *authenticator) authenticate(header []byte) (*tenantState, error) {
	if !a.enabled() {
		return nil, nil
	}
	const prefix = "bearer "
	if len(header) <= len(prefix) || !bytes.EqualFold(header[:len(prefix)], []byte(prefix)) {
		return nil, unauthorized("You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
	}
	key := bytes.TrimSpace(header[len(prefix):])
	t, ok := a.byKey[sha256.Sum256(key)]
	if !ok {
		return nil, unauthorized("Incorrect API key provided.")
	}
	return t, nil
}

func unauthorized(msg string) *apiError {
	return &apiError{Status: fasthttp.StatusUnauthorized, Message: msg, Type: "invalid_request_error", Code: "invalid_api_key"}
}

// admitRequest takes one request from the tenant's requests/min bucket.
func (t *tenantState) admitRequest() error {
	if t == nil || t.requests == nil {
		return nil
	}
	if wait, ok := t.requests.take(1); !ok {
		return rateLimited("requests", fmt.Sprintf("Rate limit reached for tenant %s: %g requests per minute.", t.Name, t.RequestsPerMinute), wait)
	}
	return nil
}

// admitTokens takes a request's prompt tokens from the tokens/min bucket.
// Completion tokens are charged when they are known (chargeTokens), which
// may leave the bucket in debt: the tenant then waits until it refills.
func (t *tenantState) admitTokens(n int) error {
	if t == nil || t.tokens == nil {
		return nil
	}
	if float64(n) > t.TokensPerMinute {
		return rateLimited("tokens", fmt.Sprintf("Request too large for tenant %s: %d prompt tokens, over the limit of %g tokens per minute.", t.Name, n, t.TokensPerMinute), time.Minute)
	}
	if wait, ok := t.tokens.take(float64(n)); !ok {
		return rateLimited("tokens", fmt.Sprintf("Rate limit reached for tenant %s: %g tokens per minute; this request needs %d.", t.Name, t.TokensPerMinute, n), wait)
	}
	return nil
}

func (t *tenantState) chargeTokens(n int) {
	if t != nil && t.tokens != nil && n > 0 {
		t.tokens.charge(float64(n))
	}
}

// refundTokens returns what admitTokens took for a request that was never
// run (the generator refused it).
func (t *tenantState) refundTokens(n int) {
	if t != nil && t.tokens != nil && n > 0 {
		t.tokens.charge(-float64(n))
	}
}

func (t *tenantState) name() string {
	if t == nil {
		return ""
	}
	return t.Name
}

func (t *tenantState) priority() int {
	if t == nil {
		return 0
	}
	return t.Priority
}

func rateLimited(kind, msg string, wait time.Duration) *apiError {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &apiError{Status: fasthttp.StatusTooManyRequests, Message: msg + fmt.Sprintf(" Please try again in %ds.", secs),
		Type: kind, Code: "rate_limit_exceeded", RetryAfter: secs}
}

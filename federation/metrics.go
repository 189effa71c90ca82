package federation

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics exports the federation to Prometheus under spillway:spill_*.
// Counters and histograms are updated as requests finish; gauges that
// mirror state (breakers, budgets, cache size) are read at scrape time
// so they can never drift from the state itself.
type metrics struct {
	s *Spiller

	requests    *prometheus.CounterVec
	prompt      *prometheus.CounterVec
	completion  *prometheus.CounterVec
	cost        *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	ttft        *prometheus.HistogramVec
	attempts    *prometheus.CounterVec
	retries     *prometheus.CounterVec
	transitions *prometheus.CounterVec
	decisions   *prometheus.CounterVec
	refusals    *prometheus.CounterVec
	cacheHits   prometheus.Counter
	cacheMisses prometheus.Counter

	breakerDesc *prometheus.Desc
	spentDesc   *prometheus.Desc
	cacheDesc   *prometheus.Desc
}

var latencyBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160}

func newMetrics(s *Spiller) *metrics {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spillway:spill_" + name, Help: help}, labels)
	}
	hv := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "spillway:spill_" + name, Help: help,
			Buckets: latencyBuckets}, []string{"provider"})
	}
	return &metrics{
		s:           s,
		requests:    cv("requests_total", "Spilled requests by final outcome.", "provider", "tenant", "outcome"),
		prompt:      cv("prompt_tokens_total", "Prompt tokens billed by providers.", "provider", "tenant"),
		completion:  cv("completion_tokens_total", "Completion tokens billed by providers.", "provider", "tenant"),
		cost:        cv("cost_usd_total", "Spill spending in USD.", "provider", "tenant"),
		latency:     hv("e2e_request_latency_seconds", "Spilled request latency, first attempt to last byte."),
		ttft:        hv("time_to_first_token_seconds", "Spilled request time to first token."),
		attempts:    cv("attempts_total", "Upstream attempts by result.", "provider", "result"),
		retries:     cv("retries_total", "Retries after a transient upstream failure.", "provider"),
		transitions: cv("breaker_transitions_total", "Circuit breaker transitions by new state.", "provider", "state"),
		decisions:   cv("route_decisions_total", "Routing decisions by model and first target.", "model", "target"),
		refusals:    cv("budget_refusals_total", "Spills refused because the tenant's budget is spent.", "tenant"),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{Name: "spillway:spill_cache_hits_total",
			Help: "Response cache hits."}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{Name: "spillway:spill_cache_misses_total",
			Help: "Response cache misses of cacheable requests."}),
		breakerDesc: prometheus.NewDesc("spillway:spill_breaker_state",
			"Circuit breaker state: 0 closed, 1 half-open, 2 open.", []string{"provider"}, nil),
		spentDesc: prometheus.NewDesc("spillway:spill_budget_spent_usd",
			"Tenant spill spending in USD by period (day, total).", []string{"tenant", "period"}, nil),
		cacheDesc: prometheus.NewDesc("spillway:spill_cache_bytes",
			"Bytes held by the response cache.", nil, nil),
	}
}

func (m *metrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.prompt, m.completion, m.cost, m.latency, m.ttft,
		m.attempts, m.retries, m.transitions, m.decisions, m.refusals, m.cacheHits, m.cacheMisses}
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.vecs() {
		c.Describe(ch)
	}
	ch <- m.breakerDesc
	ch <- m.spentDesc
	ch <- m.cacheDesc
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.vecs() {
		c.Collect(ch)
	}
	for _, name := range m.s.order {
		st := m.s.provs[name].breaker.State()
		ch <- prometheus.MustNewConstMetric(m.breakerDesc, prometheus.GaugeValue, float64(st), name)
	}
	for _, t := range m.s.ledger.snapshot() {
		ch <- prometheus.MustNewConstMetric(m.spentDesc, prometheus.GaugeValue, t.SpentTodayUSD, tenantLabel(t.Tenant), "day")
		ch <- prometheus.MustNewConstMetric(m.spentDesc, prometheus.GaugeValue, t.SpentTotalUSD, tenantLabel(t.Tenant), "total")
	}
	if m.s.cache != nil {
		ch <- prometheus.MustNewConstMetric(m.cacheDesc, prometheus.GaugeValue, float64(m.s.cache.stats().Bytes))
	}
}

// Collector returns the federation's Prometheus collector; register it
// once with the server's registry.
func (s *Spiller) Collector() prometheus.Collector { return s.m }

func tenantLabel(t string) string {
	if t == "" {
		return "default"
	}
	return t
}

func (m *metrics) record(r *Record) {
	t := tenantLabel(r.Tenant)
	prov := r.Provider
	if prov == "" {
		prov = "none"
	}
	m.requests.WithLabelValues(prov, t, r.Outcome).Inc()
	if r.Attempts == 0 {
		return
	}
	m.prompt.WithLabelValues(prov, t).Add(float64(r.PromptTokens))
	m.completion.WithLabelValues(prov, t).Add(float64(r.CompletionTokens))
	m.cost.WithLabelValues(prov, t).Add(r.CostUSD)
	m.latency.WithLabelValues(prov).Observe(r.LatencySeconds)
	if r.Outcome == OutcomeOK || r.Outcome == OutcomeBroken {
		m.ttft.WithLabelValues(prov).Observe(r.TTFTSeconds)
	}
}

func (m *metrics) attempt(provider, result string) {
	m.attempts.WithLabelValues(provider, result).Inc()
}

func (m *metrics) retry(provider string) { m.retries.WithLabelValues(provider).Inc() }

func (m *metrics) breakerChanged(provider string, to BreakerState) {
	m.transitions.WithLabelValues(provider, to.String()).Inc()
}

func (m *metrics) decision(model, target string) { m.decisions.WithLabelValues(model, target).Inc() }

func (m *metrics) budgetRefused(tenant string) { m.refusals.WithLabelValues(tenantLabel(tenant)).Inc() }

package api

import (
	"bytes"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
	"github.com/valyala/fasthttp"

	"spillway/scheduler"
)

// Metric names and meanings follow vLLM's (V1) under the spillway: prefix,
// so dashboards and autoscalers written for vLLM work by changing the prefix.
const prefix = "spillway:"

// Buckets as vLLM defines them.
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
		2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
		2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	latencyBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
		40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

// tokenBuckets is vLLM's 1-2-5 series up to limit.
func tokenBuckets(limit float64) []float64 {
	var b []float64
	for base := 1.0; base <= limit; base *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if base*m <= limit {
				b = append(b, base*m)
			}
		}
	}
	return b
}

type metrics struct {
	reg *prometheus.Registry

	mu   sync.RWMutex
	gens map[string]Generator // model name → its generator, read at scrape time

	ttft, itl, e2e, queue     *prometheus.HistogramVec
	promptToks, genToks       *prometheus.HistogramVec
	success                   *prometheus.CounterVec
	running, waiting, kvUsage *prometheus.Desc
	promptTotal, genTotal     *prometheus.Desc
	preempt, pcQueries, pcHit *prometheus.Desc
}

func newMetrics() *metrics {
	label := []string{"model_name"}
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: prefix + name, Help: help, Buckets: buckets}, label)
	}
	desc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(prefix+name, help, label, nil) }
	m := &metrics{
		reg:        prometheus.NewRegistry(),
		gens:       map[string]Generator{},
		ttft:       hist("time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttftBuckets),
		itl:        hist("inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itlBuckets),
		e2e:        hist("e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", latencyBuckets),
		queue:      hist("request_queue_time_seconds", "Histogram of time spent in the waiting queue in seconds.", latencyBuckets),
		promptToks: hist("request_prompt_tokens", "Number of prefill tokens processed, per request.", tokenBuckets(1e6)),
		genToks:    hist("request_generation_tokens", "Number of generation tokens processed, per request.", tokenBuckets(1e6)),
		success: prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "request_success_total",
			Help: "Count of finished requests (choices), by finish reason."}, []string{"model_name", "finished_reason"}),
		running:     desc("num_requests_running", "Number of requests in model execution batches."),
		waiting:     desc("num_requests_waiting", "Number of requests waiting to be processed."),
		kvUsage:     desc("kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage."),
		promptTotal: desc("prompt_tokens_total", "Number of prefill tokens processed."),
		genTotal:    desc("generation_tokens_total", "Number of generation tokens processed."),
		preempt:     desc("num_preemptions_total", "Cumulative number of preemptions from the engine."),
		pcQueries:   desc("prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens."),
		pcHit:       desc("prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens."),
	}
	m.reg.MustRegister(m.ttft, m.itl, m.e2e, m.queue, m.promptToks, m.genToks, m.success,
		snapshotCollector{m}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) addModel(md *Model) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gens[md.Name] = md.Gen
	// Series exist from the start, as vLLM's do, so rate() works at once.
	for _, h := range []*prometheus.HistogramVec{m.ttft, m.itl, m.e2e, m.queue, m.promptToks, m.genToks} {
		h.WithLabelValues(md.Name)
	}
}

// snapshotCollector turns each generator's Snapshot into gauges and
// counters at scrape time, so they are never stale or double-counted.
type snapshotCollector struct{ m *metrics }

func (c snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.m.running, c.m.waiting, c.m.kvUsage, c.m.promptTotal, c.m.genTotal,
		c.m.preempt, c.m.pcQueries, c.m.pcHit} {
		ch <- d
	}
}

func (c snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.RLock()
	defer c.m.mu.RUnlock()
	for name, g := range c.m.gens {
		s := g.Snapshot()
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, name)
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), name)
		}
		gauge(c.m.running, float64(s.Running))
		gauge(c.m.waiting, float64(s.Waiting))
		gauge(c.m.kvUsage, s.KVUsage)
		counter(c.m.promptTotal, s.PromptTokens)
		counter(c.m.genTotal, s.GenerationTokens)
		counter(c.m.preempt, s.Preemptions)
		counter(c.m.pcQueries, s.PrefixCacheQueries)
		counter(c.m.pcHit, s.PrefixCacheHits)
	}
}

// observer records the histograms of one scheduler request from its
// events as they arrive.
type observer struct {
	m     *metrics
	model string
	last  []time.Time // per choice: when its previous token arrived
	now   func() time.Time
}

func (m *metrics) observe(model string, n int) *observer {
	return &observer{m: m, model: model, last: make([]time.Time, n), now: time.Now}
}

func (o *observer) event(ev *scheduler.Event) {
	if ev.Token >= 0 {
		t := o.now()
		if prev := o.last[ev.Choice]; !prev.IsZero() {
			o.m.itl.WithLabelValues(o.model).Observe(t.Sub(prev).Seconds())
		}
		o.last[ev.Choice] = t
	}
	if ev.Finish != scheduler.FinishNone {
		o.m.success.WithLabelValues(o.model, string(ev.Finish)).Inc()
	}
	if st := ev.Stats; st != nil {
		if st.CompletionTokens > 0 {
			o.m.ttft.WithLabelValues(o.model).Observe(st.TTFT.Seconds())
		}
		o.m.e2e.WithLabelValues(o.model).Observe(st.E2E.Seconds())
		o.m.queue.WithLabelValues(o.model).Observe(st.QueueTime.Seconds())
		o.m.promptToks.WithLabelValues(o.model).Observe(float64(st.PromptTokens))
		o.m.genToks.WithLabelValues(o.model).Observe(float64(st.CompletionTokens))
	}
}

// serveMetrics writes the Prometheus text exposition.
func (s *Server) serveMetrics(rc *fasthttp.RequestCtx, _ *tenantState) error {
	mfs, err := s.metrics.reg.Gather()
	if err != nil {
		s.log.Warn("gathering metrics", "err", err)
	}
	var buf bytes.Buffer
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return serverError("encoding metrics: " + err.Error())
		}
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.SetContentType(string(format))
	rc.SetBody(buf.Bytes())
	return nil
}

package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/secretsledger/secretsledger/commands"
	"github.com/secretsledger/secretsledger/eventstore"
)

// namespace prefixes every metric of the ledger's own.
const namespace = "secretsledger"

// Metrics holds the ledger's collectors and the registry they are on.
type Metrics struct {
	reg *prometheus.Registry

	httpDuration   *prometheus.HistogramVec
	batchEvents    prometheus.Histogram
	batchDuration  prometheus.Histogram
	conflicts      *prometheus.CounterVec
	sealLag        prometheus.Histogram
	sealFailures   prometheus.Counter
	resolutions    *prometheus.CounterVec
	providerCalls  *prometheus.CounterVec
	providerTiming *prometheus.HistogramVec
}

// resolutionOutcomes are the outcomes a resolution records, for zero-valued series.
var resolutionOutcomes = []string{commands.Resolved, commands.BindingMissing, commands.SecretDeleted, commands.SecretInactive,
	commands.VersionMissing, commands.VersionInactive, commands.ProviderError, commands.CompanyFrozen, commands.ConsumerFrozen}

// New returns the ledger's metrics on a registry of their own, with the Go runtime and
// process collectors. Every series of a known label set starts at zero, so that rates
// and alerts work before the first event.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template (\"unmatched\" for none), method and status code (499: the client went away).",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "eventstore_append_batch_events",
			Help:    "Events written per committed append transaction.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024},
		}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "eventstore_append_batch_duration_seconds",
			Help:    "Time of one committed append transaction, from taking the connection to COMMIT.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms to 4s
		}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "eventstore_append_conflicts_total",
			Help: "Appends refused with a conflict, by kind: version (optimistic concurrency), idempotency (a key reused for another request), unique (a read model's unique name, key or config path).",
		}, []string{"kind"}),
		sealLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "eventstore_seal_lag_seconds",
			Help:    "Per sealed batch, how long its oldest event waited from being recorded (before its append committed) until it was chained.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14), // 1ms to 8s
		}),
		sealFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "eventstore_seal_failures_total",
			Help: "Times the sealer could not seal: the database failed, or it stopped before an event it must not chain (see the log).",
		}),
		resolutions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "resolutions_total",
			Help: "Config paths resolved by agents, by recorded outcome and source (secret: a binding or a path without one; inline: a plain env value).",
		}, []string{"outcome", "source"}),
		providerCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "provider_calls_total",
			Help: "Calls to secret providers, by provider, operation and outcome (ok or error; resolve_many is an error when any of its reads failed).",
		}, []string{"provider", "operation", "outcome"}),
		providerTiming: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "provider_call_duration_seconds",
			Help:    "Time of one call to a secret provider, by provider and operation.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms to 16s
		}, []string{"provider", "operation"}),
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpDuration, m.batchEvents, m.batchDuration, m.conflicts, m.sealLag, m.sealFailures, m.resolutions, m.providerCalls, m.providerTiming)
	for _, k := range []string{eventstore.ConflictVersion, eventstore.ConflictIdempotency, eventstore.ConflictUnique} {
		m.conflicts.WithLabelValues(k)
	}
	for _, o := range resolutionOutcomes {
		for _, s := range []string{commands.SourceSecret, commands.SourceInline} {
			m.resolutions.WithLabelValues(o, s)
		}
	}
	return m
}

// Registry is where the metrics are registered (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest implements httpapi.RequestObserver.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	m.httpDuration.WithLabelValues(route, method, strconv.Itoa(status)).Observe(d.Seconds())
}

// BatchCommitted implements eventstore.Observer.
func (m *Metrics) BatchCommitted(events int, d time.Duration) {
	m.batchEvents.Observe(float64(events))
	m.batchDuration.Observe(d.Seconds())
}

// Conflict implements eventstore.Observer.
func (m *Metrics) Conflict(kind string) { m.conflicts.WithLabelValues(kind).Inc() }

// Sealed implements eventstore.Observer.
func (m *Metrics) Sealed(_ int, lag time.Duration) { m.sealLag.Observe(lag.Seconds()) }

// SealFailed implements eventstore.Observer.
func (m *Metrics) SealFailed(error) { m.sealFailures.Inc() }

// Resolution implements commands.ResolutionObserver.
func (m *Metrics) Resolution(outcome, source string) {
	m.resolutions.WithLabelValues(outcome, source).Inc()
}

// Package metrics defines the service's Prometheus metrics in one place. Each instance of the
// service owns its registry, so several can run in one test process.
package metrics

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Upstream call outcomes, the values of the outcome label.
const (
	OutcomeOK           = "ok"
	OutcomeClientError  = "client_error"
	OutcomeServerError  = "server_error"
	OutcomeNetworkError = "network_error"
	OutcomeTimeout      = "timeout"
	OutcomeCircuitOpen  = "circuit_open" // not sent: the operation's circuit is open
)

// Idempotency events, the values of the event label.
const (
	IdemStored           = "stored"
	IdemReplayed         = "replayed"
	IdemConflict         = "conflict"
	IdemMismatch         = "mismatch"
	IdemStoreUnavailable = "store_unavailable"
)

type Metrics struct {
	Registry         *prometheus.Registry
	HTTPRequests     *prometheus.CounterVec
	HTTPDuration     *prometheus.HistogramVec
	UpstreamRequests *prometheus.CounterVec
	UpstreamDuration *prometheus.HistogramVec
	Idempotency      *prometheus.CounterVec
	Coalesced        *prometheus.CounterVec
	TokenRequests    *prometheus.CounterVec
	RateLimit        *prometheus.CounterVec
	LinkCache        *prometheus.CounterVec
	UpstreamCircuit  *prometheus.GaugeVec
	StaleOptions     *prometheus.CounterVec
	Payments         *Payments
}

// Payments are the payment flow's metrics.
type Payments struct {
	Transitions   *prometheus.CounterVec // by the state reached
	Notifications *prometheus.CounterVec // by outcome: processed, duplicate, refused
	Unsettled     prometheus.Gauge       // payments whose outcome has been unknown longer than PAYMENT_PENDING_AFTER
}

func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_http_requests_total",
			Help: "HTTP requests served, by route template, method and status.",
		}, []string{"route", "method", "status"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bff_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route template and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		UpstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_upstream_requests_total",
			Help: "Calls to upstream APIs (each retry attempt counts), by upstream, operation and outcome.",
		}, []string{"upstream", "operation", "outcome"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bff_upstream_request_duration_seconds",
			Help:    "Duration of upstream call attempts, by upstream, operation and outcome.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"upstream", "operation", "outcome"}),
		Idempotency: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_idempotency_events_total",
			Help: "Idempotency-key handling: stored, replayed, conflict (in progress), mismatch (other body), store_unavailable.",
		}, []string{"event"}),
		Coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_coalesced_total",
			Help: "Coalesced work (e.g. payment-option refreshes) by role: ran, joined_local (same instance), joined_remote (another instance ran it).",
		}, []string{"operation", "role"}),
		TokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_internal_token_requests_total",
			Help: "Internal access-token requests by outcome (issued, refused).",
		}, []string{"outcome"}),
		RateLimit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_rate_limit_events_total",
			Help: "Rate limits and lockouts by policy and outcome: limited (429), locked_out (429), failure (spent from a failure budget), store_unavailable (Redis down: allowed).",
		}, []string{"policy", "outcome"}),
		UpstreamCircuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bff_upstream_circuit_state",
			Help: "Circuit breaker state per upstream operation: 0 closed, 1 half-open (probing), 2 open (failing fast).",
		}, []string{"upstream", "operation"}),
		StaleOptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_payment_options_stale_served_total",
			Help: "Payment options answered marked stale because their refresh failed, by the failure's code and audience (user, internal).",
		}, []string{"reason", "audience"}),
		LinkCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_link_cache_events_total",
			Help: "In-memory link and payment-options cache: hit, miss, invalidated (a write here or on another instance), publish_failed (other instances keep theirs up to PAYMENT_OPTIONS_CACHE_TTL).",
		}, []string{"outcome"}),
	}
	m.Payments = &Payments{
		Transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_payment_transitions_total",
			Help: "Payments reaching a state: requires_action, succeeded, failed, canceled, refunded.",
		}, []string{"state"}),
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bff_payment_notifications_total",
			Help: "Payment notifications from the provider by outcome: processed, duplicate (acknowledged, ignored), refused (signature, timestamp, content).",
		}, []string{"outcome"}),
		Unsettled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bff_payments_unsettled",
			Help: "Payments still pending or waiting for the customer's PIN PAYMENT_PENDING_AFTER after they were created, as the last reconciler round on this instance counted them.",
		}),
	}
	reg.MustRegister(m.Payments.Transitions, m.Payments.Notifications, m.Payments.Unsettled)
	reg.MustRegister(m.HTTPRequests, m.HTTPDuration, m.UpstreamRequests, m.UpstreamDuration, m.Idempotency, m.Coalesced, m.TokenRequests, m.RateLimit, m.LinkCache, m.UpstreamCircuit, m.StaleOptions,
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			// What the collector costs (the CPU classes: gc, scavenge, user, idle) and the
			// settings that pace it (internal/gcpolicy): the trade an operator tunes with GOGC.
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/cpu/classes/|^/gc/gogc:|^/gc/gomemlimit:`)},
		)), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	return m
}

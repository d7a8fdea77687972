// Package metrics holds the service's Prometheus metrics, in a registry of its own: requests and
// their latency by route, calls to Zoom by endpoint and outcome, the S2S token's life, Zoom's
// rate-limit headroom, and the Go runtime. No label carries a meeting id, user, secret or token.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zoomtoken/zoomtoken/internal/zoom"
)

const namespace = "zoomtoken"

// Metrics records what the service does. Its methods are safe for concurrent use.
type Metrics struct {
	registry           *prometheus.Registry
	requests           *prometheus.CounterVec
	requestSeconds     *prometheus.HistogramVec
	zoomRequests       *prometheus.CounterVec
	zoomSeconds        *prometheus.HistogramVec
	tokenRefreshes     prometheus.Counter
	rateLimitRemaining *prometheus.GaugeVec
	botAuth            *prometheus.CounterVec
	refreshes          *prometheus.CounterVec
	webhooks           *prometheus.CounterVec
	events             *prometheus.CounterVec

	// served caches each route and status's counter and histogram (a routeStatus to a
	// *servedObservers): looking them up by label values hashes the labels and formats the status
	// on every request, and a sync.Map is read without writing to memory the cores share.
	served sync.Map
}

type routeStatus struct {
	route  string
	status int
}

type servedObservers struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// New registers every metric but the token expiry gauge, which WatchTokenExpiry adds once the S2S
// client exists.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by route pattern and status.",
		}, []string{"route", "status"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		zoomRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "zoom_requests_total",
			Help: "HTTP requests to Zoom, retries included, by endpoint and outcome (ok, not_found, refused, unavailable).",
		}, []string{"endpoint", "outcome"}),
		zoomSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "zoom_request_duration_seconds",
			Help:    "Time of one HTTP request to Zoom, by endpoint.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
		tokenRefreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "zoom_token_refreshes_total",
			Help: "New S2S access tokens fetched.",
		}),
		rateLimitRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "zoom_rate_limit_remaining",
			Help: "The last X-RateLimit-Remaining Zoom sent, by X-RateLimit-Category.",
		}, []string{"category"}),
		botAuth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "bot_auth_total",
			Help: "Bot-route requests by caller: link (a bot link), secret (?secret=), signature (Standard Webhooks), attendee (its callback), or refused (400, 401).",
		}, []string{"caller"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "connection_refreshes_total",
			Help: "Refreshes of connected accounts' tokens by outcome: refreshed, reauthorization_required, failed, not_stored.",
		}, []string{"outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhooks_total",
			Help: "Zoom webhooks received, by event and outcome (ok, ignored, failed, unauthorized, malformed, too_large).",
		}, []string{"event", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "connection_events_total",
			Help: "Connection event deliveries to EVENTS_URL by outcome: delivered, failed (to be retried), exhausted (kept as failed), paused (410 Gone), dropped (no EVENTS_URL).",
		}, []string{"outcome"}),
	}
	m.registry.MustRegister(m.requests, m.requestSeconds, m.zoomRequests, m.zoomSeconds, m.tokenRefreshes,
		m.rateLimitRemaining, m.botAuth, m.refreshes, m.webhooks, m.events, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchTokenExpiry adds a gauge of the seconds until the cached S2S token expires. expiry reports
// that instant (zero when no token is cached); now is the clock it is read against.
func (m *Metrics) WatchTokenExpiry(expiry func() time.Time, now func() time.Time) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "zoom_token_expiry_seconds",
		Help: "Seconds until the cached S2S access token expires; 0 when none is cached.",
	}, func() float64 {
		at := expiry()
		if at.IsZero() {
			return 0
		}
		return max(0, at.Sub(now()).Seconds())
	}))
}

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveRequest records one served request.
func (m *Metrics) ObserveRequest(route string, status int, took time.Duration) {
	key := routeStatus{route, status}
	cached, ok := m.served.Load(key)
	if !ok {
		// Routes are patterns and statuses few, so the cache stays small.
		cached, _ = m.served.LoadOrStore(key, &servedObservers{
			count:   m.requests.WithLabelValues(route, strconv.Itoa(status)),
			latency: m.requestSeconds.WithLabelValues(route),
		})
	}
	o := cached.(*servedObservers)
	o.count.Inc()
	o.latency.Observe(took.Seconds())
}

// ObserveBotAuth records who a bot-route request came from, or that it was refused. A nil
// Metrics records nothing.
func (m *Metrics) ObserveBotAuth(caller string) {
	if m != nil {
		m.botAuth.WithLabelValues(caller).Inc()
	}
}

// ObserveWebhook records one Zoom webhook's event and outcome.
func (m *Metrics) ObserveWebhook(event, outcome string) {
	if event == "" {
		event = "unknown"
	}
	m.webhooks.WithLabelValues(event, outcome).Inc()
}

// ObserveEventDelivery records the outcome of one connection event delivery attempt.
func (m *Metrics) ObserveEventDelivery(outcome string) { m.events.WithLabelValues(outcome).Inc() }

// ObserveRefresh records the outcome of one refresh of a connection's tokens.
func (m *Metrics) ObserveRefresh(outcome string) { m.refreshes.WithLabelValues(outcome).Inc() }

// ConnectionCounts is what the connection gauges show at a scrape.
type ConnectionCounts struct {
	ByStatus      map[string]int
	PendingEvents int
	// DeliveryPaused: the events receiver answered 410 Gone and no event goes out until an
	// operator resumes delivery.
	DeliveryPaused bool
}

// WatchConnections adds gauges of connections by status and of connection events waiting in the
// outbox; count is asked at each scrape and returns false when it cannot tell (the database is
// down), which leaves the gauges out.
func (m *Metrics) WatchConnections(count func() (ConnectionCounts, bool)) {
	m.registry.MustRegister(connectionsCollector{
		connections: prometheus.NewDesc(namespace+"_connections", "Connected Zoom accounts by status.", []string{"status"}, nil),
		pending:     prometheus.NewDesc(namespace+"_connection_events_pending", "Connection events in the outbox, not yet delivered.", nil, nil),
		paused: prometheus.NewDesc(namespace+"_events_delivery_paused",
			"1 while event delivery is paused (EVENTS_URL answered 410 Gone) until POST /admin/events/retry.", nil, nil),
		count: count,
	})
}

type connectionsCollector struct {
	connections, pending, paused *prometheus.Desc
	count                        func() (ConnectionCounts, bool)
}

func (c connectionsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connections
	ch <- c.pending
	ch <- c.paused
}

func (c connectionsCollector) Collect(ch chan<- prometheus.Metric) {
	counts, ok := c.count()
	if !ok {
		return
	}
	for status, n := range counts.ByStatus {
		ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(n), status)
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(counts.PendingEvents))
	paused := 0.0
	if counts.DeliveryPaused {
		paused = 1
	}
	ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused)
}

// ZoomHooks returns the hooks that feed the Zoom metrics from the S2S client.
func (m *Metrics) ZoomHooks() zoom.Hooks {
	return zoom.Hooks{
		Request: func(endpoint, outcome string, took time.Duration) {
			m.zoomRequests.WithLabelValues(endpoint, strings.ReplaceAll(outcome, " ", "_")).Inc()
			m.zoomSeconds.WithLabelValues(endpoint).Observe(took.Seconds())
		},
		TokenFetched: func(time.Time) { m.tokenRefreshes.Inc() },
		RateLimitRemaining: func(category string, remaining int) {
			m.rateLimitRemaining.WithLabelValues(category).Set(float64(remaining))
		},
	}
}

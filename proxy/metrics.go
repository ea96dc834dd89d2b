package proxy

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records the agent's Prometheus metrics. It implements
// RequestObserver and UpstreamObserver and is safe for concurrent use.
type Metrics struct {
	registry *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	coalesced       *prometheus.CounterVec
	groupSize       prometheus.Histogram
	responseBytes   *prometheus.CounterVec

	upstreamRequests *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
	upstreamBytes    prometheus.Counter
}

var (
	_ RequestObserver  = (*Metrics)(nil)
	_ UpstreamObserver = (*Metrics)(nil)
)

// NewMetrics returns Metrics in a registry of their own, with the Go
// runtime and process collectors. openGroups is sampled at each scrape for
// the open-groups gauge; nil leaves the gauge out.
func NewMetrics(openGroups func() int) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ba_requests_total",
			Help: "Client requests by front door (helper or s3), S3 operation and HTTP status code.",
		}, []string{"front_door", "operation", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "s3ba_request_duration_seconds",
			Help:    "Time from a client request's arrival to the end of its response.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"front_door", "operation"}),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ba_coalesced_requests_total",
			Help: "Client reads served from another request's upstream call, without a call of their own.",
		}, []string{"front_door", "operation"}),
		groupSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "s3ba_group_size",
			Help:    "Client reads that shared one upstream call.",
			Buckets: []float64{1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000},
		}),
		responseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ba_response_bytes_total",
			Help: "Body bytes sent to clients.",
		}, []string{"front_door"}),
		upstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "s3ba_upstream_requests_total",
			Help: "Requests sent to the upstream by S3 operation and HTTP status code (\"error\" when no response came back).",
		}, []string{"operation", "code"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "s3ba_upstream_request_duration_seconds",
			Help:    "Time from sending an upstream request to its response headers.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation"}),
		upstreamBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "s3ba_upstream_response_bytes_total",
			Help: "Body bytes received from the upstream.",
		}),
	}
	m.registry.MustRegister(
		m.requests, m.requestDuration, m.coalesced, m.groupSize, m.responseBytes,
		m.upstreamRequests, m.upstreamDuration, m.upstreamBytes,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if openGroups != nil {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "s3ba_open_groups",
			Help: "Read groups waiting for or running an upstream call.",
		}, func() float64 { return float64(openGroups()) }))
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Request implements RequestObserver.
func (m *Metrics) Request(e RequestEvent) {
	m.requests.WithLabelValues(e.FrontDoor, e.Op, strconv.Itoa(e.Status)).Inc()
	m.requestDuration.WithLabelValues(e.FrontDoor, e.Op).Observe(e.Duration.Seconds())
	m.responseBytes.WithLabelValues(e.FrontDoor).Add(float64(e.Bytes))
	if e.GroupSize == 0 {
		return
	}
	if e.Opener {
		m.groupSize.Observe(float64(e.GroupSize))
	} else {
		m.coalesced.WithLabelValues(e.FrontDoor, e.Op).Inc()
	}
}

// UpstreamRequest implements UpstreamObserver.
func (m *Metrics) UpstreamRequest(op string, status int, headerTime time.Duration) {
	code := "error"
	if status != 0 {
		code = strconv.Itoa(status)
	}
	if op == "" {
		op = "unknown"
	}
	m.upstreamRequests.WithLabelValues(op, code).Inc()
	m.upstreamDuration.WithLabelValues(op).Observe(headerTime.Seconds())
}

// UpstreamBytes implements UpstreamObserver.
func (m *Metrics) UpstreamBytes(n int64) {
	m.upstreamBytes.Add(float64(n))
}

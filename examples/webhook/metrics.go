package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sidecarkit/sidecarkit/admission"
)

// metrics are the webhook's Prometheus metrics (README.md#metrics), fed
// from admission.Handler's Observe hook: the library itself stays free of
// Prometheus.
type metrics struct {
	registry *prometheus.Registry
	// reviews counts the /mutate requests by outcome and mode.
	reviews *prometheus.CounterVec
	// skips counts the reviews answered without injecting, by reason.
	skips *prometheus.CounterVec
	// duration is the time from the request's arrival at the handler to
	// its answer written, by outcome.
	duration *prometheus.HistogramVec
	// inFlight is the number of /mutate requests being served.
	inFlight prometheus.Gauge
}

// The outcomes of a /mutate request (the outcome label).
const (
	outcomeInjected    = "injected"    // allowed with a patch
	outcomeUnchanged   = "unchanged"   // allowed, nothing to change
	outcomeSkipped     = "skipped"     // allowed unchanged: a skip (reason in sidecarkit_webhook_skips_total)
	outcomeFailedOpen  = "failed_open" // the injection failed; allowOnError admitted the Pod unchanged
	outcomeDenied      = "denied"      // the review answered allowed: false
	outcomeRejected    = "rejected"    // no review answered: an HTTP error (400, 405, 408, 413, 415, 429, 500)
	outcomeUndelivered = "undelivered" // the answer could not be written (client gone, deadline passed)
)

// durationBuckets reach the largest timeoutSeconds (30 s).
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		reviews: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecarkit_webhook_reviews_total",
			Help: "AdmissionReview requests to /mutate, by outcome (injected, unchanged, skipped, failed_open, denied, rejected, undelivered) and the mode injected (none when nothing was).",
		}, []string{"outcome", "mode"}),
		skips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sidecarkit_webhook_skips_total",
			Help: "Reviews allowed without injecting, by the reason (sidecar.Skip: Declined, AlreadyInjected, Operation, SubResource, Kind, Namespace, Error, ...).",
		}, []string{"reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sidecarkit_webhook_review_duration_seconds",
			Help:    "Time from a /mutate request reaching the handler to its answer written, by outcome.",
			Buckets: durationBuckets,
		}, []string{"outcome"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sidecarkit_webhook_reviews_in_flight",
			Help: "/mutate requests being served.",
		}),
	}
	m.registry.MustRegister(m.reviews, m.skips, m.duration, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

type startKey struct{}

// instrument returns h counted in flight, its Observe hook chained after
// the metrics' own. h must not be used elsewhere.
func (m *metrics) instrument(h *admission.Handler) http.Handler {
	next := h.Observe
	h.Observe = func(r *http.Request, status int, o admission.Outcome, err error) {
		m.observe(r, status, o)
		if next != nil {
			next(r, status, o, err)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), startKey{}, time.Now())))
	})
}

// observe records one request, as admission.Handler's Observe hook sees it.
func (m *metrics) observe(r *http.Request, status int, o admission.Outcome) {
	outcome := outcomeOf(status, o)
	mode := string(o.Mode)
	if mode == "" {
		mode = "none"
	}
	m.reviews.WithLabelValues(outcome, mode).Inc()
	if o.Skipped != "" && (outcome == outcomeSkipped || outcome == outcomeFailedOpen) {
		m.skips.WithLabelValues(string(o.Skipped)).Inc()
	}
	if start, ok := r.Context().Value(startKey{}).(time.Time); ok {
		m.duration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	}
}

func outcomeOf(status int, o admission.Outcome) string {
	switch {
	case status == 0:
		return outcomeUndelivered
	case status != http.StatusOK:
		return outcomeRejected
	case !o.Allowed:
		return outcomeDenied
	case o.Skipped == admission.SkipError:
		return outcomeFailedOpen
	case o.Skipped != "":
		return outcomeSkipped
	case o.Ops > 0:
		return outcomeInjected
	}
	return outcomeUnchanged
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry}))
	return mux
}

// serveMetrics serves /metrics over plain HTTP on l until ctx ends. It is
// a listener of its own: the webhook's HTTPS port may require the API
// server's client certificate (--client-ca-file), which Prometheus has
// not.
func (m *metrics) serve(ctx context.Context, l net.Listener) error {
	s := &http.Server{Handler: m.handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 90 * time.Second, MaxHeaderBytes: maxHeaderBytes}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.Shutdown(sctx)
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

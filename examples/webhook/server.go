package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// server is the webhook's HTTPS server: /mutate, /healthz and /readyz.
type server struct {
	http  *http.Server
	ready func() error
}

type serverOptions struct {
	// webhook returns the Webhook that answers a review (the
	// configReloader's current one).
	webhook          func() *admission.Webhook
	certs            *certReloader
	maxBodyBytes     int64
	maxInFlightBytes int64
	// webhookTimeout is the webhook's timeoutSeconds: the server's
	// timeouts derive from it (see timeouts).
	webhookTimeout time.Duration
	// ready reports why the server is not ready yet (nil when ready);
	// nil means always ready.
	ready func() error
	log   *slog.Logger
	// metrics, when set, count the reviews (metrics.go).
	metrics *metrics
}

// serverTimeouts are the http.Server's timeouts for a webhook whose
// timeoutSeconds is t: the API server abandons a call after t (and tells
// the Handler so with ?timeout=), so nothing of a request may take longer.
type serverTimeouts struct {
	// readHeader bounds the TLS handshake and the request's headers
	// (t/2: they come at once from the API server); read the whole
	// request, body included (t); write the answer, counted from the end
	// of the headers (t plus a second to write an answer about the
	// deadline itself); idle a kept-alive connection between requests
	// (90 s, the idle timeout of the API server's client).
	readHeader, read, write, idle time.Duration
}

func timeouts(t time.Duration) serverTimeouts {
	return serverTimeouts{readHeader: t / 2, read: t, write: t + time.Second, idle: 90 * time.Second}
}

// Limits of the server beyond the Handler's.
const (
	// maxHeaderBytes bounds a request's headers (HTTP/1.1) or header
	// list (HTTP/2); the API server sends a few hundred bytes.
	maxHeaderBytes = 16 << 10
	// maxConcurrentStreams bounds the requests of one HTTP/2 connection
	// (the API server opens another connection when it needs more).
	maxConcurrentStreams = 100
)

func newServer(o serverOptions) *server {
	s := &server{ready: o.ready}
	mux := http.NewServeMux()
	// One Handler for all requests: its in-flight limit counts them all,
	// whichever Injector answers.
	h := &admission.Handler{
		GetWebhook:       o.webhook,
		MaxBodyBytes:     o.maxBodyBytes,
		MaxInFlightBytes: o.maxInFlightBytes,
		MaxTimeout:       o.webhookTimeout,
		Observe:          observe(o.log),
	}
	if o.metrics != nil {
		mux.Handle("/mutate", o.metrics.instrument(h))
	} else {
		mux.Handle("/mutate", h)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if s.ready != nil {
			if err := s.ready(); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	t := timeouts(o.webhookTimeout)
	s.http = &http.Server{
		Handler:           mux,
		TLSConfig:         o.certs.TLSConfig(),
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: maxConcurrentStreams,
			// The smallest frames HTTP/2 allows: a connection keeps a
			// read buffer of the largest frame it read.
			MaxReadFrameSize: 16 << 10,
			// What a peer may send ahead of the Handler's reading.
			MaxReceiveBufferPerConnection: 1 << 20,
			MaxReceiveBufferPerStream:     64 << 10,
			WriteByteTimeout:              t.write,
		},
		ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn),
	}
	return s
}

// serve serves TLS on l until ctx ends, then shuts down gracefully,
// letting in-flight reviews finish within grace.
func (s *server) serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(l, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// observe logs each review: denials, errors and answers not delivered at
// warning level, the rest at info (skips at debug). status is the status
// delivered (0 for none). Errors may quote the request; they are cut to
// admission.MaxMessageBytes.
func observe(log *slog.Logger) func(*http.Request, int, admission.Outcome, error) {
	return func(r *http.Request, status int, o admission.Outcome, err error) {
		attrs := []any{"status", status, "remote", r.RemoteAddr}
		if o.UID != "" {
			attrs = append(attrs, "uid", o.UID, "kind", o.Kind.Kind, "namespace", o.Namespace, "name", o.Name,
				"operation", o.Operation, "dryRun", o.DryRun, "allowed", o.Allowed, "ops", o.Ops)
		}
		if o.Mode != "" {
			attrs = append(attrs, "mode", string(o.Mode), "code", string(o.Code))
		}
		if o.Skipped != "" {
			attrs = append(attrs, "skipped", string(o.Skipped))
		}
		if o.Reason != "" {
			attrs = append(attrs, "reason", o.Reason)
		}
		for _, w := range o.Warnings {
			attrs = append(attrs, "warning", w)
		}
		switch {
		case status == 0:
			log.Warn("review not delivered", append(attrs, "err", short(err))...)
		case err != nil:
			log.Warn("review failed", append(attrs, "err", short(err))...)
		case o.Err != nil:
			log.Warn("review denied", append(attrs, "err", short(o.Err))...)
		case o.Skipped != "" && o.Skipped != sidecar.SkipAlreadyInjected:
			log.Debug("review skipped", attrs...)
		default:
			log.Info("review", attrs...)
		}
	}
}

// short is err's message cut to admission.MaxMessageBytes on a UTF-8
// boundary.
func short(err error) string {
	s := err.Error()
	if len(s) <= admission.MaxMessageBytes {
		return s
	}
	cut := admission.MaxMessageBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + " [truncated]"
}

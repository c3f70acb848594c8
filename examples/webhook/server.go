package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sidecarkit/sidecarkit/admission"
)

// server is the webhook's HTTPS server: /mutate, /healthz and /readyz.
type server struct {
	http  *http.Server
	ready func() error
}

type serverOptions struct {
	// injector returns the Injector that answers a review (the
	// configReloader's current one).
	injector     func() *admission.Injector
	certs        *certReloader
	maxBodyBytes int64
	// ready reports why the server is not ready yet (nil when ready);
	// nil means always ready.
	ready func() error
	log   *slog.Logger
}

func newServer(o serverOptions) *server {
	s := &server{ready: o.ready}
	mux := http.NewServeMux()
	observer := observe(o.log)
	mux.HandleFunc("/mutate", func(w http.ResponseWriter, r *http.Request) {
		h := admission.Handler{Injector: o.injector(), MaxBodyBytes: o.maxBodyBytes, Observe: observer}
		h.ServeHTTP(w, r)
	})
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
	s.http = &http.Server{
		Handler: mux,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: o.certs.GetCertificate,
		},
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.log.Handler(), slog.LevelWarn),
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

// observe logs each review: denials and errors at warning level, the rest
// at info (skips at debug).
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
		case err != nil:
			log.Warn("review failed", append(attrs, "err", err)...)
		case o.Err != nil:
			log.Warn("review denied", append(attrs, "err", o.Err)...)
		case o.Skipped != "" && o.Skipped != admission.SkipAlreadyInjected:
			log.Debug("review skipped", attrs...)
		default:
			log.Info("review", attrs...)
		}
	}
}

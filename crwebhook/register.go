package crwebhook

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/sync/semaphore"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	sidecaradmission "github.com/sidecarkit/sidecarkit/admission"
)

// Register serves h on srv (the manager's mgr.GetWebhookServer()) at path,
// for example "/mutate-pods", as a controller-runtime admission.Webhook
// whose request bodies are limited to sidecarkit/admission.DefaultMaxBodyBytes
// (3 MiB, above the API server's largest object wrapped in an
// AdmissionReview): controller-runtime v0.16 reads a body whole, whatever
// its length; later ones (v0.19.4 and v0.25.3 checked) stop at 7 MiB. A
// longer body is answered as a bad request.
//
// Requests in flight are bounded as package sidecarkit/admission bounds
// them (sidecarkit/admission.Handler): each holds its claimed body length
// (at least 4 KiB; the body limit when it claims none) of
// sidecarkit/admission.DefaultMaxInFlightBytes from before controller-runtime
// reads it until the answer is written, requests over 64 KiB at most
// three quarters of it, and a request that does not fit is answered 429
// Too Many Requests with Retry-After: 1, which the API server's client
// retries within its deadline. So concurrent maximal reviews cannot
// exhaust the webhook's memory, and small ones always find room.
//
// webhook.Server is an interface throughout the supported range
// (controller-runtime v0.15 made it one), so srv may be a
// webhook.NewServer or any other implementation. Register returns an error
// instead of panicking when srv, path or h is unusable, or when srv's
// Register panics (controller-runtime's DefaultServer does for a path
// registered twice).
func Register(srv webhook.Server, path string, h *Handler) (err error) {
	switch {
	case srv == nil:
		return errors.New("crwebhook: register: webhook.Server is nil")
	case h == nil:
		return errors.New("crwebhook: register: handler is nil")
	case !strings.HasPrefix(path, "/"):
		return fmt.Errorf("crwebhook: register: path %q does not start with /", path)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("crwebhook: register %s: %v", path, r)
		}
	}()
	srv.Register(path, limitInFlight(http.MaxBytesHandler(&admission.Webhook{Handler: h}, sidecaradmission.DefaultMaxBodyBytes),
		sidecaradmission.DefaultMaxBodyBytes, sidecaradmission.DefaultMaxInFlightBytes))
	return nil
}

// The in-flight weights (see Register).
const (
	minWeight   = 4 << 10  // the least a request holds
	largeWeight = 64 << 10 // requests above share three quarters
)

// limitInFlight bounds the claimed body bytes of the requests next serves
// at once to capacity (see Register); maxBody is a request's weight when
// it claims no length, and caps a claim (a longer body is refused by
// next).
func limitInFlight(next http.Handler, maxBody, capacity int64) http.Handler {
	all := semaphore.NewWeighted(capacity)
	large := semaphore.NewWeighted(capacity / 4 * 3)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		weight := r.ContentLength
		if weight < 0 || weight > maxBody {
			weight = maxBody
		}
		if weight < minWeight {
			weight = minWeight
		}
		if weight > largeWeight {
			if !large.TryAcquire(weight) {
				tooMany(w, capacity)
				return
			}
			defer large.Release(weight)
		}
		if !all.TryAcquire(weight) {
			tooMany(w, capacity)
			return
		}
		defer all.Release(weight)
		next.ServeHTTP(w, r)
	})
}

// tooMany answers 429 with Retry-After: 1.
func tooMany(w http.ResponseWriter, capacity int64) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, fmt.Sprintf("crwebhook: too many reviews in flight (limit %d bytes); retry later", capacity), http.StatusTooManyRequests)
}

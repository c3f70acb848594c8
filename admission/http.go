package admission

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
)

// DefaultMaxBodyBytes is the request body limit of a [Handler] whose
// MaxBodyBytes is zero: 3 MiB, above the API server's largest object
// (etcd's default request limit is 1.5 MiB) wrapped in an AdmissionReview.
const DefaultMaxBodyBytes = 3 << 20

// Handler serves [Injector.Review] over HTTP: POST with Content-Type
// application/json, a body of at most MaxBodyBytes. It answers 405, 415,
// 413 and 400 with a plain-text message when the request is not that, and
// the status of an [*Error] from Review. It never logs.
type Handler struct {
	// Injector answers the reviews.
	Injector *Injector
	// MaxBodyBytes limits the request body; zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Observe, when set, is called once per request after the answer is
	// written, with the HTTP status sent, the Outcome (zero when the
	// review was not read) and the error answered (nil for 200). Use it
	// for logs and metrics; it must be safe for concurrent use.
	Observe func(r *http.Request, status int, o Outcome, err error)
}

var bufPool = sync.Pool{New: func() interface{} { return new(bytes.Buffer) }}

// ServeHTTP answers one AdmissionReview.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, out, err := h.serve(w, r)
	if err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, err.Error()+"\n")
	}
	if h.Observe != nil {
		h.Observe(r, status, out, err)
	}
}

// serve writes a 200 answer itself and returns the status and error of
// any other.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (int, Outcome, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return http.StatusMethodNotAllowed, Outcome{}, fmt.Errorf("admission: method %s not allowed; use POST", r.Method)
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, Outcome{}, fmt.Errorf("admission: content type %q not supported; want application/json", ct)
	}
	if h.Injector == nil {
		return http.StatusInternalServerError, Outcome{}, errors.New("admission: handler has no Injector")
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if r.ContentLength > limit {
		return http.StatusRequestEntityTooLarge, Outcome{}, fmt.Errorf("admission: body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= int(limit)+bytes.MinRead {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	buf.Reset()
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + 1)
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, Outcome{}, fmt.Errorf("admission: body exceeds the limit of %d bytes", limit)
		}
		return http.StatusBadRequest, Outcome{}, fmt.Errorf("admission: read body: %w", err)
	}
	resp, out, err := h.Injector.Review(r.Context(), buf.Bytes())
	if err != nil {
		status := http.StatusInternalServerError
		var e *Error
		if errors.As(err, &e) {
			status = e.Status
		}
		return status, out, err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp)
	return http.StatusOK, out, nil
}

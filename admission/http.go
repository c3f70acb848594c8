package admission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultMaxBodyBytes is the request body limit of a [Handler] whose
// MaxBodyBytes is zero: 3 MiB, above the API server's largest object
// (etcd's default request limit is 1.5 MiB) wrapped in an AdmissionReview.
const DefaultMaxBodyBytes = 3 << 20

// DefaultMaxInFlightBytes is the in-flight limit of a [Handler] whose
// MaxInFlightBytes is zero: 8 MiB of request bodies, that is two maximal
// reviews (3 MiB each) and 2 MiB of small ones at the same time. A maximal
// review (a Pod of 1,500 containers) allocates some 16 MB while it is
// answered; e2e/hostile's webhook, under 50 such reviews at once, peaks
// near 100 MiB resident with this default.
const DefaultMaxInFlightBytes = 8 << 20

// MaxMessageBytes bounds a message that may echo request content: the
// message of a denial (AdmissionResponse.Result.Message, which the API
// server passes on to the client and to events) and the plain-text body
// of a [Handler]'s error answer. A longer message is cut on a UTF-8
// boundary and ends with " [truncated]"; with it, it is at most
// MaxMessageBytes bytes long.
const MaxMessageBytes = 1024

const (
	// truncatedMark ends a message cut to MaxMessageBytes.
	truncatedMark = " [truncated]"
	// smallReview is the largest weight of a small review: the reviews
	// above it share at most three quarters of the in-flight limit, so
	// that the rest always serves the small ones. A Pod of a few
	// containers is a few KiB.
	smallReview = 64 << 10
	// minWeight is the least weight a request takes, so that the
	// in-flight limit bounds the number of reviews too.
	minWeight = 4 << 10
	// maxPooledBuffer is the largest body buffer kept for reuse; larger
	// ones are left to the garbage collector.
	maxPooledBuffer = 64 << 10
	// maxDrainBytes is how far past MaxBodyBytes a Handler reads (and
	// discards) an oversize HTTP/1.x body before answering 413, so that
	// the client, which is still sending, sees the answer and not a
	// connection reset.
	maxDrainBytes = 256 << 10
	// defaultReviewTimeout is the deadline of a review whose request does
	// not name one: the API server's default webhook timeout.
	defaultReviewTimeout = 10 * time.Second
	// maxReviewTimeout bounds the deadline a request may name: the
	// largest timeoutSeconds the API server accepts.
	maxReviewTimeout = 30 * time.Second
	// writeGrace is how long past the review's deadline its answer may
	// still be written: long enough for a small answer about the
	// deadline itself (408), short enough that a client that does not
	// read cannot hold the request.
	writeGrace = time.Second
	// retryAfterSeconds is the Retry-After of a 429 answer.
	retryAfterSeconds = "1"
)

// Handler serves [Webhook.Review] over HTTP: POST with Content-Type
// application/json, a body of at most MaxBodyBytes. It answers 405, 415,
// 413, 429, 408 and 400 with a plain-text message when the request is not
// that or cannot be served now, and the status of an [*Error] from Review.
// It never logs.
//
// Memory grows with the bytes of a body actually received, never with the
// length a request claims. Each request holds a share of MaxInFlightBytes
// (its claimed length but at least 4 KiB, or MaxBodyBytes when it claims
// none) from before its body is read until its answer is written; a
// request whose share does not fit is answered 429 at once, with
// Retry-After: 1 (the API server's client retries after that second,
// within its deadline). Requests over 64 KiB share at most three quarters
// of the limit, so a flood of maximal claims cannot starve the small
// reviews of ordinary Pods.
//
// The review's deadline is the one the API server sends with each call
// (the query parameter timeout, e.g. ?timeout=10s; see
// https://github.com/kubernetes/kubernetes/blob/v1.37.2/staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook/mutating/dispatcher.go),
// bounded by MaxTimeout. Reading the body must end by then, and writing
// the answer a second later; the review's context, derived from the
// request's, ends then or when the client goes away.
//
// A Handler must not be copied after first use: its in-flight count is
// shared by every request it serves.
type Handler struct {
	// Webhook answers the reviews.
	Webhook *Webhook
	// GetWebhook, when set, returns the Webhook for each request
	// instead of Webhook: for a webhook that rebuilds its Webhook when
	// its configuration changes. Keep one Handler, whose in-flight limit
	// then counts every request.
	GetWebhook func() *Webhook
	// MaxTimeout bounds the review's deadline: a request's ?timeout= is
	// honoured up to MaxTimeout, and a request that names none gets
	// MaxTimeout. Set it to the webhook's timeoutSeconds, so that no
	// peer can hold a request longer. Zero means 30 s (the largest
	// timeoutSeconds the API server accepts) as the bound and 10 s (its
	// default) for a request that names none.
	MaxTimeout time.Duration
	// MaxBodyBytes limits the request body; zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxInFlightBytes limits the sum of the body lengths of the requests
	// being read and answered; zero means DefaultMaxInFlightBytes. It is
	// raised to twice MaxBodyBytes when lower, so that a maximal review
	// always fits.
	MaxInFlightBytes int64
	// Observe, when set, is called once per request after the answer is
	// written, with the HTTP status delivered, the Outcome (zero when the
	// review was not read) and the error answered (nil for 200). When the
	// answer could not be delivered (the client went away, the deadline
	// passed), status is 0 and err says which answer was lost and why.
	// That is as far as the connection can tell: HTTP/2 knows a stream
	// the client reset, HTTP/1.1 only a write that failed. Use it for
	// logs and metrics; it must be safe for concurrent use.
	Observe func(r *http.Request, status int, o Outcome, err error)

	inflight inflight
}

var bufPool = sync.Pool{New: func() interface{} { return new(bytes.Buffer) }}

// ServeHTTP answers one AdmissionReview.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dw := &deliveryWriter{ResponseWriter: w}
	status, out, err := h.serve(dw, w, r)
	if err != nil {
		msg := boundMessage(err.Error()) + "\n"
		dw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		dw.Header().Set("Content-Length", strconv.Itoa(len(msg)))
		dw.Header().Set("X-Content-Type-Options", "nosniff")
		dw.WriteHeader(status)
		_, _ = io.WriteString(dw, msg)
	}
	if werr := dw.flush(); werr != nil {
		err = errors.Join(err, fmt.Errorf("admission: %d answer not delivered: %w", status, werr))
		status = 0
	}
	if h.Observe != nil {
		h.Observe(r, status, out, err)
	}
}

// serve writes a 200 answer to dw itself and returns the status and error
// of any other. w is the server's own ResponseWriter, for
// http.MaxBytesReader and http.ResponseController.
func (h *Handler) serve(dw *deliveryWriter, w http.ResponseWriter, r *http.Request) (int, Outcome, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return http.StatusMethodNotAllowed, Outcome{}, fmt.Errorf("admission: method %s not allowed; use POST", r.Method)
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, Outcome{}, fmt.Errorf("admission: content type %q not supported; want application/json", ct)
	}
	inj := h.Webhook
	if h.GetWebhook != nil {
		inj = h.GetWebhook()
	}
	if inj == nil {
		return http.StatusInternalServerError, Outcome{}, errors.New("admission: handler has no Webhook")
	}
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}

	timeout := reviewTimeout(r, h.MaxTimeout)
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	rc := http.NewResponseController(w)
	// Not every ResponseWriter has deadlines (httptest's has none); the
	// context bounds the review all the same.
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline.Add(writeGrace))

	if r.ContentLength > limit {
		drainOversize(w, r, limit)
		return http.StatusRequestEntityTooLarge, Outcome{}, fmt.Errorf("admission: body of %d bytes exceeds the limit of %d bytes", r.ContentLength, limit)
	}
	weight := r.ContentLength
	if weight < 0 { // unknown length (chunked): it may be the largest
		weight = limit
	}
	if weight < minWeight {
		weight = minWeight
	}
	capacity := h.MaxInFlightBytes
	if capacity <= 0 {
		capacity = DefaultMaxInFlightBytes
	}
	if capacity < 2*limit {
		capacity = 2 * limit
	}
	if !h.inflight.acquire(weight, capacity) {
		w.Header().Set("Retry-After", retryAfterSeconds)
		return http.StatusTooManyRequests, Outcome{}, fmt.Errorf("admission: too many reviews in flight (limit %d bytes); retry later", capacity)
	}
	defer h.inflight.release(weight)

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	// ReadFrom grows buf with the bytes received (doubling), never with
	// the claimed length.
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit)); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			drainOversize(w, r, 0)
			return http.StatusRequestEntityTooLarge, Outcome{}, fmt.Errorf("admission: body exceeds the limit of %d bytes", limit)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return http.StatusRequestTimeout, Outcome{}, fmt.Errorf("admission: body not received within the request's timeout of %v", timeout)
		}
		return http.StatusBadRequest, Outcome{}, fmt.Errorf("admission: read body: %w", err)
	}
	resp, out, err := inj.Review(ctx, buf.Bytes())
	if err != nil {
		status := http.StatusInternalServerError
		var e *Error
		if errors.As(err, &e) {
			status = e.Status
		}
		return status, out, err
	}
	dw.Header().Set("Content-Type", "application/json")
	dw.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	dw.WriteHeader(http.StatusOK)
	_, _ = dw.Write(resp)
	return http.StatusOK, out, nil
}

// reviewTimeout is the deadline the request names with the query
// parameter timeout (the API server sends time.Duration's form, such as
// "10s", rounded up to whole seconds: Request.Timeout in
// https://github.com/kubernetes/client-go/blob/v0.37.2/rest/request.go),
// at most max; max when it names none or one that does not parse.
// A max of zero means maxReviewTimeout as the bound and
// defaultReviewTimeout for a request that names none.
func reviewTimeout(r *http.Request, max time.Duration) time.Duration {
	t, bound := max, max
	if max <= 0 {
		t, bound = defaultReviewTimeout, maxReviewTimeout
	}
	if s := r.URL.Query().Get("timeout"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			t = d
		}
	}
	if t > bound {
		t = bound
	}
	return t
}

// drainOversize reads and discards what remains of an oversize HTTP/1.x
// body when at most limit+maxDrainBytes bytes were claimed (any length
// when limit is 0, as then http.MaxBytesReader has read limit bytes
// already and at most maxDrainBytes more are read). A server that answers
// and closes the connection while the client's bytes are still unread
// resets it, and the client may then lose the answer; read to the end, the
// connection closes cleanly. Larger bodies are not read: the client may
// see a reset instead of the 413. HTTP/2 answers on a stream need no such
// care, and a client that sent Expect: 100-continue has not sent its body.
func drainOversize(w http.ResponseWriter, r *http.Request, limit int64) {
	if r.ProtoMajor != 1 || strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		return
	}
	if limit > 0 && r.ContentLength > limit+maxDrainBytes {
		w.Header().Set("Connection", "close")
		return
	}
	_, _ = io.CopyN(io.Discard, r.Body, limit+maxDrainBytes+1)
}

// boundMessage cuts s to MaxMessageBytes (see there).
func boundMessage(s string) string {
	if len(s) <= MaxMessageBytes {
		return s
	}
	cut := MaxMessageBytes - len(truncatedMark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMark
}

// inflight counts the weights of the requests a Handler is serving. It is
// a small try-only weighted semaphore with a reserve: requests never wait
// for room (the API server's deadline is seconds), and the ones above
// smallReview share at most three quarters of the capacity. (The library
// does not depend on golang.org/x/sync, and its semaphore.Weighted has no
// reserve.)
type inflight struct {
	mu           sync.Mutex
	total, large int64
}

// acquire takes w of capacity, or reports that it does not fit.
func (f *inflight) acquire(w, capacity int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.total+w > capacity {
		return false
	}
	if w > smallReview {
		if f.large+w > capacity-capacity/4 {
			return false
		}
		f.large += w
	}
	f.total += w
	return true
}

// release returns w, taken by acquire.
func (f *inflight) release(w int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.total -= w
	if w > smallReview {
		f.large -= w
	}
}

// deliveryWriter remembers whether the answer reached the connection: the
// first error of a Write, or of the Flush after the handler is done.
type deliveryWriter struct {
	http.ResponseWriter
	err error
}

func (d *deliveryWriter) Write(p []byte) (int, error) {
	n, err := d.ResponseWriter.Write(p)
	if err != nil && d.err == nil {
		d.err = err
	}
	return n, err
}

// Unwrap lets http.ResponseController reach the server's ResponseWriter.
func (d *deliveryWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// flush sends what is buffered and returns the first error of delivery.
func (d *deliveryWriter) flush() error {
	if d.err != nil {
		return d.err
	}
	if err := http.NewResponseController(d.ResponseWriter).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		d.err = err
	}
	return d.err
}

package admission_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/sidecarkit/sidecarkit/admission"
)

// countingBody is a request body that counts the bytes read from it and
// notes whether a read reached its end.
type countingBody struct {
	r   io.Reader
	n   int64
	eof bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

// An oversize HTTP/1.x body is read to its end before the 413 when it is
// at most 256 KiB over the limit, whatever the limit (see
// TestHandlerOversizeStillSending for why); a larger claim is not read and
// the connection is closed; HTTP/2 bodies and bodies a client holds back
// for 100-continue are never read.
func TestHandlerDrainOversize(t *testing.T) {
	const limit = 512 << 10 // above 256 KiB: the drain reads past the limit
	const drain = admission.MaxDrainBytes
	for _, tc := range []struct {
		name     string
		claim    int64 // the Content-Length; -1 for chunked
		size     int64 // the bytes sent
		proto    int
		expect   bool
		read     int64 // the bytes the handler reads, -1 for all
		closeHdr bool
	}{
		{name: "one byte over", claim: limit + 1, size: limit + 1, proto: 1, read: -1},
		{name: "256 KiB over", claim: limit + drain, size: limit + drain, proto: 1, read: -1},
		{name: "more than 256 KiB over", claim: limit + drain + 1, size: limit + drain + 1, proto: 1, read: 0, closeHdr: true},
		{name: "HTTP/2", claim: limit + 1, size: limit + 1, proto: 2, read: 0},
		{name: "100-continue", claim: limit + 1, size: limit + 1, proto: 1, expect: true, read: 0},
		{name: "chunked, 256 KiB over", claim: -1, size: limit + drain, proto: 1, read: -1},
		{name: "chunked, far over", claim: -1, size: 4 * limit, proto: 1, read: limit + 1 + drain + 1},
		{name: "chunked HTTP/2, far over", claim: -1, size: 4 * limit, proto: 2, read: limit + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}), MaxBodyBytes: limit}
			body := &countingBody{r: io.LimitReader(zeros{}, tc.size)}
			r := postReview("/", body)
			r.ContentLength = tc.claim
			r.ProtoMajor = tc.proto
			if tc.expect {
				r.Header.Set("Expect", "100-continue")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d %s, want 413", rec.Code, rec.Body)
			}
			if tc.read < 0 {
				if body.n != tc.size || !body.eof {
					t.Errorf("read %d of %d bytes (end seen: %v), want all", body.n, tc.size, body.eof)
				}
			} else if body.n != tc.read {
				t.Errorf("read %d of %d bytes, want %d", body.n, tc.size, tc.read)
			}
			if got := rec.Header().Get("Connection") == "close"; got != tc.closeHdr {
				t.Errorf("Connection: %q, want close %v", rec.Header().Get("Connection"), tc.closeHdr)
			}
		})
	}
}

// zeros reads as an endless run of '0'.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// The drain over the network, with a limit of 1 MiB: the client sends
// half of a body one byte over the limit, waits until the server has read
// all of it or closed the connection, then sends the rest and reads the
// 413. A server that read only 256 KiB of the body would answer and close
// the connection with the rest unread.
func TestHandlerOversizeLargeLimitStillSending(t *testing.T) {
	const limit = 1 << 20
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}), MaxBodyBytes: limit}
	srv := httptest.NewUnstartedServer(h)
	l := &countingListener{Listener: srv.Listener, changed: make(chan struct{}, 1)}
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", limit+1)
	req.Write(bytes.Repeat([]byte("x"), limit+1))
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := req.Len() / 2
	if _, err := conn.Write(req.Bytes()[:half]); err != nil {
		t.Fatal(err)
	}
	l.waitReadOrClosed(int64(half))
	if l.closed.Load() {
		t.Fatalf("the server closed the connection after reading %d of the %d bytes sent", l.read.Load(), half)
	}
	if _, err := conn.Write(req.Bytes()[half:]); err != nil {
		t.Fatalf("the client could not send the rest of its request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(b), "exceeds the limit of 1048576 bytes") {
		t.Errorf("%d %q, want 413", resp.StatusCode, b)
	}
}

// Both kinds of answer say their type and length; the plain-text errors
// are not to be sniffed.
func TestHandlerAnswerHeaders(t *testing.T) {
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})}
	for _, tc := range []struct {
		name, method, ctype string
		status              int
		nosniff             string
	}{
		{"error", http.MethodGet, "text/plain; charset=utf-8", http.StatusMethodNotAllowed, "nosniff"},
		{"review", http.MethodPost, "application/json", http.StatusOK, ""},
	} {
		r := postReview("/", bytes.NewReader(review(t, req{})))
		r.Method = tc.method
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		hd := rec.Header()
		if rec.Code != tc.status || hd.Get("Content-Type") != tc.ctype || hd.Get("Content-Length") != strconv.Itoa(rec.Body.Len()) || hd.Get("X-Content-Type-Options") != tc.nosniff {
			t.Errorf("%s: %d with headers %v and %d bytes, want %d, %s, nosniff %q", tc.name, rec.Code, hd, rec.Body.Len(), tc.status, tc.ctype, tc.nosniff)
		}
	}
}

// GetWebhook, when set, answers each request instead of Webhook.
func TestHandlerGetWebhook(t *testing.T) {
	inj := newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})
	for _, tc := range []struct {
		name   string
		get    *admission.Webhook
		status int
	}{
		{"rebuilt", inj, http.StatusOK},
		{"none yet", nil, http.StatusInternalServerError},
	} {
		calls := 0
		h := &admission.Handler{Webhook: inj, GetWebhook: func() *admission.Webhook { calls++; return tc.get }}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, postReview("/", bytes.NewReader(review(t, req{}))))
		if rec.Code != tc.status || calls != 1 {
			t.Errorf("%s: %d %s after %d calls, want %d after 1", tc.name, rec.Code, rec.Body, calls, tc.status)
		}
	}
}

// holder sends requests whose bodies never come, so that they keep their
// in-flight share, and tells which were admitted.
type holder struct {
	t    *testing.T
	h    *admission.Handler
	wg   sync.WaitGroup
	held []*heldBody
}

// hold sends a request claiming claim bytes and reports whether it was
// admitted (its body is being read) or answered at once (with that
// status).
func (x *holder) hold(claim int64) (bool, int) {
	x.t.Helper()
	b := newHeldBody()
	r := postReview("/", b)
	r.ContentLength = claim
	rec := httptest.NewRecorder()
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		defer close(b.done)
		x.h.ServeHTTP(rec, r)
	}()
	select {
	case <-b.started:
		x.held = append(x.held, b)
		return true, 0
	case <-b.done:
		return false, rec.Code
	}
}

// admit holds n requests of claim bytes each, which must all be admitted.
func (x *holder) admit(n int, claim int64) {
	x.t.Helper()
	for k := 0; k < n; k++ {
		if ok, code := x.hold(claim); !ok {
			x.t.Fatalf("claim %d of %d bytes refused with %d after %d held", k, claim, code, len(x.held))
		}
	}
}

// refuse holds a request of claim bytes, which must be answered 429.
func (x *holder) refuse(claim int64) {
	x.t.Helper()
	if ok, code := x.hold(claim); ok || code != http.StatusTooManyRequests {
		x.t.Fatalf("claim of %d bytes after %d held: admitted %v, status %d; want 429", claim, len(x.held), ok, code)
	}
}

// pass sends a request of claim bytes, which must be admitted, and lets
// it end.
func (x *holder) pass(claim int64) {
	x.t.Helper()
	x.admit(1, claim)
	b := x.held[len(x.held)-1]
	x.held = x.held[:len(x.held)-1]
	close(b.release)
	<-b.done
}

func (x *holder) releaseAll() {
	for _, b := range x.held {
		close(b.release)
	}
	x.wg.Wait()
}

// How much of the in-flight limit a request takes: at least 4 KiB (a
// claim of 0 too); the limit itself defaults to 8 MiB and is raised to
// twice MaxBodyBytes; a claim of exactly 64 KiB is still a small one, when
// it is taken and when it is returned.
func TestHandlerInFlightWeights(t *testing.T) {
	inj := newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})
	t.Run("at least 4 KiB", func(t *testing.T) {
		x := &holder{t: t, h: &admission.Handler{Webhook: inj, MaxBodyBytes: 64 << 10, MaxInFlightBytes: 128 << 10}}
		defer x.releaseAll()
		x.admit(16, 0)
		x.admit(16, 100) // 32 × 4 KiB = 128 KiB
		x.refuse(1)
	})
	t.Run("raised to twice the body limit", func(t *testing.T) {
		x := &holder{t: t, h: &admission.Handler{Webhook: inj, MaxBodyBytes: 64 << 10, MaxInFlightBytes: 10 << 10}}
		defer x.releaseAll()
		x.admit(2, 64<<10) // small: they may take it all
		x.refuse(1)
	})
	t.Run("64 KiB claims come back as small ones", func(t *testing.T) {
		x := &holder{t: t, h: &admission.Handler{Webhook: inj, MaxBodyBytes: 1 << 20, MaxInFlightBytes: 4 << 20}}
		defer x.releaseAll()
		for k := 0; k < 16; k++ {
			x.pass(64 << 10)
		}
		x.admit(3, 1<<20) // the large ones' share: 3 MiB
		x.refuse(1 << 20)
	})
	t.Run("64 KiB claims are taken as small ones", func(t *testing.T) {
		x := &holder{t: t, h: &admission.Handler{Webhook: inj, MaxBodyBytes: 1 << 20, MaxInFlightBytes: 4 << 20}}
		defer x.releaseAll()
		x.admit(3, 1<<20)    // the large ones' share, 3 MiB, is full
		x.refuse(64<<10 + 1) // a large one more does not fit
		x.admit(1, 64<<10)   // a small one does
	})
	t.Run("8 MiB by default", func(t *testing.T) {
		x := &holder{t: t, h: &admission.Handler{Webhook: inj}}
		defer x.releaseAll()
		x.admit(2, admission.DefaultMaxBodyBytes) // 6 MiB: the large ones' share
		x.refuse(64<<10 + 1)
		x.admit(32, 64<<10) // the last 2 MiB
		x.refuse(1)
	})
}

// deadlineWriter is a ResponseWriter with connection deadlines, as the
// server's own has.
type deadlineWriter struct {
	*httptest.ResponseRecorder
	read, write time.Time
}

func (w *deadlineWriter) SetReadDeadline(t time.Time) error  { w.read = t; return nil }
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error { w.write = t; return nil }

// The connection's read deadline is the review's; writing may take a
// second longer.
func TestHandlerConnectionDeadlines(t *testing.T) {
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})}
	w := &deadlineWriter{ResponseRecorder: httptest.NewRecorder()}
	before := time.Now()
	h.ServeHTTP(w, postReview("/?timeout=7s", bytes.NewReader(review(t, req{}))))
	after := time.Now()
	if w.Code != 200 {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	if w.read.Before(before.Add(7*time.Second)) || w.read.After(after.Add(7*time.Second)) {
		t.Errorf("read deadline %v, want 7s after the request (between %v and %v)", w.read, before, after)
	}
	if d := w.write.Sub(w.read); d != time.Second {
		t.Errorf("write deadline %v after the read deadline, want 1s", d)
	}
}

// A request that names a timeout of zero gets the default one, not a
// review that is over before it starts.
func TestHandlerZeroTimeout(t *testing.T) {
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, postReview("/?timeout=0s", bytes.NewReader(review(t, req{}))))
	if rec.Code != 200 {
		t.Errorf("status %d %s, want 200", rec.Code, rec.Body)
	}
}

// A body that fails while it is read is a bad request, even when what
// arrived before the failure is a whole review.
func TestHandlerBodyReadError(t *testing.T) {
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, postReview("/", io.MultiReader(bytes.NewReader(review(t, req{})), iotest.ErrReader(errors.New("connection reset by peer")))))
	if rec.Code != http.StatusBadRequest || rec.Body.String() != "admission: read body: connection reset by peer\n" {
		t.Errorf("%d %q, want 400 saying the read failed", rec.Code, rec.Body)
	}
}

// boundMessage cuts back to the start of a rune; a run without one is
// dropped whole.
func TestBoundMessageRuneStart(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"cut inside a 2-byte rune", "a" + strings.Repeat("ä", admission.MaxMessageBytes), "a" + strings.Repeat("ä", (admission.MaxMessageBytes-len(" [truncated]"))/2-1) + " [truncated]"},
		{"cut inside a 4-byte rune", "ab" + strings.Repeat("😀", admission.MaxMessageBytes), "ab" + strings.Repeat("😀", (admission.MaxMessageBytes-len(" [truncated]")-2)/4) + " [truncated]"},
		{"continuation bytes only", strings.Repeat("\x80", 2*admission.MaxMessageBytes), " [truncated]"},
	} {
		if got := admission.BoundMessage(tc.in); got != tc.want {
			t.Errorf("%s: %d bytes %q..., want %d bytes", tc.name, len(got), head(got, 20), len(tc.want))
		}
	}
}

// fakeConn is a ResponseWriter whose writes and flushes fail as told; a
// nil flush error with flusher unset means a writer that cannot flush.
type fakeConn struct {
	h                  http.Header
	writeErr, flushErr error
	flusher            bool
}

func (w *fakeConn) Header() http.Header { return w.h }
func (w *fakeConn) WriteHeader(int)     {}
func (w *fakeConn) Write(p []byte) (int, error) {
	if w.writeErr != nil {
		return 0, w.writeErr
	}
	return len(p), nil
}

// flushingConn adds FlushError, which http.ResponseController calls.
type flushingConn struct{ *fakeConn }

func (w flushingConn) FlushError() error { return w.flushErr }

// What Observe is told about delivery: a writer that cannot flush has
// delivered what it wrote; a flush that fails is an answer lost; the first
// error is the one reported.
func TestHandlerDeliveryReport(t *testing.T) {
	observe, seen := observer()
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}), Observe: observe}
	for _, tc := range []struct {
		name   string
		w      http.ResponseWriter
		status int
		err    string
	}{
		{"cannot flush", &fakeConn{h: http.Header{}}, 200, ""},
		{"flushed", flushingConn{&fakeConn{h: http.Header{}}}, 200, ""},
		{"flush fails", flushingConn{&fakeConn{h: http.Header{}, flushErr: errors.New("flush: connection reset")}}, 0, "admission: 200 answer not delivered: flush: connection reset"},
		{"write and flush fail", flushingConn{&fakeConn{h: http.Header{}, writeErr: errors.New("write: broken pipe"), flushErr: errors.New("flush: connection reset")}}, 0, "admission: 200 answer not delivered: write: broken pipe"},
	} {
		h.ServeHTTP(tc.w, postReview("/", bytes.NewReader(review(t, req{}))))
		o := <-seen
		if o.status != tc.status || (o.err == nil) != (tc.err == "") || o.err != nil && o.err.Error() != tc.err {
			t.Errorf("%s: Observe saw %d %v, want %d %q", tc.name, o.status, o.err, tc.status, tc.err)
		}
	}
}

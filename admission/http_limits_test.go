package admission_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
)

// postReview is a POST of body to target with the content type set.
func postReview(target string, body io.Reader) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, body)
	r.Header.Set("Content-Type", "application/json")
	return r
}

// A request that claims a large body but sends a small one costs memory
// for what it sends, not for what it claims.
func TestHandlerMemoryFollowsBytesReceived(t *testing.T) {
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})}
	body := review(t, req{})
	serve := func(claim int64) int {
		r := postReview("/", bytes.NewReader(body))
		r.ContentLength = claim
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	serve(int64(len(body))) // warm up the Webhook and the pool
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if code := serve(admission.DefaultMaxBodyBytes); code != 200 {
		t.Fatalf("status %d", code)
	}
	runtime.ReadMemStats(&after)
	// The review of this small Pod allocates tens of KiB; a buffer sized
	// to the claim would be 3 MiB.
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("a %d-byte body claimed as %d bytes allocated %d bytes", len(body), admission.DefaultMaxBodyBytes, got)
	}
}

// Buffers that grew past 64 KiB are not kept for the next request.
func TestHandlerPoolDropsLargeBuffers(t *testing.T) {
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})}
	big := review(t, req{object: strings.Replace(podJSON, `"x-top":"kept"`, `"x-top":"`+strings.Repeat("x", 1<<20)+`"`, 1)})
	for i := 0; i < 3; i++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, postReview("/", bytes.NewReader(big)))
		if rec.Code != 200 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if c := admission.PooledBufferCap(); c > 64<<10 {
			t.Fatalf("the pool holds a buffer of %d bytes after a %d-byte review", c, len(big))
		}
	}
}

// heldBody is a request body whose first Read signals and then waits for
// release: its request holds its in-flight share meanwhile.
type heldBody struct {
	started, release, done chan struct{}
	once                   sync.Once
}

func newHeldBody() *heldBody {
	return &heldBody{started: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
}

func (b *heldBody) Read([]byte) (int, error) {
	b.once.Do(func() { close(b.started) })
	<-b.release
	return 0, io.ErrUnexpectedEOF
}

// The in-flight limit: requests are weighed by their claimed length before
// their body is read; what does not fit is answered 429 at once; the
// large ones never take the quarter kept for small reviews.
func TestHandlerInFlightLimit(t *testing.T) {
	const limit = 1 << 20
	h := &admission.Handler{
		Webhook:          newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}),
		MaxBodyBytes:     limit,
		MaxInFlightBytes: 4 * limit, // large reviews share 3 MiB; 1 MiB is kept for small ones
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	var held []*heldBody
	defer func() {
		for _, b := range held {
			close(b.release)
		}
	}()
	// hold sends a request claiming claim bytes whose body never comes,
	// and reports whether it was admitted (its body is being read) or
	// answered at once (with that answer).
	hold := func(claim int64) (bool, *httptest.ResponseRecorder) {
		t.Helper()
		b := newHeldBody()
		r := postReview("/", b)
		r.ContentLength = claim
		rec := httptest.NewRecorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(b.done)
			h.ServeHTTP(rec, r)
		}()
		select {
		case <-b.started:
			held = append(held, b)
			return true, nil
		case <-b.done:
			return false, rec
		}
	}
	legit := func() int {
		body := review(t, req{})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, postReview("/", bytes.NewReader(body)))
		return rec.Code
	}
	refused := func(what string, ok bool, rec *httptest.ResponseRecorder) {
		t.Helper()
		if ok {
			t.Fatalf("%s: admitted, want 429", what)
		}
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "too many reviews in flight") {
			t.Fatalf("%s: %d %q Retry-After %q, want 429 with Retry-After: 1", what, rec.Code, rec.Body, rec.Header().Get("Retry-After"))
		}
	}
	for k := 0; k < 3; k++ {
		if ok, rec := hold(limit); !ok {
			t.Fatalf("maximal claim %d refused: %d %s", k, rec.Code, rec.Body)
		}
	}
	ok, rec := hold(limit)
	refused("a 4th maximal claim", ok, rec)
	ok, rec = hold(-1) // chunked: weighs as much as the limit
	refused("a chunked body while large claims fill their share", ok, rec)
	if code := legit(); code != 200 {
		t.Fatalf("a small review while maximal claims fill their share: %d, want 200", code)
	}
	// The small ones fill the last quarter (16 × 64 KiB) ...
	for k := 0; k < 16; k++ {
		if ok, rec := hold(64 << 10); !ok {
			t.Fatalf("small claim %d refused: %d %s", k, rec.Code, rec.Body)
		}
	}
	// ... and then every request is refused.
	ok, rec = hold(64 << 10)
	refused("a small claim when all is taken", ok, rec)
	ok, rec = hold(100)
	refused("a tiny claim when all is taken", ok, rec)
	// Returning a share admits the next.
	close(held[0].release)
	<-held[0].done
	held = held[1:]
	ok, rec = hold(limit)
	if !ok {
		t.Fatalf("a maximal claim after one returned: %d %s", rec.Code, rec.Body)
	}
	for _, b := range held {
		close(b.release)
	}
	held = nil
	wg.Wait()
	if code := legit(); code != 200 {
		t.Fatalf("after all returned: %d, want 200", code)
	}
}

// The review's context carries the deadline the API server sends as
// ?timeout=, at most MaxTimeout (default: at most 30 s; 10 s when absent
// or unreadable).
func TestHandlerDeadline(t *testing.T) {
	var mu sync.Mutex
	var left time.Duration
	var hasDeadline bool
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: func(ctx context.Context, _ *admission.Request) (compat.Capability, error) {
		mu.Lock()
		defer mu.Unlock()
		var dl time.Time
		dl, hasDeadline = ctx.Deadline()
		left = time.Until(dl)
		return nativeCap, nil
	}})}
	body := review(t, req{})
	for _, tc := range []struct {
		max   time.Duration
		query string
		want  time.Duration
	}{
		{0, "?timeout=7s", 7 * time.Second},
		{0, "?timeout=1m0s", 30 * time.Second},
		{0, "", 10 * time.Second},
		{0, "?timeout=soon", 10 * time.Second},
		{0, "?timeout=-5s", 10 * time.Second},
		{5 * time.Second, "?timeout=3s", 3 * time.Second},
		{5 * time.Second, "?timeout=30s", 5 * time.Second},
		{5 * time.Second, "", 5 * time.Second},
	} {
		h.MaxTimeout = tc.max
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, postReview("/mutate"+tc.query, bytes.NewReader(body)))
		mu.Lock()
		// Generous: the review runs in microseconds, but the machine
		// may be busy.
		if rec.Code != 200 || !hasDeadline || left > tc.want || left < tc.want-5*time.Second {
			t.Errorf("max %v %q: status %d, deadline %v (set %v), want %v", tc.max, tc.query, rec.Code, left, hasDeadline, tc.want)
		}
		mu.Unlock()
	}
}

// observed collects what Observe saw.
type observed struct {
	status int
	err    error
}

func observer() (func(*http.Request, int, admission.Outcome, error), chan observed) {
	c := make(chan observed, 16)
	return func(_ *http.Request, status int, _ admission.Outcome, err error) { c <- observed{status, err} }, c
}

// A body that does not arrive before the request's deadline is answered
// 408; the review never starts.
func TestHandlerSlowBody(t *testing.T) {
	observe, seen := observer()
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}), Observe: observe}
	srv := httptest.NewServer(h)
	defer srv.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"apiVersion":`)) }() // and nothing more
	// The client's transport waits for its body to end before it reports
	// an error; end it once the server is done.
	var o observed
	done := make(chan struct{})
	go func() {
		defer close(done)
		o = <-seen
		pw.Close()
	}()
	r, err := http.NewRequest(http.MethodPost, srv.URL+"/?timeout=200ms", pr)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "body not received within the request's timeout of 200ms") {
		t.Errorf("got %d %q, want 408", resp.StatusCode, b)
	}
	<-done
	if o.status != http.StatusRequestTimeout {
		t.Errorf("Observe saw %d %v, want 408", o.status, o.err)
	}
}

// A client that goes away ends its review: the context given to Review
// is canceled.
func TestHandlerClientGone(t *testing.T) {
	entered := make(chan struct{})
	observe, seen := observer()
	h := &admission.Handler{
		Webhook: newWebhook(t, admission.Config{Capability: func(ctx context.Context, _ *admission.Request) (compat.Capability, error) {
			close(entered)
			<-ctx.Done()
			return compat.Capability{}, ctx.Err()
		}}),
		Observe: observe,
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(review(t, req{})))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	go func() {
		<-entered
		cancel()
	}()
	if _, err := srv.Client().Do(r); !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v", err)
	}
	o := <-seen
	if !errors.Is(o.err, context.Canceled) {
		t.Errorf("Observe saw %d %v, want the cancellation", o.status, o.err)
	}
}

// brokenWriter is a ResponseWriter whose connection is gone.
type brokenWriter struct{ h http.Header }

func (w *brokenWriter) Header() http.Header       { return w.h }
func (w *brokenWriter) WriteHeader(int)           {}
func (w *brokenWriter) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

// Observe reports an answer that was not delivered as status 0 with the
// write error, not as the status that was meant.
func TestHandlerObserveUndelivered(t *testing.T) {
	observe, seen := observer()
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}), Observe: observe}
	for _, tc := range []struct {
		name  string
		ctype string
		want  []string
	}{
		{"200", "application/json", []string{"admission: 200 answer not delivered: write: broken pipe"}},
		{"415", "text/plain", []string{`content type "text/plain" not supported`, "admission: 415 answer not delivered: write: broken pipe"}},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(review(t, req{})))
		r.Header.Set("Content-Type", tc.ctype)
		h.ServeHTTP(&brokenWriter{h: http.Header{}}, r)
		o := <-seen
		if o.status != 0 || o.err == nil {
			t.Errorf("%s: Observe saw %d %v, want 0 and the write error", tc.name, o.status, o.err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(o.err.Error(), w) {
				t.Errorf("%s: Observe error %q lacks %q", tc.name, o.err, w)
			}
		}
	}
}

func TestBoundMessage(t *testing.T) {
	for _, tc := range []struct {
		name, in string
	}{
		{"short", "spec.containers[0].name: Duplicate"},
		{"exactly the limit", strings.Repeat("a", admission.MaxMessageBytes)},
		{"one over", strings.Repeat("a", admission.MaxMessageBytes+1)},
		{"multi-byte across the cut", strings.Repeat("ä", admission.MaxMessageBytes)},
		{"4-byte runes", strings.Repeat("😀", 2*admission.MaxMessageBytes)},
		{"invalid UTF-8", strings.Repeat("\xff", 3*admission.MaxMessageBytes)},
	} {
		got := admission.BoundMessage(tc.in)
		switch {
		case len(tc.in) <= admission.MaxMessageBytes:
			if got != tc.in {
				t.Errorf("%s: changed to %q", tc.name, got)
			}
		case len(got) > admission.MaxMessageBytes || !strings.HasSuffix(got, " [truncated]") || !strings.HasPrefix(tc.in, strings.TrimSuffix(got, " [truncated]")):
			t.Errorf("%s: %d bytes %q..., want a prefix of at most %d bytes marked truncated", tc.name, len(got), head(got, 40), admission.MaxMessageBytes)
		case utf8.ValidString(tc.in) && !utf8.ValidString(got):
			t.Errorf("%s: cut inside a rune", tc.name)
		case len(got) < admission.MaxMessageBytes-len(" [truncated]")-utf8.UTFMax:
			t.Errorf("%s: cut to %d bytes, shorter than needed", tc.name, len(got))
		}
	}
}

// A denial whose message grows with the Pod (here: 2,000 ephemeral
// containers under the sidecar's name, each an error of its own) carries
// at most MaxMessageBytes to the API server, which passes the message on
// to the client and to events.
func TestDenialMessageBounded(t *testing.T) {
	i := newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})
	eph := strings.TrimSuffix(strings.Repeat(`{"name":"proxy","image":"x"},`, 2000), ",")
	obj := strings.Replace(podJSON, `"spec":{`, `"spec":{"ephemeralContainers":[`+eph+`],`, 1)
	body, out, err := i.Review(context.Background(), review(t, req{object: obj}))
	if err != nil {
		t.Fatal(err)
	}
	if out.Allowed || out.Err == nil || len(out.Err.Error()) <= admission.MaxMessageBytes {
		t.Fatalf("this Pod is no longer denied with a message quoting it (allowed %v, err %v); pick another denial that does", out.Allowed, out.Err)
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil {
		t.Fatal(err)
	}
	msg := ar.Response.Result.Message
	if len(msg) > admission.MaxMessageBytes || !strings.HasSuffix(msg, " [truncated]") || !strings.HasPrefix(msg, "sidecar: inject: [spec.ephemeralContainers[0].name: Duplicate value") {
		t.Errorf("message of %d bytes: %.100q...", len(msg), msg)
	}
	if len(body) > 4<<10 {
		t.Errorf("denial of %d bytes", len(body))
	}
}

// Handler's plain-text error answers quote the request at most
// MaxMessageBytes long.
func TestHandlerErrorBodyBounded(t *testing.T) {
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)})}
	long := strings.Repeat("v", 10<<10)
	for _, tc := range []struct {
		name  string
		ctype string
		body  string
		code  int
	}{
		{"content type", "application/" + long, "{}", 415},
		{"apiVersion", "application/json", `{"apiVersion":"` + long + `","kind":"AdmissionReview","request":{"uid":"u"}}`, 400},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.ctype)
		h.ServeHTTP(rec, r)
		b := rec.Body.String()
		if rec.Code != tc.code || len(b) > admission.MaxMessageBytes+1 || !strings.HasSuffix(b, " [truncated]\n") {
			t.Errorf("%s: %d, %d bytes ending %q", tc.name, rec.Code, len(b), tail(b, 20))
		}
	}
}

// An oversize HTTP/1.1 body is read to its end before the 413 (when it is
// at most 256 KiB over the limit), so that a client that is still sending
// it when the answer comes can finish, and then reads the answer. A server
// that answered and closed with the body unread would reset the
// connection, and the client's next write would fail instead: what
// examples/webhook's TestServer/oversize saw now and then, when its
// client was slow. The client here sends half the body, waits until the
// server has either read all it was sent or closed the connection, then
// sends the rest and reads the answer.
func TestHandlerOversizeStillSending(t *testing.T) {
	h := &admission.Handler{Webhook: newWebhook(t, admission.Config{Capability: staticCap(nativeCap)}), MaxBodyBytes: 32 << 10}
	srv := httptest.NewUnstartedServer(h)
	l := &countingListener{Listener: srv.Listener, changed: make(chan struct{}, 1)}
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	body := bytes.Repeat([]byte("x"), 40<<10)
	for _, tc := range []struct {
		name    string
		chunked bool
	}{{"by length", false}, {"chunked", true}} {
		var req bytes.Buffer
		fmt.Fprintf(&req, "POST /mutate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nConnection: close\r\n")
		if tc.chunked {
			fmt.Fprintf(&req, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
		} else {
			fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n%s", len(body), body)
		}
		l.reset()
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		half := req.Len() / 2
		if _, err := conn.Write(req.Bytes()[:half]); err != nil {
			t.Fatal(err)
		}
		l.waitReadOrClosed(int64(half))
		if _, err := conn.Write(req.Bytes()[half:]); err != nil {
			t.Fatalf("%s: the client could not send the rest of its request: %v (the server read %d of %d bytes sent, closed %v)", tc.name, err, l.read.Load(), half, l.closed.Load())
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 413 || !strings.Contains(string(b), "exceeds the limit of 32768 bytes") {
			t.Errorf("%s: %d %q, want 413", tc.name, resp.StatusCode, b)
		}
		conn.Close()
	}
}

// countingListener counts the bytes the server reads from its (one)
// connection and notes when it closes it.
type countingListener struct {
	net.Listener
	read    atomic.Int64
	closed  atomic.Bool
	changed chan struct{}
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, l: l}, nil
}

func (l *countingListener) reset() {
	l.read.Store(0)
	l.closed.Store(false)
}

func (l *countingListener) signal() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// waitReadOrClosed waits until the server has read n bytes or closed the
// connection.
func (l *countingListener) waitReadOrClosed(n int64) {
	for l.read.Load() < n && !l.closed.Load() {
		<-l.changed
	}
}

type countingConn struct {
	net.Conn
	l *countingListener
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.read.Add(int64(n))
	c.l.signal()
	return n, err
}

func (c *countingConn) Close() error {
	err := c.Conn.Close()
	c.l.closed.Store(true)
	c.l.signal()
	return err
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

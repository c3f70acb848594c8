package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testCA issues serving certificates for 127.0.0.1.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a serving certificate with the given serial number to
// dir/tls.crt and dir/tls.key.
func (ca *testCA) issue(t *testing.T, dir string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "webhook"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"webhook.sidecar-webhook.svc"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write to temporary names and rename, as a secret volume update does.
	for name, block := range map[string]*pem.Block{"tls.crt": {Type: "CERTIFICATE", Bytes: der}, "tls.key": {Type: "EC PRIVATE KEY", Bytes: kb}} {
		tmp := filepath.Join(dir, "."+name)
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

const testConfig = `
sidecar:
  container:
    name: proxy
    image: registry.example/proxy:2
  volumes: [{name: proxy-socket, emptyDir: {}}]
  appMounts: [{name: proxy-socket, mountPath: /var/run/proxy}]
excludeNamespaces: [kube-system]
selection:
  policy: opt-out
`

type testServer struct {
	url     string
	client  *http.Client
	logs    *syncBuffer
	ca      *testCA
	dir     string
	configs *configReloader
	certs   *certReloader
	stop    func() error
}

// testOptions vary startServer's server.
type testOptions struct {
	config string
	ready  func() error
	// capability, when set, is the Injectors' capability source.
	capability func(context.Context, *admission.Request) (compat.Capability, error)
	// build, when set, is called before each Injector is built.
	build func()
	// clientCA, when set, is written to client-ca.crt and required of
	// clients (--client-ca-file).
	clientCA *testCA
	// maxInFlightBytes is the server's in-flight limit (0: the default).
	maxInFlightBytes int64
	// metrics, when set, count the server's reviews.
	metrics *metrics
}

func startServer(t *testing.T, config string, ready func() error) *testServer {
	t.Helper()
	return startServerWith(t, testOptions{config: config, ready: ready})
}

// startServerWith starts the webhook's server as run does, without the
// reloaders' watches: the tests call their check methods.
func startServerWith(t *testing.T, o testOptions) *testServer {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(o.config), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	capability := o.capability
	if capability == nil {
		c := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
		capability = func(context.Context, *admission.Request) (compat.Capability, error) { return c, nil }
	}
	configs, err := newConfigReloader(filepath.Join(dir, "config.yaml"), func(cfg admission.Config) (*admission.Webhook, error) {
		if o.build != nil {
			o.build()
		}
		cfg.Capability = capability
		return admission.New(cfg)
	}, func(err error) {
		if err != nil {
			log.Error("configuration reload failed; serving the previous one", "err", err)
		} else {
			log.Info("configuration reloaded")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t)
	ca.issue(t, dir, 100)
	clientCAFile := ""
	if o.clientCA != nil {
		clientCAFile = filepath.Join(dir, "client-ca.crt")
		o.clientCA.writeCA(t, clientCAFile)
	}
	certs, err := newCertReloader(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), clientCAFile, func(err error) {
		if err != nil {
			log.Error("certificate reload failed; serving the previous one", "err", err)
		} else {
			log.Info("certificate reloaded")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(serverOptions{webhook: configs.Webhook, certs: certs, maxBodyBytes: 32 << 10, maxInFlightBytes: o.maxInFlightBytes,
		webhookTimeout: 10 * time.Second, ready: o.ready, log: log, metrics: o.metrics})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, l, 5*time.Second) }()
	ts := &testServer{
		url:  "https://" + l.Addr().String(),
		logs: logs, ca: ca, dir: dir, configs: configs, certs: certs,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: ca.pool},
			DisableKeepAlives: true,
		}},
	}
	stopped := false
	ts.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if err := ts.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		for _, bad := range []string{"panic", "goroutine "} {
			if strings.Contains(logs.String(), bad) {
				t.Errorf("logs contain %q:\n%s", bad, logs)
			}
		}
	})
	return ts
}

func reviewBody(kind, group, object string) string {
	return `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",
"kind":{"group":"` + group + `","version":"v1","kind":"` + kind + `"},"resource":{"group":"` + group + `","version":"v1","resource":"x"},
"namespace":"shop","operation":"CREATE","userInfo":{"username":"alice"},"object":` + object + `,"oldObject":null,"dryRun":false}}`
}

const testPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"hostnameOverride":"h","containers":[{"name":"app","image":"nginx"}]}}`

func TestServer(t *testing.T) {
	ts := startServer(t, testConfig, nil)
	// The API server's kind of client: HTTP/2, connections kept.
	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.ca.pool}, ForceAttemptHTTP2: true}}
	defer h2.CloseIdleConnections()
	// HTTP/1.1 with connections kept.
	h1 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.ca.pool}}}
	defer h1.CloseIdleConnections()
	oversize := reviewBody("Pod", "", strings.Replace(testPod, `"h"`, `"`+strings.Repeat("h", 40<<10)+`"`, 1))
	reviews := 0 // the /mutate requests made
	for _, tc := range []struct {
		name, method, path, ctype, body string
		client                          *http.Client
		status                          int
		want                            string
	}{
		{name: "pod", body: reviewBody("Pod", "", testPod), status: 200, want: `"uid":"u-1","allowed":true,"patch":`},
		{name: "opted out", body: reviewBody("Pod", "", strings.Replace(testPod, `"name":"web"`, `"name":"web","labels":{"sidecar.sidecarkit.io/inject":"false"}`, 1)), status: 200, want: `{"uid":"u-1","allowed":true}`},
		{name: "wrong kind", body: reviewBody("Service", "", `{"kind":"Service"}`), status: 200, want: `{"uid":"u-1","allowed":true}`},
		{name: "malformed", body: `{"apiVersion":"admission.k8s.io/v1",`, status: 400, want: "admission: malformed AdmissionReview"},
		{name: "not a review", body: `{"apiVersion":"v1","kind":"Pod"}`, status: 400, want: `admission: got apiVersion "v1" kind "Pod"`},
		{name: "empty", body: "", status: 400, want: "admission: empty body"},
		// The server reads an oversize body out before it answers 413, so
		// that a client still sending it gets the answer, not a reset
		// connection (see admission's TestHandlerOversizeStillSending).
		{name: "oversize", body: oversize, status: 413, want: "exceeds the limit of 32768 bytes"},
		{name: "oversize, HTTP/1.1 kept alive", client: h1, body: oversize, status: 413, want: "exceeds the limit of 32768 bytes"},
		{name: "oversize, HTTP/2", client: h2, body: oversize, status: 413, want: "exceeds the limit of 32768 bytes"},
		{name: "pod after oversize, HTTP/1.1 kept alive", client: h1, body: reviewBody("Pod", "", testPod), status: 200, want: `"allowed":true,"patch":`},
		{name: "pod after oversize, HTTP/2", client: h2, body: reviewBody("Pod", "", testPod), status: 200, want: `"allowed":true,"patch":`},
		{name: "GET", method: "GET", body: "", status: 405, want: "method GET not allowed"},
		{name: "text/plain", ctype: "text/plain", body: reviewBody("Pod", "", testPod), status: 415, want: `content type "text/plain" not supported`},
		{name: "healthz", method: "GET", path: "/healthz", status: 200, want: "ok"},
		{name: "readyz", method: "GET", path: "/readyz", status: 200, want: "ok"},
		{name: "unknown path", method: "GET", path: "/nope", status: 404, want: "404 page not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, path, ctype := tc.method, tc.path, tc.ctype
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = "/mutate"
			}
			if ctype == "" {
				ctype = "application/json"
			}
			client := tc.client
			if client == nil {
				client = ts.client
			}
			r, err := http.NewRequest(method, ts.url+path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", ctype)
			if path == "/mutate" {
				reviews++
			}
			resp, err := client.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Errorf("got %d %q, want %d containing %q", resp.StatusCode, b, tc.status, tc.want)
			}
			if tc.client == h2 && resp.ProtoMajor != 2 {
				t.Errorf("got %s, want HTTP/2", resp.Proto)
			}
		})
	}
	h1.CloseIdleConnections()
	h2.CloseIdleConnections()
	if err := ts.stop(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	// One JSON log line per review, with the uid.
	var n int
	for _, line := range strings.Split(strings.TrimSpace(ts.logs.String()), "\n") {
		var rec map[string]interface{}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
		if rec["status"] != nil {
			n++
		}
	}
	if n != reviews {
		t.Errorf("%d review log lines, want %d:\n%s", n, reviews, ts.logs)
	}
}

func TestReadyz(t *testing.T) {
	var mu sync.Mutex
	synced := false
	ts := startServer(t, testConfig, func() error {
		mu.Lock()
		defer mu.Unlock()
		if !synced {
			return io.ErrUnexpectedEOF
		}
		return nil
	})
	get := func() int {
		resp, err := ts.client.Get(ts.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(); s != 503 {
		t.Errorf("readyz before sync: %d, want 503", s)
	}
	mu.Lock()
	synced = true
	mu.Unlock()
	if s := get(); s != 200 {
		t.Errorf("readyz after sync: %d, want 200", s)
	}
}

// The server picks up a new certificate written over the old files without
// a restart, and keeps serving the last good one when the files are bad.
func TestCertReload(t *testing.T) {
	ts := startServer(t, testConfig, nil)
	serial := func() int64 {
		conn, err := tls.Dial("tcp", strings.TrimPrefix(ts.url, "https://"), &tls.Config{RootCAs: ts.ca.pool})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 100 {
		t.Fatalf("serial %d, want 100", s)
	}
	ts.ca.issue(t, ts.dir, 200)
	bump(t, ts.dir)
	ts.certs.check()
	if s := serial(); s != 200 {
		t.Errorf("after rewrite: serial %d, want 200", s)
	}
	if err := os.WriteFile(filepath.Join(ts.dir, "tls.crt"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	bump(t, ts.dir)
	ts.certs.check()
	if s := serial(); s != 200 {
		t.Errorf("after a bad write: serial %d, want the last good 200", s)
	}
}

// TestConfigReload: a changed configuration, or a changed sidecarFile,
// applies to the reviews after the next check; a bad one is logged and the last good one
// keeps serving; fixing it applies again.
func TestConfigReload(t *testing.T) {
	ts := startServer(t, testConfig, nil)
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(ts.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		bumps++
		when := time.Now().Add(time.Duration(bumps) * time.Minute)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name, file, content string
		want, notWant       string
		log                 string
	}{
		{name: "initial", want: "registry.example/proxy:2"},
		{name: "new image", file: "config.yaml", content: strings.Replace(testConfig, "proxy:2", "proxy:3", 1),
			want: "registry.example/proxy:3", log: "configuration reloaded"},
		{name: "bad edit keeps the last good configuration", file: "config.yaml", content: "sidecar: [not, a, spec]\nmode: sideways\n",
			want: "registry.example/proxy:3", log: "configuration reload failed"},
		{name: "sidecarFile", file: "sidecar.yaml", content: "name: proxy\nimage: registry.example/proxy:4\n"},
		{name: "config names the sidecarFile", file: "config.yaml", content: "sidecarFile: sidecar.yaml\n",
			want: "registry.example/proxy:4"},
		{name: "only the sidecarFile changes", file: "sidecar.yaml", content: "name: proxy\nimage: registry.example/proxy:5\n",
			want: "registry.example/proxy:5", notWant: "proxy:4"},
	}
	for _, st := range steps {
		if st.file != "" {
			write(st.file, st.content)
			ts.configs.check()
		}
		if st.want == "" {
			continue
		}
		got := patchOf(t, ts)
		if !strings.Contains(got, st.want) || (st.notWant != "" && strings.Contains(got, st.notWant)) {
			t.Errorf("%s: patch %s; want %s", st.name, got, st.want)
		}
		if st.log != "" && !strings.Contains(ts.logs.String(), st.log) {
			t.Errorf("%s: logs lack %q:\n%s", st.name, st.log, ts.logs)
		}
	}
}

// bump moves the files' mtimes forward, as a coarse file system clock may
// give two writes within a test the same mtime.
var bumps int

func bump(t *testing.T, dir string) {
	t.Helper()
	bumps++
	when := time.Now().Add(time.Duration(bumps) * time.Minute)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Chtimes(filepath.Join(dir, f), when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// A review whose client went away (the API server gave up) is logged as
// not delivered, with status 0, not as the status it would have had.
func TestLogUndelivered(t *testing.T) {
	entered := make(chan struct{}, 1)
	ts := startServerWith(t, testOptions{config: testConfig, capability: func(ctx context.Context, _ *admission.Request) (compat.Capability, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return compat.Capability{}, ctx.Err()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.url+"/mutate?timeout=10s", strings.NewReader(reviewBody("Pod", "", testPod)))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	// HTTP/2, as the API server calls: a canceled call resets its stream.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.ca.pool}, ForceAttemptHTTP2: true}}
	go func() {
		<-entered
		cancel()
	}()
	if _, err := client.Do(r); err == nil {
		t.Fatal("the canceled call got an answer")
	}
	client.CloseIdleConnections()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(ts.logs.String(), "review not delivered") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, `"msg":"review not delivered","status":0,`) || !strings.Contains(logs, "admission: 500 answer not delivered") || strings.Contains(logs, `"status":500`) {
		t.Errorf("logs:\n%s", logs)
	}
}

// The server's timeouts follow the webhook's: nothing of a request
// outlives the API server's wait by more than the second an answer about
// the deadline may take; HTTP/2 is bounded too.
func TestServerTimeouts(t *testing.T) {
	ts := startServer(t, testConfig, nil)
	for _, wt := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second} {
		s := newServer(serverOptions{webhook: ts.configs.Webhook, certs: ts.certs, webhookTimeout: wt, log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		h := s.http
		if h.ReadHeaderTimeout <= 0 || h.ReadHeaderTimeout > wt || h.ReadTimeout != wt || h.WriteTimeout != wt+time.Second ||
			h.IdleTimeout <= 0 || h.MaxHeaderBytes != 16<<10 {
			t.Errorf("webhook timeout %v: server timeouts header %v read %v write %v idle %v, max header bytes %d",
				wt, h.ReadHeaderTimeout, h.ReadTimeout, h.WriteTimeout, h.IdleTimeout, h.MaxHeaderBytes)
		}
		if h.HTTP2 == nil || h.HTTP2.MaxConcurrentStreams != 100 || h.HTTP2.MaxReadFrameSize != 16<<10 ||
			h.HTTP2.MaxReceiveBufferPerConnection != 1<<20 || h.HTTP2.MaxReceiveBufferPerStream != 64<<10 {
			t.Errorf("webhook timeout %v: HTTP/2 %+v", wt, h.HTTP2)
		}
	}
}

package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/sidecarkit/sidecarkit/admission"
)

// maxReview bounds a request body, like the API server's 3 MiB limit on
// objects.
const maxReview = 3 << 20

// Handler serves AdmissionReview v1 requests on two routes: /ours (the
// library's admission.Handler) and /peer (the typed decode, mutate, marshal,
// gomodules CreatePatch path). Both inject the benchmark's Spec.
func Handler() (http.Handler, error) {
	adm, err := NewAdmission()
	if err != nil {
		return nil, err
	}
	s := Spec()
	mux := http.NewServeMux()
	serve := func(admit func([]byte) ([]byte, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST an AdmissionReview", http.StatusMethodNotAllowed)
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReview))
			if err != nil {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			out, err := admit(body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
		}
	}
	// The library's own http.Handler (body limit, content type, status codes).
	mux.Handle("/ours", &admission.Handler{Webhook: adm, MaxBodyBytes: maxReview})
	mux.Handle("/peer", serve(func(b []byte) ([]byte, error) { return admissionPeer(b, &s) }))
	return mux, nil
}

// LoadOptions bound a load test.
type LoadOptions struct {
	// Duration is how long each route is loaded in each round.
	Duration time.Duration
	// Rounds alternate the routes: ours, peer, ours, peer, ...
	Rounds int
	// Concurrency is the number of client connections.
	Concurrency int
	// MaxRequests bounds the requests of one route in one round.
	MaxRequests int
	// TLS serves HTTPS (HTTP/1.1 over TLS 1.2 or later: 1.3 between Go's
	// client and server), as the API server calls webhooks, with a
	// self-signed certificate made for the test (ECDSA P-256; the client
	// trusts it alone) and keep-alive connections.
	TLS bool
}

// LoadResult is what one route sustained.
type LoadResult struct {
	Route    string
	Requests int
	Errors   int
	Elapsed  time.Duration
	// RPS is Requests / Elapsed; P50 and P99 are latency percentiles.
	RPS      float64
	P50, P99 time.Duration
}

// Load serves Handler on a loopback port and sends review to each route,
// bounded by o in time and count. It returns ours first.
func Load(ctx context.Context, review []byte, o LoadOptions) ([]LoadResult, error) {
	if o.Duration <= 0 || o.Rounds <= 0 || o.Concurrency <= 0 || o.MaxRequests <= 0 {
		return nil, errors.New("bench: load: every LoadOptions bound must be positive")
	}
	h, err := Handler()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: load: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	transport := &http.Transport{MaxIdleConnsPerHost: o.Concurrency, MaxConnsPerHost: o.Concurrency}
	base := "http://" + ln.Addr().String()
	if o.TLS {
		cert, pool, err := selfSigned()
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("bench: load: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		base = "https://" + ln.Addr().String()
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second, Transport: transport}
	defer client.CloseIdleConnections()

	routes := []string{"/ours", "/peer"}
	lat := make([][]time.Duration, len(routes))
	res := make([]LoadResult, len(routes))
	for i, r := range routes {
		res[i].Route = r
		// One warm-up request, which must succeed.
		if _, err := post(ctx, client, base+r, review); err != nil {
			return nil, fmt.Errorf("bench: load %s: %w", r, err)
		}
	}
	for round := 0; round < o.Rounds; round++ {
		for i, r := range routes {
			l, errs, elapsed := run(ctx, client, base+r, review, o)
			lat[i] = append(lat[i], l...)
			res[i].Errors += errs
			res[i].Elapsed += elapsed
		}
	}
	for i := range res {
		l := lat[i]
		sort.Slice(l, func(a, b int) bool { return l[a] < l[b] })
		res[i].Requests = len(l)
		if len(l) > 0 {
			res[i].P50 = l[len(l)*50/100]
			res[i].P99 = l[len(l)*99/100]
		}
		if res[i].Elapsed > 0 {
			res[i].RPS = float64(len(l)) / res[i].Elapsed.Seconds()
		}
	}
	return res, nil
}

// run loads one route for o.Duration or o.MaxRequests requests, whichever
// comes first, and returns the latencies of the successful requests.
func run(ctx context.Context, client *http.Client, url string, review []byte, o LoadOptions) ([]time.Duration, int, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		mu     sync.Mutex
		lat    = make([]time.Duration, 0, 1024)
		errs   int
		issued int
		wg     sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				if issued >= o.MaxRequests {
					mu.Unlock()
					return
				}
				issued++
				mu.Unlock()
				t0 := time.Now()
				_, err := post(ctx, client, url, review)
				d := time.Since(t0)
				mu.Lock()
				if err == nil {
					lat = append(lat, d)
				} else if ctx.Err() == nil {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat, errs, time.Since(start)
}

func post(ctx context.Context, client *http.Client, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, out)
	}
	return out, nil
}

// selfSigned returns a certificate for 127.0.0.1, valid for an hour, and
// a pool that trusts it alone.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sidecarkit-bench"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

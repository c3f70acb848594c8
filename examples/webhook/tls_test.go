package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCA writes the CA's certificate (PEM) to path, through a rename.
func (ca *testCA) writeCA(t *testing.T, path string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// issueClient returns a client certificate for cn, as the API server's
// kubeconfig for admission webhooks would hold.
func (ca *testCA) issueClient(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// With --client-ca-file, only clients with a certificate of that CA are
// served (over HTTP/2, as the API server calls); the CA file is reloaded
// like the serving certificate, and a bad one keeps the last good one.
func TestClientCertificates(t *testing.T) {
	apiserverCA := newTestCA(t)
	ts := startServerWith(t, testOptions{config: testConfig, clientCA: apiserverCA})
	post := func(cert *tls.Certificate) (*http.Response, error) {
		cfg := &tls.Config{RootCAs: ts.ca.pool}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, DisableKeepAlives: true}}
		resp, err := c.Post(ts.url+"/mutate", "application/json", strings.NewReader(reviewBody("Pod", "", testPod)))
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	served := func(name string, cert *tls.Certificate) {
		t.Helper()
		resp, err := post(cert)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
			t.Errorf("%s: %s %d, want HTTP/2 200", name, resp.Proto, resp.StatusCode)
		}
	}
	// refused checks that the server refused the handshake: the client
	// learns it as an alert or a failed connection (TLS 1.3 verifies the
	// client's certificate after the client is done), the server logs it.
	refused := func(name, why string, cert *tls.Certificate) {
		t.Helper()
		before := strings.Count(ts.logs.String(), "TLS handshake error")
		resp, err := post(cert)
		if err == nil {
			t.Errorf("%s: served (%d), want the handshake refused", name, resp.StatusCode)
			return
		}
		// The server logs after the client has learnt of it.
		for deadline := time.Now().Add(10 * time.Second); strings.Count(ts.logs.String(), "TLS handshake error") == before && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(ts.logs.String(), why) || strings.Count(ts.logs.String(), "TLS handshake error") != before+1 {
			t.Errorf("%s: client error %v; the server did not log a handshake error %q:\n%s", name, err, why, ts.logs)
		}
	}
	good := apiserverCA.issueClient(t, "kube-apiserver")
	refused("no client certificate", "client didn't provide a certificate", nil)
	other := newTestCA(t).issueClient(t, "kube-apiserver")
	refused("a certificate of another CA", "certificate signed by unknown authority", &other)
	served("the API server's certificate", &good)

	// A new CA replaces the old one.
	rotated := newTestCA(t)
	rotated.writeCA(t, filepath.Join(ts.dir, "client-ca.crt"))
	bumpFile(t, filepath.Join(ts.dir, "client-ca.crt"))
	ts.certs.check()
	refused("the old CA's certificate after rotation", "certificate signed by unknown authority", &good)
	fresh := rotated.issueClient(t, "kube-apiserver")
	served("the new CA's certificate", &fresh)

	// A bad CA file keeps the last good one.
	if err := os.WriteFile(filepath.Join(ts.dir, "client-ca.crt"), []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	bumpFile(t, filepath.Join(ts.dir, "client-ca.crt"))
	ts.certs.check()
	served("the new CA's certificate after a bad write", &fresh)
	if !strings.Contains(ts.logs.String(), "load client CA: "+filepath.Join(ts.dir, "client-ca.crt")+": no PEM certificates") {
		t.Errorf("no log of the bad CA file:\n%s", ts.logs)
	}
}

// bumpFile moves a file's mtime forward (see bump).
func bumpFile(t *testing.T, path string) {
	t.Helper()
	bumps++
	when := time.Now().Add(time.Duration(bumps) * time.Minute)
	if err := os.Chtimes(path, when, when); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
)

// certReloader serves the certificate in certFile/keyFile and, with a
// clientCAFile, requires and verifies client certificates signed by one of
// its CAs. It reloads the files when they change (cert-manager and kubelet
// secret projection replace them in place): check, which watch calls every
// interval, reads them (regular files of at most maxFileBytes) and swaps
// what it built in atomically, so TLS handshakes never wait for it. Files
// that fail to load keep the last good ones in use.
type certReloader struct {
	certFile, keyFile, clientCAFile string
	onReload                        func(err error)

	cert atomic.Pointer[tls.Certificate]
	// client is the TLS configuration of a handshake when clientCAFile
	// is set: client certificates required and verified against its CAs.
	client atomic.Pointer[tls.Config]

	mu    sync.Mutex // serialises checks; handshakes never take it
	stamp string     // the files' sizes and mtimes when loaded
}

func newCertReloader(certFile, keyFile, clientCAFile string, onReload func(error)) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, clientCAFile: clientCAFile, onReload: onReload}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) files() []string {
	if r.clientCAFile == "" {
		return []string{r.certFile, r.keyFile}
	}
	return []string{r.certFile, r.keyFile, r.clientCAFile}
}

// load reads the files when they changed since the last load. Callers hold
// mu, or own r.
func (r *certReloader) load() error {
	stamp, err := fileStamp(r.files())
	if err != nil {
		return err
	}
	if stamp == r.stamp && r.cert.Load() != nil {
		return nil
	}
	certPEM, err := readFile(r.certFile)
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	keyPEM, err := readFile(r.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	var client *tls.Config
	if r.clientCAFile != "" {
		caPEM, err := readFile(r.clientCAFile)
		if err != nil {
			return fmt.Errorf("load client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return fmt.Errorf("load client CA: %s: no PEM certificates", r.clientCAFile)
		}
		client = &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: r.GetCertificate,
			// The server's own configuration is not used for this
			// handshake, so this one names its protocols itself.
			NextProtos: []string{"h2", "http/1.1"},
			ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs:  pool,
			// A resumed session skips the verification, and its ticket
			// would outlive a change of CA.
			SessionTicketsDisabled: true,
		}
	}
	r.cert.Store(&cert)
	if client != nil {
		r.client.Store(client)
	}
	r.stamp = stamp
	return nil
}

// check reloads the files when they changed and reports a reload, or its
// failure, to onReload.
func (r *certReloader) check() { checkFiles(&r.mu, &r.stamp, r.load, r.onReload) }

// GetCertificate is the tls.Config hook.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// TLSConfig is the server's TLS configuration: the reloaded certificate,
// and with a client CA file, client certificates required and verified.
func (r *certReloader) TLSConfig() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	if r.clientCAFile != "" {
		// Each handshake takes the configuration GetConfigForClient
		// returns; should none come, this one admits no client either.
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, x509.NewCertPool()
		c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return r.client.Load(), nil }
	}
	return c
}

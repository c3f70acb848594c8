package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in certFile/keyFile and reloads it
// when either file changes (cert-manager and kubelet secret projection
// replace the files in place). Files are checked at most once per
// interval, on a TLS handshake; a pair that fails to load keeps the last
// good certificate in use.
type certReloader struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	onReload          func(err error)

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' sizes and mtimes when loaded
	checked time.Time
}

func newCertReloader(certFile, keyFile string, interval time.Duration, onReload func(error)) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, interval: interval, now: time.Now, onReload: onReload}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) fileStamp() (string, error) {
	c, err := os.Stat(r.certFile)
	if err != nil {
		return "", err
	}
	k, err := os.Stat(r.keyFile)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d/%d/%d/%d", c.Size(), c.ModTime().UnixNano(), k.Size(), k.ModTime().UnixNano()), nil
}

// load reads the pair when the files changed since the last load.
func (r *certReloader) load() error {
	stamp, err := r.fileStamp()
	if err != nil {
		return err
	}
	if stamp == r.stamp && r.cert != nil {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	r.cert, r.stamp = &cert, stamp
	return nil
}

// GetCertificate is the tls.Config hook.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= r.interval {
		r.checked = now
		old := r.stamp
		err := r.load()
		if (err != nil || r.stamp != old) && r.onReload != nil {
			r.onReload(err)
		}
	}
	return r.cert, nil
}

package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI holds the certificates and keys of a test cluster, as PEM and as files
// in the cluster's directory. All certificates are signed by one CA.
type PKI struct {
	// CACert is the CA certificate (PEM): the apiserver's client CA, the
	// webhook caBundle, and the root clients trust.
	CACert []byte
	CAFile string

	// Serving certificate of kube-apiserver (SANs 127.0.0.1, localhost).
	APIServerCertFile, APIServerKeyFile string

	// Serving certificate for webhooks (SANs 127.0.0.1, localhost), also usable
	// by an out-of-process webhook server.
	WebhookCert, WebhookKey         []byte
	WebhookCertFile, WebhookKeyFile string

	// Admin client certificate (O=system:masters).
	AdminCert, AdminKey []byte

	// Service-account token key pair.
	ServiceAccountPublicKeyFile, ServiceAccountPrivateKeyFile string
}

// WebhookTLSConfig returns a server TLS configuration with the webhook
// serving certificate.
func (p *PKI) WebhookTLSConfig() (*tls.Config, error) {
	cert, err := tls.X509KeyPair(p.WebhookCert, p.WebhookKey)
	if err != nil {
		return nil, fmt.Errorf("load webhook key pair: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

type certKey struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	keyPEM  []byte
}

// NewPKI generates the certificates and keys of a PKI into dir without a
// cluster, for tests that serve TLS on their own (e2e/hostile).
func NewPKI(dir string) (*PKI, error) { return newPKI(dir) }

// newPKI generates all certificates and keys and writes them into dir.
func newPKI(dir string) (*PKI, error) {
	now := time.Now()
	ca, err := newCert(nil, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "sidecarkit-e2e-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	})
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	serving := func(cn string) (*certKey, error) {
		return newCert(ca, &x509.Certificate{
			Subject:     pkix.Name{CommonName: cn},
			NotBefore:   now.Add(-time.Hour),
			NotAfter:    now.Add(7 * 24 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:    []string{"localhost"},
		})
	}
	apiserver, err := serving("kube-apiserver")
	if err != nil {
		return nil, fmt.Errorf("create apiserver serving certificate: %w", err)
	}
	webhook, err := serving("sidecarkit-e2e-webhook")
	if err != nil {
		return nil, fmt.Errorf("create webhook serving certificate: %w", err)
	}
	admin, err := newCert(ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "sidecarkit-e2e-admin", Organization: []string{"system:masters"}},
		NotBefore:   now.Add(-time.Hour),
		NotAfter:    now.Add(7 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("create admin client certificate: %w", err)
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate service-account key: %w", err)
	}
	saPriv, err := x509.MarshalPKCS8PrivateKey(saKey)
	if err != nil {
		return nil, fmt.Errorf("marshal service-account private key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("marshal service-account public key: %w", err)
	}

	p := &PKI{
		CACert:      ca.certPEM,
		WebhookCert: webhook.certPEM,
		WebhookKey:  webhook.keyPEM,
		AdminCert:   admin.certPEM,
		AdminKey:    admin.keyPEM,
	}
	files := []struct {
		path *string
		name string
		data []byte
	}{
		{&p.CAFile, "ca.crt", ca.certPEM},
		{&p.APIServerCertFile, "apiserver.crt", apiserver.certPEM},
		{&p.APIServerKeyFile, "apiserver.key", apiserver.keyPEM},
		{&p.WebhookCertFile, "webhook.crt", webhook.certPEM},
		{&p.WebhookKeyFile, "webhook.key", webhook.keyPEM},
		{&p.ServiceAccountPublicKeyFile, "sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub})},
		{&p.ServiceAccountPrivateKeyFile, "sa.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: saPriv})},
	}
	for _, f := range files {
		*f.path = filepath.Join(dir, f.name)
		if err := os.WriteFile(*f.path, f.data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	return p, nil
}

// newCert creates an ECDSA P-256 key and a certificate from tmpl, signed by
// parent (self-signed when parent is nil).
func newCert(parent *certKey, tmpl *x509.Certificate) (*certKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	signerCert, signerKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key of %q: %w", tmpl.Subject.CommonName, err)
	}
	return &certKey{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:     key,
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// These tests need no binaries and always run.

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.CACert) {
		t.Fatal("CA certificate does not parse")
	}
	for _, tc := range []struct {
		name      string
		certFile  string
		usage     x509.ExtKeyUsage
		dnsName   string
		wantOrgIn string
	}{
		{name: "apiserver", certFile: p.APIServerCertFile, usage: x509.ExtKeyUsageServerAuth, dnsName: "127.0.0.1"},
		{name: "apiserver localhost", certFile: p.APIServerCertFile, usage: x509.ExtKeyUsageServerAuth, dnsName: "localhost"},
		{name: "webhook", certFile: p.WebhookCertFile, usage: x509.ExtKeyUsageServerAuth, dnsName: "127.0.0.1"},
	} {
		cert := readCert(t, tc.certFile)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: tc.dnsName, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	block, _ := pem.Decode(p.AdminCert)
	admin, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin: %v", err)
	}
	if len(admin.Subject.Organization) != 1 || admin.Subject.Organization[0] != "system:masters" {
		t.Errorf("admin organization %v, want [system:masters]", admin.Subject.Organization)
	}
	if _, err := tls.X509KeyPair(p.AdminCert, p.AdminKey); err != nil {
		t.Errorf("admin key pair: %v", err)
	}
	if _, err := p.WebhookTLSConfig(); err != nil {
		t.Errorf("webhook TLS config: %v", err)
	}
	for _, f := range []string{p.ServiceAccountPublicKeyFile, p.ServiceAccountPrivateKeyFile, p.APIServerKeyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestResolve(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvCache, cache)
	t.Setenv(EnvKubeVersion, "v1.32.13")
	t.Setenv(EnvEtcdVersion, "")
	t.Setenv(EnvKubeAPIServer, "")
	t.Setenv(EnvEtcd, "")
	t.Setenv(EnvFeatureGates, "SidecarContainers=false, Foo=true")
	t.Setenv(EnvAPIServerFlags, "--v=2  --profiling=false")

	_, err := Options{}.Resolve()
	if !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Resolve without binaries: %v, want ErrNotBuilt", err)
	}
	for _, name := range []string{"kube-apiserver-v1.32.13", "etcd-" + DefaultEtcdVersion} {
		if err := os.WriteFile(filepath.Join(cache, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o, err := Options{FeatureGates: map[string]bool{"Foo": false}, ExtraAPIServerFlags: []string{"--v=4"}}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "kube-apiserver-v1.32.13"); o.KubeAPIServer != want {
		t.Errorf("KubeAPIServer %s, want %s", o.KubeAPIServer, want)
	}
	if got, want := featureGatesFlag(o.FeatureGates), "Foo=false,SidecarContainers=false"; got != want {
		t.Errorf("feature gates %q, want %q", got, want)
	}
	if enabled, set := o.FeatureGate("SidecarContainers"); enabled || !set {
		t.Errorf("FeatureGate(SidecarContainers) = %v, %v; want false, true", enabled, set)
	}
	if got, want := o.ExtraAPIServerFlags, []string{"--v=2", "--profiling=false", "--v=4"}; !slices.Equal(got, want) {
		t.Errorf("extra flags %q, want %q", got, want)
	}

	t.Setenv(EnvFeatureGates, "SidecarContainers")
	if _, err := (Options{}).Resolve(); err == nil {
		t.Error("Resolve accepted a feature gate without a value")
	}
}

// TestResolveAgreesWithBuildScript: without overrides, Resolve names the
// binaries build.sh --print names (build.sh decides them; the defaults here
// must follow it).
func TestResolveAgreesWithBuildScript(t *testing.T) {
	cache := t.TempDir()
	t.Setenv(EnvCache, cache)
	for _, env := range []string{EnvKubeVersion, EnvEtcdVersion, EnvKubeAPIServer, EnvEtcd} {
		t.Setenv(env, "")
	}
	cmd := exec.Command("bash", filepath.Join("..", "build.sh"), "--print")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("build.sh --print with an empty cache: %v, want exit status 3", err)
	}
	o, err := Options{}.Resolve()
	if !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Resolve with an empty cache: %v, want ErrNotBuilt", err)
	}
	want := "KUBE_APISERVER=" + o.KubeAPIServer + "\nETCD=" + o.Etcd + "\n"
	if string(out) != want {
		t.Errorf("build.sh --print:\n%s\nResolve:\n%s", out, want)
	}
}

func TestNamespacePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"TestSmoke":             "testsmoke",
		"TestSmoke/sub_test#01": "testsmoke-sub-test-01",
		"Test_A_very_long_name_that_goes_on_and_on_and_on": "test-a-very-long-name-that-goes-on-and-o",
		"///": "e2e",
	} {
		if got := namespacePrefix(in); got != want {
			t.Errorf("namespacePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// A Shared that Main did not start skips a test, with the reason, and
// fails it in require-mode.
func TestSharedGetWithoutCluster(t *testing.T) {
	for _, require := range []string{"", "1"} {
		t.Setenv(EnvRequire, require)
		var s Shared
		s.err = errors.New("set SIDECARKIT_E2E=1")
		var skipped, failed bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			ft := &fakeTB{}
			defer func() { skipped, failed = ft.skipped, ft.failed; recover() }()
			s.Get(ft)
		}()
		<-done
		if want := require == ""; skipped != want || failed == want {
			t.Errorf("require %q: skipped %v, failed %v", require, skipped, failed)
		}
		if s.Cluster() != nil {
			t.Error("Cluster() is not nil")
		}
	}
}

// fakeTB records Skipf and Fatalf, which end the goroutine as
// testing.T's do (by a panic here, recovered by the caller).
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(string, ...any) {
	f.skipped = true
	panic("skip")
}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}

package cluster

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// ForTest starts a cluster for t and stops it in t.Cleanup. It skips t unless
// $SIDECARKIT_E2E is "1" and the binaries exist; with
// $SIDECARKIT_E2E_REQUIRE=1 those skips become failures. Progress goes to
// t.Logf unless opts.Logf is set; when t fails, the tail of the apiserver log
// is logged before the cluster stops.
func ForTest(t testing.TB, opts Options) *Cluster {
	t.Helper()
	skip := t.Skipf
	if os.Getenv(EnvRequire) == "1" {
		skip = t.Fatalf
	}
	if os.Getenv(EnvEnable) != "1" {
		skip("e2e: set %s=1 to run against a real kube-apiserver (e2e/run.sh builds the binaries and does so)", EnvEnable)
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	resolved, err := opts.Resolve()
	if errors.Is(err, ErrNotBuilt) {
		skip("e2e: %v; build them with e2e/build.sh (cache dir $%s, default ~/.cache/sidecarkit-e2e)", err, EnvCache)
	}
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolved.StartTimeout)
	defer cancel()
	c, err := Start(ctx, resolved)
	if err != nil {
		t.Fatalf("e2e: start cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("e2e: last kube-apiserver log lines:\n%s", c.APIServerLog(40))
		}
		if err := c.Stop(); err != nil {
			t.Errorf("e2e: stop cluster: %v", err)
		}
		t.Logf("e2e: cluster stopped in %v", c.Timings.Stop.Round(time.Millisecond))
	})
	return c
}

// TestNamespace creates a namespace named after t (see CreateNamespace) and
// fails t on error.
func (c *Cluster) TestNamespace(t testing.TB, labels map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := c.CreateNamespace(ctx, namespacePrefix(t.Name()), labels)
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	return ns
}

var nonDNS = regexp.MustCompile(`[^a-z0-9]+`)

// namespacePrefix turns a test name into a DNS label prefix of at most 40
// characters.
func namespacePrefix(name string) string {
	p := strings.Trim(nonDNS.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(p) > 40 {
		p = strings.TrimRight(p[:40], "-")
	}
	if p == "" {
		p = "e2e"
	}
	return p
}

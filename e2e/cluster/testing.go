package cluster

import (
	"context"
	"errors"
	"fmt"
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

// Shared is one cluster that all the tests of a package use, started once
// by the package's TestMain (a start takes a few seconds):
//
//	var shared cluster.Shared
//
//	func TestMain(m *testing.M) { os.Exit(shared.Main(m, nil)) }
//
//	func TestSomething(t *testing.T) {
//		c := shared.Get(t)
//		...
//	}
type Shared struct {
	c   *Cluster
	err error // why c is nil
}

// Main starts the cluster when $SIDECARKIT_E2E is "1" and the binaries
// are built (otherwise the tests run and Get skips them, or fails them in
// require-mode), runs before with the resolved options (when before is
// non-nil: to build what the tests run; an error ends the run), runs the
// tests, and stops the cluster, printing the tail of the apiserver log
// when a test failed. It returns the exit code for os.Exit.
func (s *Shared) Main(m *testing.M, before func(Options) error) int {
	if os.Getenv(EnvEnable) != "1" {
		s.err = fmt.Errorf("set %s=1 to run against a real kube-apiserver (e2e/run.sh builds the binaries and does so)", EnvEnable)
		return m.Run()
	}
	opts, err := Options{}.Resolve()
	if errors.Is(err, ErrNotBuilt) {
		s.err = fmt.Errorf("%v; build them with e2e/build.sh", err)
		return m.Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	if before != nil {
		if err := before(opts); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	c, err := Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start cluster: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: kube-apiserver %s (feature gates %v) ready in %v\n",
		opts.KubeVersion, opts.FeatureGates, c.Timings.Start.Round(time.Millisecond))
	s.c = c
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: last kube-apiserver log lines:\n%s\n", c.APIServerLog(40))
	}
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stop cluster: %v\n", err)
		code = 1
	}
	return code
}

// Get returns the shared cluster, or skips t (fails it with
// $SIDECARKIT_E2E_REQUIRE=1) when Main started none.
func (s *Shared) Get(t testing.TB) *Cluster {
	t.Helper()
	if s.c == nil {
		err := s.err
		if err == nil {
			err = errors.New("no shared cluster: the package's TestMain does not call Shared.Main")
		}
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("e2e: %v", err)
		}
		t.Skipf("e2e: %v", err)
	}
	return s.c
}

// Cluster returns the shared cluster, nil when Main started none.
func (s *Shared) Cluster() *Cluster { return s.c }

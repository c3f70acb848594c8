// Package policy_test checks the admission policies package policy compiles
// (docs/policy.md) against a real kube-apiserver: the API server itself
// injects the sidecar, and the stored objects must equal what the library
// injects into the same objects.
package policy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

var (
	shared   *cluster.Cluster
	setupErr error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(cluster.EnvEnable) != "1" {
		setupErr = fmt.Errorf("set %s=1 to run against a real kube-apiserver (e2e/run.sh builds the binaries and does so)", cluster.EnvEnable)
		return m.Run()
	}
	opts, err := cluster.Options{}.Resolve()
	if errors.Is(err, cluster.ErrNotBuilt) {
		setupErr = fmt.Errorf("%v; build them with e2e/build.sh", err)
		return m.Run()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	c, err := cluster.Start(ctx, opts)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start cluster: %v\n", err)
		return 1
	}
	shared = c
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

// env returns the shared cluster, or skips t (fails it with
// SIDECARKIT_E2E_REQUIRE=1) when there is none. It skips, also in
// require-mode, when the API server does not serve
// admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (before 1.36:
// the v1.32 leg, where it is alpha and off), since the test does not
// apply to that leg (e2e/run.sh fails a test that no leg runs).
func env(t testing.TB) *cluster.Cluster {
	t.Helper()
	if shared == nil {
		if os.Getenv(cluster.EnvRequire) == "1" {
			t.Fatalf("e2e: %v", setupErr)
		}
		t.Skipf("e2e: %v", setupErr)
	}
	ok, err := servesV1(shared)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if !ok {
		t.Skipf("kube-apiserver %s does not serve admissionregistration.k8s.io/v1 mutatingadmissionpolicies (GA and on by default from 1.36; docs/policy.md)", shared.Options().KubeVersion)
	}
	return shared
}

func servesV1(c *cluster.Cluster) (bool, error) {
	l, err := c.Client().Discovery().ServerResourcesForGroupVersion("admissionregistration.k8s.io/v1")
	if err != nil {
		return false, err
	}
	for _, r := range l.APIResources {
		if r.Name == "mutatingadmissionpolicies" {
			return true, nil
		}
	}
	return false, nil
}

// timeout bounds each test's requests.
const timeout = 2 * time.Minute

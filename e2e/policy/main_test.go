// Package policy_test checks the admission policies package policy compiles
// (docs/policy.md) against a real kube-apiserver: the API server itself
// injects the sidecar, and the stored objects must equal what the library
// injects into the same objects.
package policy_test

import (
	"os"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

// shared is the cluster every test of this package uses.
var shared cluster.Shared

func TestMain(m *testing.M) { os.Exit(shared.Main(m, nil)) }

// env returns the shared cluster, or skips t (fails it with
// SIDECARKIT_E2E_REQUIRE=1) when there is none. It skips, also in
// require-mode, when the API server does not serve
// admissionregistration.k8s.io/v1 MutatingAdmissionPolicy (before 1.36:
// the v1.32 leg, where it is alpha and off), since the test does not
// apply to that leg (e2e/run.sh fails a test that no leg runs).
func env(t testing.TB) *cluster.Cluster {
	t.Helper()
	c := shared.Get(t)
	ok, err := servesV1(c)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if !ok {
		t.Skipf("kube-apiserver %s does not serve admissionregistration.k8s.io/v1 mutatingadmissionpolicies (GA and on by default from 1.36; docs/policy.md)", c.Options().KubeVersion)
	}
	return c
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

package injection_test

import (
	"os"
	"testing"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

// shared is the cluster every test of this package uses: one start (~3 s)
// instead of one per test.
var shared cluster.Shared

func TestMain(m *testing.M) {
	code := shared.Main(m, nil)
	if oldWebhookDir != "" {
		os.RemoveAll(oldWebhookDir)
	}
	os.Exit(code)
}

// env returns the shared cluster, or skips t (fails it with
// SIDECARKIT_E2E_REQUIRE=1) when there is none.
func env(t *testing.T) *cluster.Cluster { return shared.Get(t) }

// gateOff reports whether the cluster runs with SidecarContainers=false (the
// v1.32 leg), where the API server drops restartPolicy from init containers.
func gateOff(c *cluster.Cluster) bool {
	enabled, set := c.Options().FeatureGate("SidecarContainers")
	return set && !enabled
}

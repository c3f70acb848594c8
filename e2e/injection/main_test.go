package injection_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

// shared is the cluster every test of this package uses: one start (~3 s)
// instead of one per test. Nil when the e2e environment is absent; setupErr
// says why.
var (
	shared   *cluster.Cluster
	setupErr error
)

func TestMain(m *testing.M) {
	code := run(m)
	if oldWebhookDir != "" {
		os.RemoveAll(oldWebhookDir)
	}
	os.Exit(code)
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
	fmt.Fprintf(os.Stderr, "e2e: kube-apiserver %s (feature gates %v) ready in %v\n",
		opts.KubeVersion, opts.FeatureGates, c.Timings.Start.Round(time.Millisecond))
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
// SIDECARKIT_E2E_REQUIRE=1) when there is none.
func env(t *testing.T) *cluster.Cluster {
	t.Helper()
	if shared == nil {
		if os.Getenv(cluster.EnvRequire) == "1" {
			t.Fatalf("e2e: %v", setupErr)
		}
		t.Skipf("e2e: %v", setupErr)
	}
	return shared
}

// gateOff reports whether the cluster runs with SidecarContainers=false (the
// v1.32 leg), where the API server drops restartPolicy from init containers.
func gateOff(c *cluster.Cluster) bool {
	enabled, set := c.Options().FeatureGate("SidecarContainers")
	return set && !enabled
}

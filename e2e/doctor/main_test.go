// Package doctor_test runs `sidecarctl doctor cluster` and `doctor pod`,
// built from examples/sidecarctl, against a real kube-apiserver: Node
// objects of several pools, a webhook built with k8s.io/api v0.27 that
// strips restartPolicy (e2e/stripwebhook), and Pods stored through it.
// It has a cluster of its own: the report covers every node and webhook
// of the cluster, so no other test's may appear.
package doctor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

var (
	shared   *cluster.Cluster
	setupErr error
	binDir   string // built binaries, removed by TestMain
)

func TestMain(m *testing.M) {
	code := run(m)
	if binDir != "" {
		os.RemoveAll(binDir)
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
	if binDir, err = os.MkdirTemp("", "sidecarkit-doctor-"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	for _, b := range []struct{ dir, pkg, out string }{
		{"../../examples", "./sidecarctl", "sidecarctl"},
		{"../stripwebhook", ".", "stripwebhook"},
	} {
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg)
		cmd.Dir = b.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build %s in %s: %v\n%s", b.pkg, b.dir, err, out)
			return 1
		}
		fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", b.out, time.Since(start).Round(time.Millisecond))
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

// env returns the cluster, or skips t (fails it with
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

// gateOff reports whether the cluster runs with SidecarContainers=false.
func gateOff(c *cluster.Cluster) bool {
	enabled, set := c.Options().FeatureGate("SidecarContainers")
	return set && !enabled
}

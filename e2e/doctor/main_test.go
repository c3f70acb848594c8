// Package doctor_test runs `sidecarctl doctor cluster` and `doctor pod`,
// built from examples/sidecarctl, against a real kube-apiserver: Node
// objects of several pools, a webhook built with k8s.io/api v0.27 that
// strips restartPolicy (e2e/stripwebhook), and Pods stored through it.
// It has a cluster of its own: the report covers every node and webhook
// of the cluster, so no other test's may appear.
package doctor_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

var (
	shared cluster.Shared
	binDir string // built binaries, removed by TestMain
)

func TestMain(m *testing.M) {
	code := shared.Main(m, build)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// build builds sidecarctl and the field-stripping webhook into binDir.
func build(cluster.Options) error {
	var err error
	if binDir, err = os.MkdirTemp("", "sidecarkit-doctor-"); err != nil {
		return err
	}
	for _, b := range []struct{ dir, pkg, out string }{
		{"../../examples", "./sidecarctl", "sidecarctl"},
		{"../stripwebhook", ".", "stripwebhook"},
	} {
		start := time.Now()
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, b.out), b.pkg)
		cmd.Dir = b.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s in %s: %v\n%s", b.pkg, b.dir, err, out)
		}
		fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", b.out, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// env returns the cluster, or skips t (fails it with
// SIDECARKIT_E2E_REQUIRE=1) when there is none.
func env(t *testing.T) *cluster.Cluster { return shared.Get(t) }

// gateOff reports whether the cluster runs with SidecarContainers=false.
func gateOff(c *cluster.Cluster) bool {
	enabled, set := c.Options().FeatureGate("SidecarContainers")
	return set && !enabled
}

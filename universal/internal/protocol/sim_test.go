package protocol_test

import (
	"flag"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/universal/internal/kubesim"
)

var depth = flag.Int("protocol.depth", 1, "bound of TestSimulation: at most `N` crashes and N+1 sandbox re-creations per run (1, the default, takes seconds; 0 with -short; 2 about 14 million states, a minute and 2.5 GB)")

// TestSimulation explores, for every node kind, Pod restartPolicy and Pod
// shape (with and without an ordinary init container after the native
// twin), every interleaving of kubelet actions, handshake steps, crashes,
// sandbox re-creations (with fresh or reused identities) and Pod deletion
// up to the -protocol.depth bound, running the production Decide and
// marker logic, and checks the properties listed in package kubesim: the
// Pod leaves Init on Strip and native nodes, never two twins run the
// sidecar, once one ran it one runs it until termination (but while it
// recovers from a fault), on native nodes the application never runs
// before the native twin acts and Job Pods complete, a sandbox
// re-creation never hangs Init, and a rejecting node rejects (the pair
// does not help there) rather than hangs. Run with -v to see the counts.
func TestSimulation(t *testing.T) {
	d := *depth
	if testing.Short() && !flagSet("protocol.depth") {
		d = 0
	}
	if d < 0 {
		t.Fatalf("-protocol.depth=%d: want 0 or more", d)
	}
	start := time.Now()
	var states, transitions int64
	t.Cleanup(func() {
		t.Logf("depth %d (crashes ≤ %d, re-creations ≤ %d): %d states, %d transitions explored in %v",
			d, d, d+1, atomic.LoadInt64(&states), atomic.LoadInt64(&transitions), time.Since(start).Round(time.Millisecond))
	})
	for _, kind := range kubesim.Kinds() {
		for _, policy := range []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever} {
			for _, extra := range []bool{false, true} {
				kind, policy := kind, policy // go 1.20: the closure runs after the loop moved on
				cfg := kubesim.Config{Kind: kind, RestartPolicy: policy, ExtraInit: extra, Faults: d, Recreations: d + 1, Delete: true}
				t.Run(fmt.Sprintf("%s/%s/init=%v", kind, policy, extra), func(t *testing.T) {
					t.Parallel()
					res, err := kubesim.Explore(cfg)
					if err != nil {
						t.Fatal(err)
					}
					atomic.AddInt64(&states, int64(res.States))
					atomic.AddInt64(&transitions, int64(res.Transitions))
					t.Logf("%s: %d states, %d transitions", cfg, res.States, res.Transitions)
					for _, v := range res.Violations {
						t.Errorf("%s", v)
					}
					job := policy != corev1.RestartPolicyAlways
					switch kind {
					case kubesim.Reject:
						if !res.Rejected || res.States != 1 {
							t.Errorf("want the Pod rejected at kubelet admission and nothing else; rejected=%v states=%d", res.Rejected, res.States)
						}
					case kubesim.Strip:
						if res.Succeeded {
							t.Errorf("a Pod completed on an old node; the model changed: update the documented limitation")
						}
					default:
						if job && !res.Succeeded {
							t.Errorf("the Job Pod never succeeds on a native node")
						}
					}
				})
			}
		}
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

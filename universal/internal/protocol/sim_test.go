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

var depth = flag.Int("protocol.depth", 1, "bound of TestSimulation (kubesim.Suite): at most `N` faults and N+1 sandbox re-creations per run, and the kubelet restart, lost directory and upgrade families (1, the default; 0 with -short; 2, the deep check: about 116 million states, 6 to 15 minutes, 8 GB, -timeout=2h)")

// TestSimulation explores kubesim.Suite(-protocol.depth): for every node
// kind, Pod restartPolicy and Pod shape (with and without an ordinary init
// container after the native twin), every interleaving of kubelet actions,
// handshake steps, faults (crashes, probe kills, identity read failures),
// sandbox re-creations (with fresh or reused identities, some emptying the
// handshake directory), kubelet restarts, in-place kubelet upgrades and
// Pod deletion up to the bound, running the production Decide and marker
// logic, and checks the properties listed in package kubesim: never two
// twins run the sidecar, the Pod leaves Init, once one twin ran it one
// runs it until termination (but while it recovers from a fault), on
// native nodes the application never runs before the native twin acts,
// the Pod gets Ready and Job Pods complete (but where package kubesim
// excuses a legacy claim no twin could avoid), and a rejecting node
// rejects (the pair does not help there) rather than hangs. Run with -v
// to see the counts.
func TestSimulation(t *testing.T) {
	d := *depth
	if testing.Short() && !flagSet("protocol.depth") {
		d = 0
	}
	if d < 0 {
		t.Fatalf("-protocol.depth=%d: want 0 or more", d)
	}
	start := time.Now()
	type count struct{ states, transitions int64 }
	counts := map[kubesim.Family]*count{}
	for _, f := range kubesim.Families() {
		counts[f] = &count{}
	}
	t.Cleanup(func() {
		var all count
		for _, f := range kubesim.Families() {
			c := counts[f]
			t.Logf("depth %d, family %s: %d states, %d transitions", d, f, atomic.LoadInt64(&c.states), atomic.LoadInt64(&c.transitions))
			all.states += atomic.LoadInt64(&c.states)
			all.transitions += atomic.LoadInt64(&c.transitions)
		}
		t.Logf("depth %d: %d states, %d transitions explored in %v", d, all.states, all.transitions, time.Since(start).Round(time.Millisecond))
	})
	for _, cfg := range kubesim.Suite(d) {
		cfg := cfg // go 1.20: the closure runs after the loop moved on
		name := fmt.Sprintf("%s/%s/%s/init=%v", cfg.Family, cfg.Kind, cfg.RestartPolicy, cfg.ExtraInit)
		if cfg.Upgrade {
			name += "/to=" + cfg.To.String()
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res, err := kubesim.Explore(cfg)
			if err != nil {
				t.Fatal(err)
			}
			atomic.AddInt64(&counts[cfg.Family].states, int64(res.States))
			atomic.AddInt64(&counts[cfg.Family].transitions, int64(res.Transitions))
			t.Logf("%s: %d states, %d transitions", cfg, res.States, res.Transitions)
			for _, v := range res.Violations {
				t.Errorf("%s", v)
			}
			job := cfg.RestartPolicy != corev1.RestartPolicyAlways
			switch {
			case cfg.Kind == kubesim.Reject:
				if !res.Rejected || res.States != 1 {
					t.Errorf("want the Pod rejected at kubelet admission and nothing else; rejected=%v states=%d", res.Rejected, res.States)
				}
			case cfg.Kind == kubesim.Strip && !cfg.Upgrade:
				if res.Succeeded {
					t.Errorf("a Pod completed on an old node; the model changed: update the documented limitation")
				}
			case cfg.Kind != kubesim.Strip:
				if job && !res.Succeeded {
					t.Errorf("the Job Pod never succeeds on a native node")
				}
			case cfg.To != kubesim.Reject:
				// An in-place upgrade from an old kubelet: the legacy
				// twin hands over, and the Job Pod can complete.
				if job && !res.Succeeded {
					t.Errorf("the Job Pod never succeeds after an in-place upgrade to a native kubelet")
				}
			}
		})
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

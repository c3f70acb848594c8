package node

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// TestHostNetworkPair runs a universal Pod with hostNetwork, whose network
// namespace (and so its cookie) is the node's: the twins add the sandbox
// token that the first of them creates in the sandbox's /dev/shm
// (docs/universal.md, "Sandbox identity"). Both twins must compute the same
// key, with a token, and exactly one serves; after the sandbox is killed
// and re-created the key must differ (a new /dev/shm, a new token) and
// again exactly one twin serves. The sidecar binds port 9090 of the
// node.
func TestHostNetworkPair(t *testing.T) {
	kubelets, images := prerequisites(t)
	c := cluster.ForTest(t, cluster.Options{})
	ns := c.TestNamespace(t, nil)
	for i, k := range kinds {
		i, k := i, k
		if k.rejects {
			continue
		}
		t.Run(k.name+"-"+k.version, func(t *testing.T) {
			bin, ok := kubelets[k.version]
			if !ok {
				if os.Getenv(EnvRequire) == "1" {
					t.Fatalf("no kubelet %s in $%s", k.version, EnvKubelets)
				}
				t.Skipf("no kubelet %s in $%s", k.version, EnvKubelets)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			n, err := Start(ctx, c, Options{
				Name: "node-hn-" + k.name, Index: 16 + i, Kubelet: bin, Version: k.version, FeatureGates: k.gates,
				Images: []string{filepath.Join(images, "pause.tar"), filepath.Join(images, "nodetest.tar")},
				LogDir: os.Getenv(EnvLogs), Logf: t.Logf,
			})
			if err != nil {
				t.Fatalf("start node: %v", err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("last kubelet log lines:\n%s", n.KubeletLog(40))
				}
				sctx, scancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer scancel()
				if err := n.Stop(sctx); err != nil {
					t.Errorf("stop node: %v", err)
				}
			}()
			e := &env{t: t, c: c, n: n, ns: ns, kind: k}
			e.hostNetwork(t)
		})
	}
}

// keyRE finds the sandbox key and its description in a handshake log line.
var keyRE = regexp.MustCompile(`twin, sandbox ([0-9a-f]+) \(([^)]*)\)`)

// keys returns the sandbox keys (with their descriptions) in a twin's log
// lines stamped at since or later.
func (e *env) keys(t *testing.T, p *corev1.Pod, container string, since time.Time) map[string]string {
	t.Helper()
	log, err := e.n.ContainerLog(p, container)
	if err != nil {
		t.Fatalf("log of %s: %v", container, err)
	}
	out := map[string]string{}
	for _, m := range keyRE.FindAllStringSubmatch(logSince(log, since), -1) {
		out[m[1]] = m[2]
	}
	return out
}

func (e *env) hostNetwork(t *testing.T) {
	name := "universal-hostnetwork"
	p := e.pod(t, name, "", false)
	p.Spec.HostNetwork = true
	inject(t, p, sidecar.Universal)
	if cmd := strings.Join(p.Spec.InitContainers[0].Command, " "); !strings.Contains(cmd, "--sandbox-token=/dev/shm") {
		t.Fatalf("the native twin of a hostNetwork Pod has no sandbox token: %s", cmd)
	}
	created := time.Now()
	p = e.create(t, p)
	p, _ = e.waitPod(t, name, 90*time.Second, "Ready", ready)
	e.waitEvent(t, name, "reached", 30*time.Second)
	time.Sleep(2 * time.Second)
	e.checkOneTwin(t, p, e.events(t, name))
	first := e.sameKey(t, p, created)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	killed := time.Now()
	if err := e.n.KillSandbox(ctx, string(p.UID)); err != nil {
		t.Fatal(err)
	}
	p, at := e.waitPod(t, name, 120*time.Second, "Ready in a new sandbox", func(p *corev1.Pod) bool {
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == "app" && s.RestartCount > 0 {
				return ready(p)
			}
		}
		return false
	})
	t.Logf("Ready again %v after the sandbox was killed: %s", at.Sub(killed).Round(time.Millisecond), describe(p))
	deadline := time.Now().Add(30 * time.Second)
	for len(find(after(e.events(t, name), killed), "reached")) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	evs := after(e.events(t, name), killed)
	t.Logf("events after the kill:\n%s", lines(evs))
	role, _, _ := e.acting()
	if binds := find(evs, "bind"); len(binds) != 1 || len(find(evs, "bind-failed")) != 0 || binds[0].who != sidecarName+"/"+role {
		t.Errorf("new sandbox: want one bind, by the %s twin, and no bind-failed:\n%s", role, lines(evs))
	}
	second := e.sameKey(t, p, killed)
	if first == second {
		t.Errorf("the re-created sandbox has the key of the first one (%s): the token did not tell them apart", first)
	}
	e.remove(t, name)
}

// sameKey checks that every handshake run of both twins since since
// computed one key, with a sandbox token, and returns it.
func (e *env) sameKey(t *testing.T, p *corev1.Pod, since time.Time) string {
	t.Helper()
	all := map[string]string{}
	for _, c := range []string{sidecarName, universal.LegacyName(sidecarName)} {
		ks := e.keys(t, p, c, since)
		t.Logf("%s: sandbox keys %v", c, ks)
		for k, d := range ks {
			all[k] = d
		}
	}
	if len(all) != 1 {
		t.Fatalf("want one sandbox key for both twins, got %v", all)
	}
	var key string
	for k, d := range all {
		key = k
		if !strings.Contains(d, " token=") {
			t.Errorf("sandbox %s (%s): no token in the identity of a hostNetwork Pod", k, d)
		}
	}
	return key
}

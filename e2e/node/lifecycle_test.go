package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// lifecycle is a kubelet replaced in place under running universal Pods:
// the same kubelet restarted, or an upgrade.
type lifecycle struct {
	from, to kind
}

func (l lifecycle) name() string {
	if l.from.version == l.to.version {
		return "restart-" + l.from.name + "-" + l.from.version
	}
	return "upgrade-" + l.from.name + "-" + l.from.version + "-to-" + l.to.version
}

// lifecycles are the scenarios of TestKubeletLifecycle (kinds[0] is the
// v1.37.2 node, kinds[1] v1.27.16, kinds[2] v1.28.15 with the gate on).
var lifecycles = []lifecycle{
	{from: kinds[0], to: kinds[0]},
	{from: kinds[2], to: kinds[2]},
	{from: kinds[1], to: kinds[0]},
	{from: kinds[2], to: kinds[0]},
}

// TestKubeletLifecycle replaces a node's kubelet in place (stopped with
// SIGTERM, started again on the same root directory and containerd, so
// the containers keep running) while a universal Pod (restartPolicy
// Always) and a universal Job Pod (restartPolicy Never, whose app holds
// until the test releases it) run: a kubelet restart on v1.37.2 and on
// v1.28.15 (gate on), and the in-place upgrades v1.27.16 → v1.37.2 and
// v1.28.15 (gate on) → v1.37.2. It asserts what docs/universal.md says:
// never two twins serve at once (no failed bind), every bind is by the
// twin that acted before, except that after the upgrade from v1.27.16
// the legacy twins hand over to the native twins (legacy binds, then
// native binds only), the Pod is Ready again, and the Job Pod completes
// once released. Then the service Pod's sandbox is re-created under the
// new kubelet, with the handshake directory kept and (native kubelets)
// emptied: the twin the new kubelet calls for acts in the new sandbox
// (the native twin; on v1.28.15 with the directory emptied, after the
// legacy twin's handover). It logs the timeline of each scenario.
func TestKubeletLifecycle(t *testing.T) {
	kubelets, images := prerequisites(t)
	c := cluster.ForTest(t, cluster.Options{})
	ns := c.TestNamespace(t, nil)
	for i, l := range lifecycles {
		i, l := i, l
		t.Run(l.name(), func(t *testing.T) {
			from, ok1 := kubelets[l.from.version]
			to, ok2 := kubelets[l.to.version]
			if !ok1 || !ok2 {
				if os.Getenv(EnvRequire) == "1" {
					t.Fatalf("no kubelet %s or %s in $%s", l.from.version, l.to.version, EnvKubelets)
				}
				t.Skipf("no kubelet %s or %s in $%s", l.from.version, l.to.version, EnvKubelets)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			n, err := Start(ctx, c, Options{
				Name: "node-lc-" + l.from.name, Index: 8 + i, Kubelet: from, Version: l.from.version, FeatureGates: l.from.gates,
				Images: []string{filepath.Join(images, "pause.tar"), filepath.Join(images, "nodetest.tar")},
				LogDir: os.Getenv(EnvLogs), Logf: t.Logf,
			})
			if err != nil {
				t.Fatalf("start node: %v", err)
			}
			defer func() {
				if t.Failed() {
					t.Logf("last kubelet log lines:\n%s", n.KubeletLog(60))
				}
				sctx, scancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer scancel()
				if err := n.Stop(sctx); err != nil {
					t.Errorf("stop node: %v", err)
				}
			}()
			e := &env{t: t, c: c, n: n, ns: ns, kind: l.from}
			e.replaced(t, l, to)
		})
	}
}

// timeline collects what happened, relative to the kubelet's
// replacement.
type timeline struct {
	t0      time.Time
	entries []entry
}

type entry struct {
	at   time.Time
	text string
}

func (tl *timeline) add(at time.Time, format string, args ...any) {
	tl.entries = append(tl.entries, entry{at, fmt.Sprintf(format, args...)})
}

// String lists the entries in time order.
func (tl *timeline) String() string {
	sort.SliceStable(tl.entries, func(i, j int) bool { return tl.entries[i].at.Before(tl.entries[j].at) })
	var b strings.Builder
	for _, e := range tl.entries {
		fmt.Fprintf(&b, "\n  %+8.3fs %s", e.at.Sub(tl.t0).Seconds(), e.text)
	}
	return b.String()
}

// replaced runs one scenario on e's node.
func (e *env) replaced(t *testing.T, l lifecycle, bin string) {
	svc, job := "lc-service", "lc-job"
	e.create(t, e.pod(t, svc, sidecar.Universal, false))
	jp := e.pod(t, job, sidecar.Universal, true)
	for i := range jp.Spec.Containers {
		if jp.Spec.Containers[i].Name == "app" {
			jp.Spec.Containers[i].Command = append(jp.Spec.Containers[i].Command, "-hold", "/events/release")
		}
	}
	e.create(t, jp)
	sp, _ := e.waitPod(t, svc, 90*time.Second, "Ready", ready)
	if evs := e.waitEvent(t, svc, "reached", 30*time.Second); len(find(evs, "reached")) == 0 {
		t.Fatalf("%s: the app did not reach the sidecar:\n%s", svc, lines(evs))
	}
	if evs := e.waitEvent(t, job, "reached", 60*time.Second); len(find(evs, "reached")) == 0 {
		t.Fatalf("%s: the app did not reach the sidecar:\n%s", job, lines(evs))
	}
	jpod, _ := e.waitPod(t, job, 5*time.Second, "read", func(*corev1.Pod) bool { return true })
	role, _, _ := e.acting()
	t.Logf("before: %s: %s", svc, describe(sp))
	t.Logf("before: %s: %s", job, describe(jpod))

	tl := &timeline{t0: time.Now()}
	tl.add(tl.t0, "kubelet %s stopped (SIGTERM), %s started in place", l.from.version, l.to.version)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.n.ReplaceKubelet(ctx, bin, l.to.version, l.to.gates); err != nil {
		t.Fatalf("replace the kubelet: %v", err)
	}
	tl.add(time.Now(), "node Ready with kubelet %s", l.to.version)
	handover := !l.from.native && l.to.native
	if handover {
		// The new kubelet probes the native twins: the legacy twins hand
		// over.
		for _, name := range []string{svc, job} {
			e.waitHandover(t, tl, name, tl.t0, 90*time.Second)
		}
	}
	// Let the new kubelet sync the Pods, restart what it restarts and
	// probe again before looking.
	time.Sleep(10 * time.Second)
	sp, at := e.waitPod(t, svc, 90*time.Second, "Ready after the kubelet's replacement", ready)
	tl.add(at, "%s Ready: %s", svc, describe(sp))

	release := time.Now()
	if err := os.WriteFile(filepath.Join(e.n.Events, job, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tl.add(release, "%s released", job)
	// Also after an upgrade from an old kubelet: the legacy twin handed
	// over and exited 0.
	jp, at = e.waitPod(t, job, 90*time.Second, "Succeeded or Failed", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	tl.add(at, "%s %s (%.1f s after the release): %s", job, jp.Status.Phase, at.Sub(release).Seconds(), describe(jp))
	if jp.Status.Phase != corev1.PodSucceeded {
		t.Errorf("%s: phase %s, want Succeeded", job, jp.Status.Phase)
	}
	time.Sleep(2 * time.Second) // let a misbehaving twin try to bind
	for _, name := range []string{svc, job} {
		p, _ := e.waitPod(t, name, 5*time.Second, "read", func(*corev1.Pod) bool { return true })
		evs := e.events(t, name)
		for _, ev := range evs {
			if ev.at.After(tl.t0) {
				tl.add(ev.at, "%s: %s %s %s", name, ev.what, ev.who, ev.detail)
			}
		}
		if handover {
			e.checkHandover(t, p, evs, name)
		} else {
			e.checkActing(t, p, evs, role)
		}
	}
	e.remove(t, job)

	// The sandbox of the service Pod is re-created under the new kubelet,
	// with the handshake directory kept, then emptied: the twin the new
	// kubelet calls for acts in the new sandbox.
	now := role
	if l.to.native {
		now = "native"
	}
	e.recreated(t, tl, sp, now, false)
	switch {
	case l.to.ordered:
		e.recreated(t, tl, sp, now, true)
	case l.to.native:
		// A 1.28 kubelet starts the legacy twin of a re-created sandbox
		// before the native twin is probed (an earlier sandbox's status of
		// it counts): with the directory emptied, no twin can tell the
		// node from an old one, so the legacy twin may act until the
		// native twin's probe, then hands over (docs/universal.md).
		e.recreated(t, tl, sp, "", true)
	}
	t.Logf("TIMELINE %s (%s → %s):%s", l.name(), l.from.version, l.to.version, tl)
	e.remove(t, svc)
}

// recreated kills the sandbox of Pod p (after emptying its handshake
// directory, with lose) and checks that the kubelet re-creates it and
// that only the twin of role serves in the new sandbox; role "" means
// the native twin, maybe after the legacy twin's handover.
func (e *env) recreated(t *testing.T, tl *timeline, p *corev1.Pod, role string, lose bool) {
	t.Helper()
	what := "sandbox killed"
	if lose {
		dir := filepath.Join(e.n.Dir, "kubelet", "pods", string(p.UID), "volumes", "kubernetes.io~empty-dir", sidecarName+"-handshake")
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("handshake directory: %v", err)
		}
		var names []string
		for _, en := range entries {
			names = append(names, en.Name())
			if err := os.RemoveAll(filepath.Join(dir, en.Name())); err != nil {
				t.Fatal(err)
			}
		}
		what = fmt.Sprintf("handshake directory emptied (%s), sandbox killed", strings.Join(names, " "))
	}
	restarts := 0
	if cur, _ := e.waitPod(t, p.Name, 5*time.Second, "read", func(*corev1.Pod) bool { return true }); cur != nil {
		for _, s := range cur.Status.ContainerStatuses {
			if s.Name == "app" {
				restarts = int(s.RestartCount)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	killed := time.Now()
	if err := e.n.KillSandbox(ctx, string(p.UID)); err != nil {
		t.Fatal(err)
	}
	tl.add(killed, "%s: %s", p.Name, what)
	cur, at := e.waitPod(t, p.Name, 120*time.Second, "Ready in a new sandbox", func(p *corev1.Pod) bool {
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == "app" && int(s.RestartCount) > restarts {
				return ready(p)
			}
		}
		return false
	})
	tl.add(at, "%s Ready in the new sandbox: %s", p.Name, describe(cur))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if len(find(after(e.events(t, p.Name), killed), "reached")) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if role == "" {
		e.waitHandover(t, tl, p.Name, killed, 30*time.Second)
	}
	time.Sleep(3 * time.Second) // let a misbehaving second twin try to bind
	evs := after(e.events(t, p.Name), killed)
	for _, ev := range evs {
		tl.add(ev.at, "%s: %s %s %s", p.Name, ev.what, ev.who, ev.detail)
	}
	for _, c := range []string{sidecarName, universal.LegacyName(sidecarName)} {
		if log, err := e.n.ContainerLog(cur, c); err == nil {
			t.Logf("%s (%s): %s log since:\n%s", p.Name, what, c, logSince(log, killed))
		}
	}
	binds, failed := find(evs, "bind"), find(evs, "bind-failed")
	switch {
	case role == "" && len(failed) == 0 && handedOver(binds):
		if len(binds) == 2 {
			tl.add(binds[1].at, "%s: the legacy twin acted first, then handed over (docs/universal.md, Limits)", p.Name)
		}
	case role == "":
		t.Errorf("%s (%s): want a native bind, maybe after a legacy one, and no bind-failed:\n%s", p.Name, what, lines(evs))
	case len(binds) != 1 || len(failed) != 0:
		t.Errorf("%s (%s): want one bind and no bind-failed:\n%s", p.Name, what, lines(evs))
	case binds[0].who != sidecarName+"/"+role:
		t.Errorf("%s (%s): the %s twin bound the port, want the %s twin:\n%s", p.Name, what, binds[0].who, role, lines(evs))
	}
	if len(find(evs, "reached")) == 0 {
		t.Errorf("%s (%s): the app did not reach the sidecar in the new sandbox:\n%s", p.Name, what, lines(evs))
	}
}

// handedOver reports whether binds are one native bind, or a legacy bind
// then a native one (a handover).
func handedOver(binds []event) bool {
	native, legacy := sidecarName+"/native", sidecarName+"/legacy"
	switch len(binds) {
	case 1:
		return binds[0].who == native
	case 2:
		return binds[0].who == legacy && binds[1].who == native
	}
	return false
}

// waitHandover waits until the native twin of Pod pod binds after since,
// and adds the handover to the timeline: the legacy twin's sidecar got
// SIGTERM (serve-term), closed its port (serve-exit), and the native
// twin's sidecar bound it; the gap is from the close to the bind, when
// no twin served.
func (e *env) waitHandover(t *testing.T, tl *timeline, pod string, since time.Time, timeout time.Duration) {
	t.Helper()
	native, legacy := sidecarName+"/native", sidecarName+"/legacy"
	deadline := time.Now().Add(timeout)
	for {
		evs := after(e.events(t, pod), since)
		var term, exit, bind *event
		for i := range evs {
			ev := &evs[i]
			switch {
			case ev.what == "serve-term" && ev.who == legacy:
				term = ev
			case ev.what == "serve-exit" && ev.who == legacy:
				exit = ev
			case ev.what == "bind" && ev.who == native && bind == nil:
				bind = ev
			}
		}
		if bind != nil {
			if term != nil && exit != nil && exit.at.Before(bind.at) {
				tl.add(bind.at, "%s: HANDOVER: legacy sidecar SIGTERM at %+.3fs, port closed at %+.3fs, native bind at %+.3fs: %.0f ms without a twin serving",
					pod, term.at.Sub(tl.t0).Seconds(), exit.at.Sub(tl.t0).Seconds(), bind.at.Sub(tl.t0).Seconds(), float64(bind.at.Sub(exit.at).Microseconds())/1000)
			} else {
				tl.add(bind.at, "%s: the native twin binds (no legacy sidecar stopped before it since %+.3fs)", pod, since.Sub(tl.t0).Seconds())
			}
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: the native twin did not bind within %v:\n%s", pod, timeout, lines(evs))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkHandover asserts, after an in-place upgrade from an old kubelet,
// that the legacy twin served, then handed over to the native twin: no
// bind failed (two twins serving at once), no legacy bind after the
// first native one, and the legacy twin's log says it handed over.
func (e *env) checkHandover(t *testing.T, p *corev1.Pod, evs []event, name string) {
	t.Helper()
	binds, failed := find(evs, "bind"), find(evs, "bind-failed")
	nativeBound := false
	for _, b := range binds {
		switch b.who {
		case sidecarName + "/native":
			nativeBound = true
		case sidecarName + "/legacy":
			if nativeBound {
				t.Errorf("%s: the legacy twin bound the port after the native twin did:\n%s", name, lines(evs))
			}
		default:
			t.Errorf("%s: unexpected bind by %s", name, b.who)
		}
	}
	if !nativeBound || len(failed) != 0 {
		t.Errorf("%s: want the native twin's bind at last and no bind-failed:\n%s", name, lines(evs))
	}
	log, err := e.n.ContainerLog(p, universal.LegacyName(sidecarName))
	if err != nil {
		t.Errorf("%s: log of the legacy twin: %v", name, err)
		return
	}
	t.Logf("%s: legacy twin's log:\n%s", name, log)
	if !strings.Contains(log, "handed over to the native twin") {
		t.Errorf("%s: the legacy twin's log does not say it handed over", name)
	}
}

// logSince returns the lines of a ContainerLog stamped at t or later
// (the same day, UTC).
func logSince(log string, t time.Time) string {
	from := t.UTC().Format("15:04:05.000")
	var b strings.Builder
	for _, line := range strings.SplitAfter(log, "\n") {
		if i := strings.Index(line, ".log "); i >= 0 && len(line) >= i+5+len(from) && line[i+5:i+5+len(from)] >= from {
			b.WriteString(line)
		}
	}
	return b.String()
}

// after returns the events after t.
func after(evs []event, t time.Time) []event {
	var out []event
	for _, ev := range evs {
		if ev.at.After(t) {
			out = append(out, ev)
		}
	}
	return out
}

// checkActing asserts that only the twin of role ever ran the sidecar in
// the Pod (it may have been restarted, and bind again), that no bind
// failed (two twins serving at once), and that the other twin's log never
// says it runs the sidecar.
func (e *env) checkActing(t *testing.T, p *corev1.Pod, evs []event, role string) {
	t.Helper()
	binds, failed := find(evs, "bind"), find(evs, "bind-failed")
	if len(binds) == 0 || len(failed) != 0 {
		t.Errorf("%s: want binds and no bind-failed, got %d and %d:\n%s", p.Name, len(binds), len(failed), lines(evs))
	}
	for _, b := range binds {
		if want := sidecarName + "/" + role; b.who != want {
			t.Errorf("%s: the %s twin bound the port, want only %s:\n%s", p.Name, b.who, want, lines(evs))
		}
	}
	dormant := universal.LegacyName(sidecarName)
	if role == "legacy" {
		dormant = sidecarName
	}
	log, err := e.n.ContainerLog(p, dormant)
	if err != nil {
		t.Errorf("%s: log of %s: %v", p.Name, dormant, err)
		return
	}
	t.Logf("%s: %s (dormant) log:\n%s", p.Name, dormant, log)
	if strings.Contains(log, ": Run: ") || strings.Contains(log, " bind ") {
		t.Errorf("%s: the dormant %s twin's log says it ran the sidecar", p.Name, dormant)
	}
}

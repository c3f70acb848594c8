package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
)

// Environment of the node tests; run.sh sets all of them.
const (
	EnvEnable   = "SIDECARKIT_E2E_NODE"          // "1" runs the tests
	EnvRequire  = "SIDECARKIT_E2E_NODE_REQUIRE"  // "1" turns missing prerequisites into failures
	EnvImages   = "SIDECARKIT_E2E_NODE_IMAGES"   // directory with pause.tar and nodetest.tar
	EnvKubelets = "SIDECARKIT_E2E_NODE_KUBELETS" // VERSION=PATH,... (v1.37.2=/x/kubelet-v1.37.2,...)
	EnvRounds   = "SIDECARKIT_E2E_NODE_ROUNDS"   // latency rounds per mode (default 3)
	EnvLogs     = "SIDECARKIT_E2E_NODE_LOGS"     // directory that keeps the kubelet and containerd logs
)

// kind is a kind of node the universal pair must work on.
type kind struct {
	name    string
	version string
	gates   map[string]bool
	// native: the kubelet runs native sidecars; ordered: it stops them
	// after the app (1.29+); rejects: it refuses Pods with them.
	native, ordered, rejects bool
}

var kinds = []kind{
	{name: "native", version: "v1.37.2", native: true, ordered: true},
	{name: "strips", version: "v1.27.16"},
	// 1.28: alpha gate, off by default. On, native sidecars run but stop
	// together with the app; off, the kubelet rejects the Pod.
	{name: "native-alpha", version: "v1.28.15", gates: map[string]bool{"SidecarContainers": true}, native: true},
	{name: "rejects", version: "v1.28.15", gates: map[string]bool{"SidecarContainers": false}, rejects: true},
}

const (
	sidecarName = "proxy"
	sidecarPort = 9090
	handshake   = "/usr/local/bin/sidecarctl"
)

// prerequisites returns the kubelets by version, or skips (fails under
// SIDECARKIT_E2E_NODE_REQUIRE=1) saying what the machine lacks.
func prerequisites(t *testing.T) (map[string]string, string) {
	t.Helper()
	skip := t.Skipf
	if os.Getenv(EnvRequire) == "1" {
		skip = t.Fatalf
	}
	if os.Getenv(EnvEnable) != "1" {
		skip("node e2e: set %s=1 and run e2e/node/run.sh (it builds the kubelets and images) to run real kubelets", EnvEnable)
	}
	var lacks []string
	if os.Geteuid() != 0 {
		lacks = append(lacks, "root (a kubelet, containerd and runc need it)")
	}
	hasMemory := false
	for _, h := range cgroupHierarchies() {
		if filepath.Base(h) == "memory" {
			hasMemory = true
		}
	}
	if !hasMemory {
		lacks = append(lacks, "a cgroup v1 memory hierarchy under /sys/fs/cgroup (the harness configures cgroup v1 kubelets)")
	}
	for _, bin := range []string{"containerd", "ctr", "runc", "ip", "umount"} {
		if _, err := exec.LookPath(bin); err != nil {
			lacks = append(lacks, bin+" in $PATH (apt-get install containerd runc iproute2)")
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join("/usr/lib/cni", plugin)); err != nil {
			lacks = append(lacks, "/usr/lib/cni/"+plugin+" (apt-get install containernetworking-plugins)")
		}
	}
	images := os.Getenv(EnvImages)
	for _, f := range []string{"pause.tar", "nodetest.tar"} {
		if _, err := os.Stat(filepath.Join(images, f)); images == "" || err != nil {
			lacks = append(lacks, fmt.Sprintf("$%s/%s (built by e2e/node/run.sh)", EnvImages, f))
		}
	}
	kubelets := map[string]string{}
	for _, kv := range strings.Split(os.Getenv(EnvKubelets), ",") {
		if v, p, ok := strings.Cut(kv, "="); ok {
			if _, err := os.Stat(p); err == nil {
				kubelets[v] = p
			}
		}
	}
	if len(kubelets) == 0 {
		lacks = append(lacks, fmt.Sprintf("a kubelet in $%s (built by e2e/node/run.sh)", EnvKubelets))
	}
	if len(lacks) > 0 {
		skip("node e2e: this machine lacks: %s", strings.Join(lacks, "; "))
	}
	return kubelets, images
}

// TestUniversalPairOnRealKubelets runs the universal pair on each kind of
// node whose kubelet was built: it must reach Running where the kubelet
// strips or honours restartPolicy, exactly one twin serves, a Job's Pod
// completes on the native node, the sidecar stops after the app there,
// and the Pod start latency is measured against plain native and legacy.
func TestUniversalPairOnRealKubelets(t *testing.T) {
	kubelets, images := prerequisites(t)
	c := cluster.ForTest(t, cluster.Options{})
	ns := c.TestNamespace(t, nil)
	for i, k := range kinds {
		i, k := i, k
		t.Run(k.name+"-"+k.version, func(t *testing.T) {
			bin, ok := kubelets[k.version]
			if !ok {
				// run.sh leaves out (-skip) the kinds whose kubelet it did not build.
				if os.Getenv(EnvRequire) == "1" {
					t.Fatalf("no kubelet %s in $%s", k.version, EnvKubelets)
				}
				t.Skipf("no kubelet %s in $%s", k.version, EnvKubelets)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			n, err := Start(ctx, c, Options{
				Name: "node-" + k.name, Index: i, Kubelet: bin, Version: k.version, FeatureGates: k.gates,
				Images: []string{filepath.Join(images, "pause.tar"), filepath.Join(images, "nodetest.tar")},
				LogDir: os.Getenv(EnvLogs),
				Logf:   t.Logf,
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
			if k.rejects {
				t.Run("rejected", e.rejected)
				return
			}
			t.Run("service", e.service)
			t.Run("job", e.job)
			t.Run("sandbox-recreated", e.sandboxRecreated)
			t.Run("latency", e.latency)
		})
	}
}

type env struct {
	t    *testing.T
	c    *cluster.Cluster
	n    *Node
	ns   string
	kind kind
}

// pod returns a Pod for the node with the app and the sidecar injected in
// mode (the zero mode: no sidecar).
func (e *env) pod(t *testing.T, name string, mode sidecar.Mode, job bool) *corev1.Pod {
	t.Helper()
	no, grace := false, int64(10)
	hostPath := corev1.HostPathDirectoryOrCreate
	appArgs := []string{"/nodetest", "app", "-events", "/events/log", "-url", fmt.Sprintf("http://127.0.0.1:%d/", sidecarPort)}
	restart := corev1.RestartPolicyAlways
	if job {
		appArgs = append(appArgs, "-job")
		restart = corev1.RestartPolicyNever
	}
	mount := corev1.VolumeMount{Name: "events", MountPath: "/events"}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec: corev1.PodSpec{
			NodeName:                      e.n.Name,
			RestartPolicy:                 restart,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			TerminationGracePeriodSeconds: &grace,
			Volumes: []corev1.Volume{{Name: "events", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(e.n.Events, name), Type: &hostPath}}}},
			Containers: []corev1.Container{{
				Name: "app", Image: NodetestImage, ImagePullPolicy: corev1.PullNever,
				Command: appArgs, VolumeMounts: []corev1.VolumeMount{mount},
			}},
		},
	}
	if mode == "" {
		return p
	}
	inject(t, p, mode)
	return p
}

// inject injects the test sidecar into p in mode.
func inject(t *testing.T, p *corev1.Pod, mode sidecar.Mode) {
	t.Helper()
	res, err := sidecar.Inject(&p.ObjectMeta, &p.Spec, sidecarSpec(NodetestImage), compat.Capability{}, sidecar.Options{
		Mode: mode, Universal: universal.Planner{Handshake: []string{handshake, "handshake"}},
	})
	if err != nil {
		t.Fatalf("inject %s: %v", mode, err)
	}
	if err := res.Mutation.Apply(&p.ObjectMeta, &p.Spec); err != nil {
		t.Fatalf("apply %s: %v", mode, err)
	}
}

// sidecarSpec is the test sidecar: nodetest serving on sidecarPort from
// image, recording its events in the Pod's events file.
func sidecarSpec(image string) sidecar.Spec {
	return sidecar.Spec{Container: corev1.Container{
		Name: sidecarName, Image: image, ImagePullPolicy: corev1.PullNever,
		Command:      []string{"/nodetest", "serve", "-name", sidecarName, "-port", strconv.Itoa(sidecarPort), "-events", "/events/log"},
		VolumeMounts: []corev1.VolumeMount{{Name: "events", MountPath: "/events"}},
	}}
}

func (e *env) create(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.c.Client().CoreV1().Pods(e.ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
	return out
}

// waitPod polls the Pod every 50 ms until done says so, and returns the
// Pod and when done first held.
func (e *env) waitPod(t *testing.T, name string, timeout time.Duration, what string, done func(*corev1.Pod) bool) (*corev1.Pod, time.Time) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := e.c.Client().CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		cancel()
		if err == nil {
			last = p
			if done(p) {
				return p, time.Now()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("pod %s: not %s within %v; last status: %s", name, what, timeout, describe(last))
	return nil, time.Time{}
}

func describe(p *corev1.Pod) string {
	if p == nil {
		return "(never read)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "phase %s %s %s", p.Status.Phase, p.Status.Reason, p.Status.Message)
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, s := range list {
			fmt.Fprintf(&b, "; %s ready=%t restarts=%d", s.Name, s.Ready, s.RestartCount)
			switch {
			case s.State.Running != nil:
				b.WriteString(" running")
			case s.State.Waiting != nil:
				fmt.Fprintf(&b, " waiting %s %s", s.State.Waiting.Reason, s.State.Waiting.Message)
			case s.State.Terminated != nil:
				fmt.Fprintf(&b, " terminated %d %s", s.State.Terminated.ExitCode, s.State.Terminated.Reason)
			}
		}
	}
	return b.String()
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// remove deletes the Pod with its grace period and waits until the
// kubelet confirmed it stopped.
func (e *env) remove(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.c.Client().CoreV1().Pods(e.ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod %s: %v", name, err)
	}
	for ctx.Err() == nil {
		_, err := e.c.Client().CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("pod %s: still there 60s after its deletion", name)
}

// event is a line of a Pod's events file (see tools/images/cmd/nodetest).
type event struct {
	at           time.Time
	what, who    string
	detail, line string
}

func (e *env) events(t *testing.T, pod string) []event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.n.Events, pod, "log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("events of %s: %v", pod, err)
	}
	var out []event
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 3 {
			t.Fatalf("events of %s: bad line %q", pod, line)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			t.Fatalf("events of %s: bad line %q", pod, line)
		}
		ev := event{at: time.Unix(0, ns), what: f[1], who: f[2], line: line}
		if len(f) == 4 {
			ev.detail = f[3]
		}
		out = append(out, ev)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// waitEvent reads the Pod's events until one is what, or timeout.
func (e *env) waitEvent(t *testing.T, pod, what string, timeout time.Duration) []event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		evs := e.events(t, pod)
		if len(find(evs, what)) > 0 || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func find(evs []event, what string) []event {
	var out []event
	for _, ev := range evs {
		if ev.what == what {
			out = append(out, ev)
		}
	}
	return out
}

// acting is the twin expected to serve on this kind of node.
func (e *env) acting() (role, container, dormant string) {
	if e.kind.native {
		return "native", sidecarName, universal.LegacyName(sidecarName)
	}
	return "legacy", universal.LegacyName(sidecarName), sidecarName
}

// checkOneTwin asserts that exactly one twin bound the sidecar's port, the
// expected one, and that the twins' handshake logs say which acted.
func (e *env) checkOneTwin(t *testing.T, p *corev1.Pod, evs []event) {
	t.Helper()
	role, actingC, dormantC := e.acting()
	binds, failed := find(evs, "bind"), find(evs, "bind-failed")
	if len(binds) != 1 || len(failed) != 0 {
		t.Errorf("want exactly one bind and no bind-failed, got %d and %d:\n%s", len(binds), len(failed), lines(evs))
	} else if want := sidecarName + "/" + role; binds[0].who != want {
		t.Errorf("the %s twin bound the port, want %s", binds[0].who, want)
	}
	actLog, err := e.n.ContainerLog(p, actingC)
	if err != nil {
		t.Fatalf("log of %s: %v", actingC, err)
	}
	dormLog, err := e.n.ContainerLog(p, dormantC)
	if err != nil {
		t.Fatalf("log of %s: %v", dormantC, err)
	}
	t.Logf("%s (acting) log:\n%s%s (dormant) log:\n%s", actingC, actLog, dormantC, dormLog)
	if !strings.Contains(actLog, role+" twin") || !strings.Contains(actLog, ": Run: ") {
		t.Errorf("the %s twin's log does not say it runs the sidecar", actingC)
	}
	if strings.Contains(dormLog, ": Run: ") || strings.Contains(dormLog, " bind ") {
		t.Errorf("the dormant %s twin's log says it ran the sidecar", dormantC)
	}
}

func lines(evs []event) string {
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString("  " + ev.line + "\n")
	}
	return b.String()
}

// service: the universal pair in a long-running Pod.
func (e *env) service(t *testing.T) {
	name := "universal-service"
	p := e.create(t, e.pod(t, name, sidecar.Universal, false))
	created := time.Now()
	p, at := e.waitPod(t, name, 90*time.Second, "Ready", ready)
	t.Logf("Ready after %v: %s", at.Sub(created).Round(time.Millisecond), describe(p))
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running", p.Status.Phase)
	}
	if !e.kind.native {
		for _, c := range p.Spec.InitContainers {
			if c.RestartPolicy != nil {
				t.Logf("stored init container %s has restartPolicy %s (the API server keeps it; this kubelet ignores it)", c.Name, *c.RestartPolicy)
			}
		}
	}
	e.waitEvent(t, name, "reached", 30*time.Second)
	time.Sleep(2 * time.Second) // let a misbehaving second twin try to bind
	evs := e.events(t, name)
	if len(find(evs, "reached")) != 1 {
		t.Errorf("the app did not reach the sidecar:\n%s", lines(evs))
	}
	e.checkOneTwin(t, p, evs)

	e.remove(t, name)
	evs = e.events(t, name)
	t.Logf("events:\n%s", lines(evs))
	exit, term := find(evs, "app-exit"), find(evs, "serve-term")
	if len(exit) != 1 || len(term) != 1 {
		t.Fatalf("want one app-exit and one serve-term event, got %d and %d", len(exit), len(term))
	}
	if e.kind.ordered {
		// Native sidecars stop after the app: the sidecar got SIGTERM only
		// once the app had exited, and still answered the app during its
		// shutdown.
		if !term[0].at.After(exit[0].at) {
			t.Errorf("sidecar got SIGTERM at %v, before the app exited at %v", term[0].at, exit[0].at)
		}
		if !strings.Contains(exit[0].detail, "sidecar "+sidecarName+"/native") {
			t.Errorf("the app could not reach the sidecar while shutting down: %s", exit[0].detail)
		}
	} else {
		t.Logf("termination order on a %s node (no ordering guaranteed): sidecar SIGTERM %+v after the app's exit", e.kind.name, term[0].at.Sub(exit[0].at))
	}
}

// sandboxRecreated: the Pod's sandbox dies; the kubelet makes a new one,
// reruns the init containers and restarts the containers, while the
// handshake's emptyDir survives. Exactly one twin must serve again.
func (e *env) sandboxRecreated(t *testing.T) {
	name := "universal-sandbox"
	p := e.create(t, e.pod(t, name, sidecar.Universal, false))
	e.waitPod(t, name, 90*time.Second, "Ready", ready)
	e.waitEvent(t, name, "reached", 30*time.Second)
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
	for len(find(e.events(t, name), "reached")) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // let a misbehaving second twin try to bind
	evs := e.events(t, name)
	t.Logf("events:\n%s", lines(evs))
	var after []event
	for _, ev := range evs {
		if ev.at.After(killed) {
			after = append(after, ev)
		}
	}
	e.checkOneTwin(t, p, after)
	if len(find(after, "reached")) != 1 {
		t.Errorf("the app did not reach the sidecar in the new sandbox")
	}
	e.remove(t, name)
}

// job: the universal pair in a Job's Pod (restartPolicy Never).
func (e *env) job(t *testing.T) {
	name := "universal-job"
	e.create(t, e.pod(t, name, sidecar.Universal, true))
	if e.kind.native {
		p, _ := e.waitPod(t, name, 90*time.Second, "Succeeded", func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		})
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("phase %s, want Succeeded: %s", p.Status.Phase, describe(p))
		}
		e.checkOneTwin(t, p, e.events(t, name))
	} else {
		// On an old node the legacy twin runs the sidecar as a regular
		// container: like any legacy sidecar it keeps the Pod running after
		// the app completed (the universal pair cannot change that).
		p, _ := e.waitPod(t, name, 90*time.Second, "with the app completed", func(p *corev1.Pod) bool {
			for _, s := range p.Status.ContainerStatuses {
				if s.Name == "app" && s.State.Terminated != nil {
					return true
				}
			}
			return false
		})
		time.Sleep(3 * time.Second)
		p, _ = e.waitPod(t, name, 5*time.Second, "read", func(*corev1.Pod) bool { return true })
		t.Logf("after the app completed on a %s node: %s", e.kind.name, describe(p))
		e.checkOneTwin(t, p, e.events(t, name))
	}
	e.remove(t, name)
}

// rejected: on a 1.28-1.32 kubelet with the gate off, Pods with a native
// sidecar (and so the universal pair) are rejected; legacy ones run.
func (e *env) rejected(t *testing.T) {
	for _, m := range []sidecar.Mode{sidecar.Universal, sidecar.Native, sidecar.Legacy} {
		name := "rejects-" + string(m)
		e.create(t, e.pod(t, name, m, false))
		p, _ := e.waitPod(t, name, 90*time.Second, "Ready or Failed", func(p *corev1.Pod) bool {
			return ready(p) || p.Status.Phase == corev1.PodFailed
		})
		t.Logf("%s: %s", m, describe(p))
		wantFailed := m != sidecar.Legacy
		if (p.Status.Phase == corev1.PodFailed) != wantFailed {
			t.Errorf("%s: phase %s, want failed=%t", m, p.Status.Phase, wantFailed)
		}
		if wantFailed && p.Status.Reason != "InitContainerRestartPolicyForbidden" {
			t.Errorf("%s: reason %q, want InitContainerRestartPolicyForbidden (kubelet admission)", m, p.Status.Reason)
		}
		e.remove(t, name)
	}
}

// latency measures the time from Create to Ready, and to the app's first
// answer from the sidecar, for plain native, plain legacy and the
// universal pair.
func (e *env) latency(t *testing.T) {
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv(EnvRounds)); err == nil && v > 0 {
		rounds = v
	}
	modes := []sidecar.Mode{sidecar.Legacy, sidecar.Native, sidecar.Universal}
	if !e.kind.native {
		// A stripped native sidecar is an init container that never exits:
		// the Pod stays in Init.
		modes = []sidecar.Mode{sidecar.Legacy, sidecar.Universal}
	}
	readyIn := map[sidecar.Mode][]time.Duration{}
	reached := map[sidecar.Mode][]time.Duration{}
	for r := 0; r < rounds; r++ {
		for _, m := range modes {
			name := fmt.Sprintf("latency-%s-%d", m, r)
			p := e.pod(t, name, m, false)
			start := time.Now()
			e.create(t, p)
			_, at := e.waitPod(t, name, 90*time.Second, "Ready", func(p *corev1.Pod) bool { return ready(p) })
			readyIn[m] = append(readyIn[m], at.Sub(start))
			// Without probes, Ready can come before the app's first answer.
			evs := e.waitEvent(t, name, "reached", 30*time.Second)
			if rs := find(evs, "reached"); len(rs) == 1 {
				reached[m] = append(reached[m], rs[0].at.Sub(start))
			} else {
				t.Errorf("%s: app did not reach the sidecar:\n%s", name, lines(evs))
			}
			e.remove(t, name)
		}
	}
	for _, m := range modes {
		t.Logf("LATENCY node=%s kubelet=%s mode=%-9s create->Ready %s | create->app reached sidecar %s",
			e.kind.name, e.kind.version, m, stats(readyIn[m]), stats(reached[m]))
	}
}

func stats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return fmt.Sprintf("median %v min %v max %v (n=%d)", s[len(s)/2].Round(time.Millisecond),
		s[0].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond), len(s))
}

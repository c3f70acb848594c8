package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/injector"
	"github.com/sidecarkit/sidecarkit/examples/operator/inplace"
	"github.com/sidecarkit/sidecarkit/examples/operator/repair"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// The live test follows the e2e suite's rules (e2e/README.md): it runs only
// with $SIDECARKIT_E2E=1, and $SIDECARKIT_E2E_REQUIRE=1 turns each of its
// skips into a failure (CI).
const (
	envEnable  = "SIDECARKIT_E2E"
	envRequire = "SIDECARKIT_E2E_REQUIRE"
	// $SIDECARKIT_E2E_KUBE_APISERVER and $SIDECARKIT_E2E_ETCD name the
	// binaries directly, as they do for the e2e suite.
	envAPIServer = "SIDECARKIT_E2E_KUBE_APISERVER"
	envEtcd      = "SIDECARKIT_E2E_ETCD"
)

// buildScript is the e2e suite's build script, which alone decides the
// binaries' names and paths; the test runs in examples/operator.
var buildScript = filepath.Join("..", "..", "e2e", "build.sh")

// errNotBuilt: a binary e2e/build.sh names is not there.
var errNotBuilt = errors.New("not built")

// e2eBinaries returns the kube-apiserver and etcd the e2e suite runs: those
// in $SIDECARKIT_E2E_KUBE_APISERVER and $SIDECARKIT_E2E_ETCD when both are
// set, otherwise the paths `e2e/build.sh --print` names (it honours the
// cache and version variables). The error wraps errNotBuilt when a binary
// is missing.
func e2eBinaries() (apiserver, etcd string, err error) {
	apiserver, etcd = os.Getenv(envAPIServer), os.Getenv(envEtcd)
	if apiserver == "" || etcd == "" {
		cmd := exec.Command("bash", buildScript, "--print")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
			return "", "", fmt.Errorf("%s --print: %w: %s", buildScript, err, bytes.TrimSpace(stderr.Bytes()))
		}
		apiserver, etcd = "", ""
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "KUBE_APISERVER="); ok {
				apiserver = v
			} else if v, ok := strings.CutPrefix(line, "ETCD="); ok {
				etcd = v
			}
		}
		if apiserver == "" || etcd == "" {
			return "", "", fmt.Errorf("%s --print named no KUBE_APISERVER and ETCD: %q", buildScript, out)
		}
	}
	for _, p := range []string{apiserver, etcd} {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return apiserver, etcd, fmt.Errorf("%s %w (run e2e/build.sh)", p, errNotBuilt)
		}
	}
	return apiserver, etcd, nil
}

// liveBinaries returns e2eBinaries, or skips t (fails it under
// $SIDECARKIT_E2E_REQUIRE=1) when the live test is not asked for or a
// binary is missing.
func liveBinaries(t *testing.T) (apiserver, etcd string) {
	t.Helper()
	skip := t.Skipf
	if os.Getenv(envRequire) == "1" {
		skip = t.Fatalf
	}
	if os.Getenv(envEnable) != "1" {
		skip("live test against a real kube-apiserver: set %s=1 (binaries from e2e/build.sh)", envEnable)
	}
	apiserver, etcd, err := e2eBinaries()
	if errors.Is(err, errNotBuilt) {
		skip("live test: %v", err)
	}
	if err != nil {
		t.Fatalf("live test: %v", err)
	}
	return apiserver, etcd
}

// TestE2EBinaries: the live test finds the binaries where e2e/build.sh
// puts them, says which one is missing, and takes explicit paths.
func TestE2EBinaries(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("SIDECARKIT_E2E_CACHE", cache)
	t.Setenv(envAPIServer, "")
	t.Setenv(envEtcd, "")
	apiserver, etcd, err := e2eBinaries()
	if !errors.Is(err, errNotBuilt) {
		t.Fatalf("empty cache: %v, want errNotBuilt", err)
	}
	for _, p := range []string{apiserver, etcd} {
		if filepath.Dir(p) != cache {
			t.Errorf("%s is not in the cache %s", p, cache)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	a, e, err := e2eBinaries()
	if err != nil || a != apiserver || e != etcd {
		t.Errorf("built: %q %q %v, want %q %q", a, e, err, apiserver, etcd)
	}

	t.Setenv(envAPIServer, filepath.Join(cache, "my-apiserver"))
	t.Setenv(envEtcd, etcd)
	if _, _, err := e2eBinaries(); !errors.Is(err, errNotBuilt) || !strings.Contains(err.Error(), "my-apiserver") {
		t.Errorf("missing explicit binary: %v", err)
	}
}

type injectorStatus = injector.Status

// TestLive runs the labeler and the injector in the binary's own manager
// setup (run) against a real kube-apiserver: nodes get labelled, an
// opted-in Deployment gets a legacy sidecar while an old node exists, the
// sidecar moves to the native form when the node is upgraded, nothing is
// patched after that (the Deployment's resourceVersion stays put), and the
// sidecar goes when the Deployment opts out.
func TestLive(t *testing.T) {
	apiserver, etcd := liveBinaries(t)
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	env := &envtest.Environment{}
	env.ControlPlane.GetAPIServer().Path = apiserver
	env.ControlPlane.Etcd = &envtest.Etcd{Path: etcd}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	mkNode := func(name, version string) {
		t.Helper()
		n, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.NodeInfo.KubeletVersion = version
		if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkNode("new-1", "v1.33.4")
	mkNode("old-1", "v1.27.9")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web", "other"} {
		lbl := map[string]string{}
		if name == "web" {
			lbl["sidecarkit.io/inject"] = "true"
		}
		_, err := cs.AppsV1().Deployments("shop").Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbl},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}

	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	c := bindFlags(fs)
	if err := fs.Parse([]string{"--sidecar=../testdata/sidecar.yaml", "--metrics-bind-address=0", "--health-probe-bind-address=0", "--repair=restart",
		"--inplace-upgrade", "--inplace-interval=100ms", "--inplace-ready-timeout=20s"}); err != nil {
		t.Fatal(err)
	}
	set, err := c.settings(os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	c.restartable = true
	// start runs the operator until the returned function stops it.
	start := func() func() {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- run(runCtx, cfg, c, set) }()
		stopped := false
		return func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}
	stop := start()
	defer func() { stop() }()

	state := func() string {
		d, err := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		var ic, cc []string
		for _, x := range d.Spec.Template.Spec.InitContainers {
			n := x.Name
			if x.RestartPolicy != nil {
				n += "(" + string(*x.RestartPolicy) + ")"
			}
			ic = append(ic, n)
		}
		for _, x := range d.Spec.Template.Spec.Containers {
			cc = append(cc, x.Name)
		}
		labels := ""
		for _, n := range []string{"new-1", "old-1"} {
			node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err.Error()
			}
			labels += fmt.Sprintf(" %s=%s", n, node.Labels[compat.NodeLabel])
		}
		return fmt.Sprintf("init=%s containers=%s nodes:%s", strings.Join(ic, ","), strings.Join(cc, ","), labels)
	}
	wait := func(what, want string) {
		t.Helper()
		start := time.Now()
		for time.Since(start) < 30*time.Second {
			if s := state(); strings.Contains(s, want) {
				t.Logf("%s after %v: %s", what, time.Since(start).Round(time.Millisecond), s)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: want %q, have %s", what, want, state())
	}
	wait("legacy while an old node exists", "init= containers=proxy,app nodes: new-1=native old-1=strips")

	n, err := cs.CoreV1().Nodes().Get(ctx, "old-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.NodeInfo.KubeletVersion = "v1.32.3"
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("migrated when the node was upgraded", "init=proxy(Always) containers=app nodes: new-1=native old-1=native")
	// Settled (the status annotation says native), nothing is patched any
	// more. (The status annotation's own write bumps a Deployment's
	// metadata.generation, as every annotation change does, but rolls
	// nothing out: the template is unchanged.)
	settled := func() string {
		d, err := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		return d.ResourceVersion + " " + d.Annotations[injector.StatusAnnotation]
	}
	t0 := time.Now()
	for !strings.Contains(settled(), `"mode":"native"`) && time.Since(t0) < 30*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	before := settled()
	time.Sleep(2 * time.Second)
	if after := settled(); after != before {
		t.Errorf("patched again: %s, then %s", before, after)
	}

	// What was injected and why: the Deployment's own annotation (not its
	// template's), and an Event.
	liveStatus := func(obj metav1.Object) injectorStatus {
		t.Helper()
		var st injectorStatus
		if v, ok := obj.GetAnnotations()[injector.StatusAnnotation]; ok {
			if err := json.Unmarshal([]byte(v), &st); err != nil {
				t.Fatalf("%s: %v", v, err)
			}
		}
		return st
	}
	web, err := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st := liveStatus(web); st.State != injector.StateInjected || st.Mode != "native" || st.Reason != "all-native" {
		t.Errorf("web's status: %+v", st)
	}
	waitFor := func(what string, cond func() (bool, string)) {
		t.Helper()
		start := time.Now()
		var last string
		for time.Since(start) < 30*time.Second {
			var ok bool
			if ok, last = cond(); ok {
				t.Logf("%s after %v: %s", what, time.Since(start).Round(time.Millisecond), last)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: %s", what, last)
	}
	events := func(name string) string {
		l, err := cs.EventsV1().Events("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, e := range l.Items {
			if e.Regarding.Name == name {
				out = append(out, e.Reason+": "+e.Note)
			}
		}
		return strings.Join(out, "\n")
	}
	waitFor("events on web", func() (bool, string) {
		ev := events("web")
		return strings.Count(ev, injector.ReasonInjected+":") >= 1 && strings.Contains(ev, injector.ReasonMigrated+":") ||
			strings.Count(ev, injector.ReasonInjected+":") >= 2, ev
	})

	// A Job: its template cannot change after creation (the API server
	// refuses it), so the injector reports it and sends no patch. A bare
	// ReplicaSet is injected; a Deployment's ReplicaSet is left to it.
	tmpl := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
	}
	optIn := map[string]string{"sidecarkit.io/inject": "true"}
	jt := tmpl("batch")
	jt.Spec.RestartPolicy = corev1.RestartPolicyNever
	if _, err := cs.BatchV1().Jobs("shop").Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "batch", Labels: optIn},
		Spec: batchv1.JobSpec{Template: jt}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bare", Labels: optIn},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "bare"}}, Template: tmpl("bare")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	isController := true
	if _, err := cs.AppsV1().ReplicaSets("shop").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-owned", Labels: optIn,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: web.UID, Controller: &isController}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "owned"}}, Template: tmpl("owned")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the Job reported, not patched", func() (bool, string) {
		j, err := cs.BatchV1().Jobs("shop").Get(ctx, "batch", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := liveStatus(j)
		return st.State == injector.StateSkipped && len(j.Spec.Template.Spec.InitContainers) == 0 && strings.Contains(events("batch"), injector.ReasonSkipped),
			fmt.Sprintf("%+v, events %q", st, events("batch"))
	})
	_, err = cs.BatchV1().Jobs("shop").Patch(ctx, "batch", types.StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"initContainers":[{"name":"proxy","image":"p","restartPolicy":"Always"}]}}}}`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("patching a Job's containers: %v, want the API server to refuse it", err)
	} else {
		msg := err.Error()
		if i := strings.Index(msg, "Invalid value"); i > 0 {
			msg = msg[:i] + "... field is immutable"
		}
		t.Logf("the API server refuses a Job's template change: %s", msg)
	}
	waitFor("the bare ReplicaSet injected", func() (bool, string) {
		rs, err := cs.AppsV1().ReplicaSets("shop").Get(ctx, "bare", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ic := rs.Spec.Template.Spec.InitContainers
		return len(ic) == 1 && ic[0].Name == "proxy" && liveStatus(rs).State == injector.StateInjected, fmt.Sprintf("%d init containers, %+v", len(ic), liveStatus(rs))
	})
	owned, err := cs.AppsV1().ReplicaSets("shop").Get(ctx, "web-owned", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if owned.Generation != 1 || len(owned.Spec.Template.Spec.InitContainers) != 0 || owned.Annotations[injector.StatusAnnotation] != "" {
		t.Errorf("a Deployment's ReplicaSet was changed: generation %d, %+v", owned.Generation, owned.Annotations)
	}

	// Repair: in a namespace the webhook serves, Pods created without the
	// sidecar (the webhook was down) are reported and replaced through a
	// rollout restart of their Deployment, unless a PodDisruptionBudget
	// allows no disruption. (No controllers run here: the Pods and
	// ReplicaSets are created by the test, and the restart shows as the
	// template's restartedAt.)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "served",
		Labels: map[string]string{"sidecarkit.io/inject": "enabled"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	missed := func(app string) *appsv1.Deployment {
		t.Helper()
		d, err := cs.AppsV1().Deployments("served").Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: app},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}, Template: tmpl(app)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := cs.AppsV1().ReplicaSets("served").Create(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: app + "-1",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: app, UID: d.UID, Controller: &isController}}},
			Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}, Template: tmpl(app)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: app + "-1-a", Labels: map[string]string{"app": app},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: &isController}}},
			Spec: tmpl(app).Spec}
		if _, err := cs.CoreV1().Pods("served").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		return d
	}
	one := intstr.FromInt32(1)
	pdb, err := cs.PolicyV1().PodDisruptionBudgets("served").Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "held"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "held"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1}
	if _, err := cs.PolicyV1().PodDisruptionBudgets("served").UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	missed("api")
	missed("held")
	restartedAt := func(name string) string {
		d, err := cs.AppsV1().Deployments("served").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		return d.Spec.Template.Annotations[repair.RestartedAtAnnotation]
	}
	servedEvents := func(name string) string {
		l, err := cs.EventsV1().Events("served").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, e := range l.Items {
			if e.Regarding.Name == name {
				out = append(out, e.Reason)
			}
		}
		return strings.Join(out, ",")
	}
	waitFor("a Pod without the sidecar: reported, its Deployment restarted", func() (bool, string) {
		at, ev := restartedAt("api"), servedEvents("api-1-a")
		return at != "" && strings.Contains(ev, repair.ReasonMissing) && strings.Contains(servedEvents("api"), repair.ReasonRestarted),
			fmt.Sprintf("restartedAt %q, Pod events %s", at, ev)
	})
	waitFor("a restart the PodDisruptionBudget holds back", func() (bool, string) {
		ev := servedEvents("held-1-a")
		return strings.Contains(ev, repair.ReasonBlocked), "Pod events " + ev
	})
	if at := restartedAt("held"); at != "" {
		t.Errorf("restarted against its PodDisruptionBudget: %s", at)
	}
	if p, err := cs.CoreV1().Pods("served").Get(ctx, "api-1-a", metav1.GetOptions{}); err != nil || len(p.Spec.InitContainers)+len(p.Spec.Containers) != 1 {
		t.Errorf("the Pod was edited: %v", err)
	}

	// In-place upgrade: a running Pod whose native sidecar was injected
	// with the previous image (the spec is otherwise the same) gets the new
	// image by a patch the API server accepts on a live Pod; the test plays
	// the kubelet (no kubelet runs here: e2e/node does that) and reports
	// the new sidecar ready, and the operator records the upgrade.
	spec, err := sidecar.LoadSpec(mustRead(t, "../testdata/sidecar.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	newImage := spec.Container.Image
	prev := spec
	prevC := spec.Container
	prevC.Image = strings.TrimSuffix(newImage, ":1.9") + ":1.8"
	prev.Container = prevC
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "live", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
	nativeCap, _ := compat.Cluster{APIServerVersion: "v1.37.2"}.For(nil)
	res, err := sidecar.Inject(&live.ObjectMeta, &live.Spec, prev, nativeCap, sidecar.Options{Mode: sidecar.Native})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Mutation.Apply(&live.ObjectMeta, &live.Spec); err != nil {
		t.Fatal(err)
	}
	live, err = cs.CoreV1().Pods("shop").Create(ctx, live, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runningStatus := func(n, id string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: n, ContainerID: "containerd://" + id, Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	}
	live.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		InitContainerStatuses: []corev1.ContainerStatus{runningStatus("proxy", "old")}, ContainerStatuses: []corev1.ContainerStatus{runningStatus("app", "app")}}
	for i := range live.Status.InitContainerStatuses {
		live.Status.InitContainerStatuses[i].Image = prevC.Image
	}
	live.Status.ContainerStatuses[0].Image = "registry.example/app:1"
	if _, err := cs.CoreV1().Pods("shop").UpdateStatus(ctx, live, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("a native sidecar's image patched on the live Pod", func() (bool, string) {
		p, err := cs.CoreV1().Pods("shop").Get(ctx, "live", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Spec.InitContainers[0].Image == newImage, p.Spec.InitContainers[0].Image
	})
	p, err := cs.CoreV1().Pods("shop").Get(ctx, "live", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Annotations[sidecar.Annotation("proxy")], `"mode":"native"`) || len(p.Spec.Containers) != 1 {
		t.Errorf("after the in-place patch: %v", p.Annotations)
	}
	p.Status.InitContainerStatuses[0] = runningStatus("proxy", "new")
	p.Status.InitContainerStatuses[0].Image = newImage
	if _, err := cs.CoreV1().Pods("shop").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the in-place upgrade recorded", func() (bool, string) {
		ev := events("live")
		return strings.Contains(ev, inplace.ReasonUpgraded), ev
	})

	// The counters, in controller-runtime's registry.
	mfs, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "sidecarkit_operator_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var key []string
			for _, l := range m.GetLabel() {
				key = append(key, l.GetValue())
			}
			counts[strings.Join(key, "/")] = m.GetCounter().GetValue()
		}
	}
	for _, k := range []string{"Deployment/missing", "Deployment/restarted", "Deployment/blocked", "native/upgraded"} {
		if counts[k] < 1 {
			t.Errorf("sidecarkit_operator_repairs_total{%s} = %v; all: %v", k, counts[k], counts)
		}
	}
	for _, k := range []string{"Deployment/legacy/injected", "Deployment/native/injected", "Job/native/skipped", "ReplicaSet/native/injected"} {
		if counts[k] < 1 {
			t.Errorf("sidecarkit_operator_injections_total{%s} = %v; all: %v", k, counts[k], counts)
		}
	}

	// Opting out: the label goes, the informer (restricted to opted-in
	// workloads) sees a deletion, and the injector reads the Deployment
	// from the API server and removes exactly what it injected.
	web, err = cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(web.Labels, "sidecarkit.io/inject")
	if _, err := cs.AppsV1().Deployments("shop").Update(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("uninjected when the label was removed", "init= containers=app nodes:")
	web, err = cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tmpl := web.Spec.Template; len(tmpl.Annotations) != 0 || len(tmpl.Spec.Volumes) != 0 || len(tmpl.Spec.Containers[0].VolumeMounts) != 0 || len(tmpl.Spec.Containers[0].Env) != 0 {
		t.Errorf("left behind after opting out: annotations %v, volumes %v, app %+v", tmpl.Annotations, tmpl.Spec.Volumes, tmpl.Spec.Containers[0])
	}

	other, err := cs.AppsV1().Deployments("shop").Get(ctx, "other", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other.Generation != 1 || len(other.Spec.Template.Spec.Containers) != 1 {
		t.Errorf("a Deployment not opted in was patched: generation %d", other.Generation)
	}

	// The operator stops; the bare ReplicaSet opts out meanwhile. The
	// informer of the restarted operator holds only opted-in workloads and
	// never sees it: the full scan at start finds it by its record and the
	// injector removes the sidecar.
	stop()
	rs, err := cs.AppsV1().ReplicaSets("shop").Get(ctx, "bare", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	delete(rs.Labels, "sidecarkit.io/inject")
	if _, err := cs.AppsV1().ReplicaSets("shop").Update(ctx, rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if rs, err := cs.AppsV1().ReplicaSets("shop").Get(ctx, "bare", metav1.GetOptions{}); err != nil || len(rs.Spec.Template.Spec.InitContainers) != 1 {
		t.Fatalf("changed while the operator was down: %v", err)
	}
	stop = start()
	waitFor("opted out while the operator was down: uninjected by the full scan", func() (bool, string) {
		rs, err := cs.AppsV1().ReplicaSets("shop").Get(ctx, "bare", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(rs.Spec.Template.Spec.InitContainers) == 0 && liveStatus(rs).State == injector.StateRemoved,
			fmt.Sprintf("%d init containers, %+v", len(rs.Spec.Template.Spec.InitContainers), liveStatus(rs))
	})
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

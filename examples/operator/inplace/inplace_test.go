package inplace_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/inplace"
	"github.com/sidecarkit/sidecarkit/examples/operator/metrics"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

const ns = "shop"

func spec(t *testing.T, image string, extraArgs ...string) sidecar.Spec {
	t.Helper()
	s, err := sidecar.LoadSpec([]byte("name: proxy\nimage: " + image + "\nargs: [\"--listen=:9090\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Container.Args = append(s.Container.Args, extraArgs...)
	return s
}

// pod returns a running, ready Pod injected with s in mode, as the API
// server stores it (defaults filled in), with status for its containers.
func pod(t *testing.T, name string, s sidecar.Spec, mode sidecar.Mode) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}}}
	c, _ := compat.Cluster{APIServerVersion: "v1.33.1"}.For(nil)
	res, err := sidecar.Inject(&p.ObjectMeta, &p.Spec, s, c, sidecar.Options{Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Mutation.Apply(&p.ObjectMeta, &p.Spec); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range l {
			l[i].TerminationMessagePath = "/dev/termination-log"
			l[i].TerminationMessagePolicy = corev1.TerminationMessageReadFile
			l[i].ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	st := func(n, image string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: n, Image: image, ContainerID: "containerd://" + name + "-" + n + "-1", Ready: true, State: running, Started: new(bool)}
	}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{st("app", "registry.example/app:1")}}
	if mode != sidecar.Legacy {
		p.Status.InitContainerStatuses = []corev1.ContainerStatus{st("proxy", s.Container.Image)}
	} else {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, st("proxy", s.Container.Image))
	}
	return p
}

func TestPlan(t *testing.T) {
	v1, v2 := spec(t, "registry.example/proxy:1"), spec(t, "registry.example/proxy:2")
	native := pod(t, "n", v1, sidecar.Native)
	p, err := inplace.Plan(native, v2)
	if err != nil || p == nil {
		t.Fatalf("Plan = %+v, %v", p, err)
	}
	var ops []map[string]interface{}
	if err := json.Unmarshal(p.Body, &ops); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, op := range ops {
		paths = append(paths, op["op"].(string)+" "+op["path"].(string))
	}
	want := "test /metadata/resourceVersion,test /spec/initContainers/0/name,replace /spec/initContainers/0/image,replace /metadata/annotations/sidecar.sidecarkit.io~1proxy"
	if strings.Join(paths, ",") != want {
		t.Errorf("ops %s, want %s", strings.Join(paths, ","), want)
	}
	if p.From != "registry.example/proxy:1" || p.To != "registry.example/proxy:2" || p.Mode != sidecar.Native || p.ContainerID == "" || p.AppRestarts["app"] != 0 {
		t.Errorf("plan %+v", p)
	}
	// The new record is the one an injection of v2 writes.
	var rec sidecar.Record
	if err := json.Unmarshal([]byte(ops[3]["value"].(string)), &rec); err != nil {
		t.Fatal(err)
	}
	fresh := pod(t, "f", v2, sidecar.Native)
	if ops[3]["value"] != fresh.Annotations[sidecar.Annotation("proxy")] {
		t.Errorf("record %s, want %s", ops[3]["value"], fresh.Annotations[sidecar.Annotation("proxy")])
	}

	pinned, err := inplace.Plan(pod(t, "p", v1, sidecar.Pinned), v2)
	if err != nil || pinned == nil || !strings.Contains(string(pinned.Body), "/spec/initContainers/0/image") || pinned.ContainerID == "" {
		t.Errorf("pinned: %+v, %v", pinned, err)
	}
	legacy, err := inplace.Plan(pod(t, "l", v1, sidecar.Legacy), v2)
	if err != nil || legacy == nil || !strings.Contains(string(legacy.Body), "/spec/containers/") {
		t.Errorf("legacy: %+v, %v", legacy, err)
	}
	for name, tc := range map[string]struct {
		pod  *corev1.Pod
		spec sidecar.Spec
	}{
		"up to date":                  {native, v1},
		"more than the image changed": {native, spec(t, "registry.example/proxy:2", "--verbose")},
		"not injected":                {&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "proxy", Image: "x"}}}}, v2},
	} {
		if p, err := inplace.Plan(tc.pod, tc.spec); p != nil || err != nil {
			t.Errorf("%s: %+v, %v; want no upgrade", name, p, err)
		}
	}
}

type env struct {
	c   client.Client
	u   *inplace.Upgrader
	now time.Time
	reg *prometheus.Registry
	ev  *events.FakeRecorder
}

func newEnv(t *testing.T, maxUnavailable int, pods ...*corev1.Pod) *env {
	t.Helper()
	var objs []client.Object
	for _, p := range pods {
		objs = append(objs, p)
	}
	e := &env{c: fake.NewClientBuilder().WithObjects(objs...).WithStatusSubresource(&corev1.Pod{}).Build(),
		now: time.Unix(1000, 0), reg: prometheus.NewRegistry(), ev: events.NewFakeRecorder(100)}
	m, err := metrics.New(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	e.u = &inplace.Upgrader{Client: e.c, Spec: spec(t, "registry.example/proxy:2"), MaxUnavailable: maxUnavailable,
		ReadyTimeout: time.Minute, Metrics: m, Recorder: e.ev, Now: func() time.Time { return e.now }}
	return e
}

func (e *env) get(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &p); err != nil {
		t.Fatal(err)
	}
	return &p
}

func (e *env) image(t *testing.T, name string) string {
	t.Helper()
	return e.get(t, name).Spec.InitContainers[0].Image
}

// kubelet plays the kubelet after the patch: the sidecar restarted with a
// new container ID, ready; or waiting with reason.
func (e *env) kubelet(t *testing.T, name, waiting string, appRestarts int32) {
	t.Helper()
	p := e.get(t, name)
	st := &p.Status.InitContainerStatuses[0]
	st.Image = p.Spec.InitContainers[0].Image
	st.ContainerID += "-new"
	if waiting != "" {
		st.Ready, st.State = false, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: waiting}}
	}
	p.Status.ContainerStatuses[0].RestartCount = appRestarts
	if err := e.c.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func (e *env) step(t *testing.T) []inplace.Result {
	t.Helper()
	r, err := e.u.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRollout: one Pod at a time, the next only after the previous one's
// new sidecar is ready; the first failure halts the rollout, and the Pods
// after it keep their sidecar.
func TestRollout(t *testing.T) {
	v1 := spec(t, "registry.example/proxy:1")
	e := newEnv(t, 1, pod(t, "a", v1, sidecar.Native), pod(t, "b", v1, sidecar.Native), pod(t, "c", v1, sidecar.Native))
	e.step(t)
	if e.image(t, "a") != "registry.example/proxy:2" || e.image(t, "b") != "registry.example/proxy:1" {
		t.Fatalf("after one step: a %s, b %s", e.image(t, "a"), e.image(t, "b"))
	}
	e.now = e.now.Add(3 * time.Second)
	if r := e.step(t); len(r) != 0 || e.image(t, "b") != "registry.example/proxy:1" {
		t.Fatalf("b patched before a was ready: %+v", r)
	}
	e.kubelet(t, "a", "", 0)
	e.now = e.now.Add(2 * time.Second)
	r := e.step(t)
	if len(r) != 1 || !r[0].Succeeded || r[0].Seconds != 5 {
		t.Fatalf("a: %+v", r)
	}
	if e.image(t, "b") != "registry.example/proxy:2" {
		t.Fatal("b not patched after a was ready")
	}
	e.kubelet(t, "b", "ImagePullBackOff", 0)
	r = e.step(t)
	if len(r) != 1 || r[0].Succeeded || !strings.Contains(r[0].Reason, "ImagePullBackOff") {
		t.Fatalf("b: %+v", r)
	}
	if h := e.u.Halted(); !strings.Contains(h, "shop/b") {
		t.Errorf("halted = %q", h)
	}
	for i := 0; i < 3; i++ {
		e.step(t)
	}
	if e.image(t, "c") != "registry.example/proxy:1" {
		t.Error("c patched after the rollout halted")
	}
	want := `
# HELP sidecarkit_operator_inplace_upgrades_total In-place sidecar image upgrades of running Pods, by injection mode and outcome (upgraded, failed).
# TYPE sidecarkit_operator_inplace_upgrades_total counter
sidecarkit_operator_inplace_upgrades_total{mode="native",outcome="failed"} 1
sidecarkit_operator_inplace_upgrades_total{mode="native",outcome="upgraded"} 1
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "sidecarkit_operator_inplace_upgrades_total"); err != nil {
		t.Error(err)
	}
}

// TestFailures: an app container restarted by the change (a kubelet
// without native sidecars restarts the whole Pod for an init container's
// image) and a sidecar never ready within ReadyTimeout both halt.
func TestFailures(t *testing.T) {
	v1 := spec(t, "registry.example/proxy:1")
	e := newEnv(t, 1, pod(t, "a", v1, sidecar.Native))
	e.step(t)
	e.kubelet(t, "a", "", 1)
	if r := e.step(t); len(r) != 1 || r[0].Succeeded || !strings.Contains(r[0].Reason, `app container "app" restarted`) {
		t.Errorf("app restarted: %+v", r)
	}

	e = newEnv(t, 1, pod(t, "a", v1, sidecar.Native))
	e.step(t)
	e.now = e.now.Add(30 * time.Second)
	if r := e.step(t); len(r) != 0 {
		t.Errorf("finished before the timeout: %+v", r)
	}
	e.now = e.now.Add(31 * time.Second)
	if r := e.step(t); len(r) != 1 || r[0].Succeeded || !strings.Contains(r[0].Reason, "within 1m0s") {
		t.Errorf("timeout: %+v", r)
	}
}

// TestMaxUnavailable: two Pods may be in flight, still one patch per step.
func TestMaxUnavailable(t *testing.T) {
	v1 := spec(t, "registry.example/proxy:1")
	e := newEnv(t, 2, pod(t, "a", v1, sidecar.Native), pod(t, "b", v1, sidecar.Native), pod(t, "c", v1, sidecar.Native))
	e.step(t)
	if e.image(t, "b") != "registry.example/proxy:1" {
		t.Error("two patches in one step")
	}
	e.step(t)
	e.step(t)
	if e.image(t, "b") != "registry.example/proxy:2" || e.image(t, "c") != "registry.example/proxy:1" {
		t.Errorf("b %s, c %s: want two in flight and no third", e.image(t, "b"), e.image(t, "c"))
	}
}

package repair_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/metrics"
	"github.com/sidecarkit/sidecarkit/examples/operator/repair"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

const ns = "shop"

var (
	enabled      = map[string]string{"sidecarkit.io/inject": "enabled"}
	isController = true
	created      = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
)

func ref(kind, name string) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: types.UID(kind + "/" + name), Controller: &isController}}
}

// pod returns a running Pod of app web, injected when withSidecar.
func pod(t *testing.T, name string, owners []metav1.OwnerReference, withSidecar bool) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "web"}, OwnerReferences: owners,
			CreationTimestamp: metav1.NewTime(created)},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if withSidecar {
		s, err := sidecar.LoadSpec([]byte("name: proxy\nimage: registry.example/proxy:1\n"))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := compat.Cluster{APIServerVersion: "v1.33.1", Nodes: []corev1.Node{{Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.33.1"}}}}}.For(nil)
		res, err := sidecar.Inject(&p.ObjectMeta, &p.Spec, s, c, sidecar.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Mutation.Apply(&p.ObjectMeta, &p.Spec); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func template() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}}}}
}

func owners() []client.Object {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	return []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: enabled}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, UID: "Deployment/web"},
			Spec: appsv1.DeploymentSpec{Selector: sel, Template: template()}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: ns, UID: "ReplicaSet/web-1", OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "Deployment/web", Controller: &isController}}},
			Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: template()}},
		&appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: ns, UID: "ReplicaSet/bare"},
			Spec: appsv1.ReplicaSetSpec{Selector: sel, Template: template()}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns, UID: "StatefulSet/db"},
			Spec: appsv1.StatefulSetSpec{Selector: sel, Template: template()}},
	}
}

type env struct {
	c   client.Client
	r   *repair.Reconciler
	ev  *events.FakeRecorder
	reg *prometheus.Registry
	now time.Time
}

func newEnv(t *testing.T, restart bool, objs ...client.Object) *env {
	t.Helper()
	e := &env{ev: events.NewFakeRecorder(100), reg: prometheus.NewRegistry(), now: created.Add(time.Hour)}
	m, err := metrics.New(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	e.c = fake.NewClientBuilder().WithObjects(append(owners(), objs...)...).Build()
	e.r = &repair.Reconciler{Client: e.c, Sidecar: "proxy", Namespaces: labels.SelectorFromSet(enabled), Restart: restart,
		Recorder: e.ev, Metrics: m, Now: func() time.Time { return e.now }}
	return e
}

func (e *env) reconcile(t *testing.T, namespace, name string) ctrl.Result {
	t.Helper()
	res, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (e *env) restartedAt(t *testing.T, obj client.Object) string {
	t.Helper()
	if err := e.c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Annotations[repair.RestartedAtAnnotation]
	case *appsv1.StatefulSet:
		return o.Spec.Template.Annotations[repair.RestartedAtAnnotation]
	}
	return ""
}

func reasons(ev *events.FakeRecorder) string {
	var out []string
	for {
		select {
		case e := <-ev.Events:
			out = append(out, strings.Fields(e)[1])
		default:
			return strings.Join(out, ",")
		}
	}
}

func TestMissing(t *testing.T) {
	p := pod(t, "p", nil, true)
	if repair.Missing(p, "proxy") {
		t.Error("an injected Pod counted as missing the sidecar")
	}
	if !repair.Missing(pod(t, "q", nil, false), "proxy") {
		t.Error("a Pod without the sidecar counted as injected")
	}
	// A record without its container (someone removed it from the
	// manifest and kept the annotation) is not a verified sidecar.
	p.Spec.InitContainers = nil
	if !repair.Missing(p, "proxy") {
		t.Error("a record without its container counted as injected")
	}
	// A container of the name without a record is not ours.
	q := pod(t, "q", nil, false)
	q.Spec.Containers = append(q.Spec.Containers, corev1.Container{Name: "proxy", Image: "x"})
	if !repair.Missing(q, "proxy") {
		t.Error("a container without a record counted as injected")
	}
}

// TestReport: without Restart, a Pod of an enabled namespace without the
// sidecar is reported (Event, counter); injected Pods, Pods of other
// namespaces, finished and static Pods are not.
func TestReport(t *testing.T) {
	done := pod(t, "done", ref("ReplicaSet", "web-1"), false)
	done.Status.Phase = corev1.PodSucceeded
	static := pod(t, "static", nil, false)
	static.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"}
	elsewhere := pod(t, "elsewhere", nil, false)
	elsewhere.Namespace = "other"
	e := newEnv(t, false, pod(t, "missed", ref("ReplicaSet", "web-1"), false), pod(t, "fine", ref("ReplicaSet", "web-1"), true), done, static, elsewhere)
	for _, p := range []string{"missed", "fine", "done", "static"} {
		e.reconcile(t, ns, p)
	}
	e.reconcile(t, "other", "elsewhere")
	if got := reasons(e.ev); got != repair.ReasonMissing {
		t.Errorf("events %q, want one %s", got, repair.ReasonMissing)
	}
	if at := e.restartedAt(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}); at != "" {
		t.Errorf("restarted without Restart: %s", at)
	}
	want := `
# HELP sidecarkit_operator_repairs_total Pods found without the sidecar they should carry and what was done, by owner kind and outcome (missing, restarted, blocked, unrepairable).
# TYPE sidecarkit_operator_repairs_total counter
sidecarkit_operator_repairs_total{kind="Deployment",outcome="missing"} 1
`
	if err := testutil.GatherAndCompare(e.reg, strings.NewReader(want), "sidecarkit_operator_repairs_total"); err != nil {
		t.Error(err)
	}
}

// TestRestart: the Deployment (through the Pod's ReplicaSet) or the
// StatefulSet is restarted once: the other Pods of the same rollout see
// the restart and wait for it; a bare ReplicaSet's Pod cannot be replaced
// that way; the Pod's containers are never touched.
func TestRestart(t *testing.T) {
	e := newEnv(t, true,
		pod(t, "web-a", ref("ReplicaSet", "web-1"), false), pod(t, "web-b", ref("ReplicaSet", "web-1"), false),
		pod(t, "db-0", ref("StatefulSet", "db"), false), pod(t, "bare-a", ref("ReplicaSet", "bare"), false))
	for _, p := range []string{"web-a", "web-b", "db-0", "bare-a"} {
		e.reconcile(t, ns, p)
	}
	stamp := e.now.UTC().Format(time.RFC3339)
	if at := e.restartedAt(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}); at != stamp {
		t.Errorf("Deployment restartedAt %q, want %s", at, stamp)
	}
	if at := e.restartedAt(t, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}}); at != stamp {
		t.Errorf("StatefulSet restartedAt %q, want %s", at, stamp)
	}
	got := reasons(e.ev)
	if strings.Count(got, repair.ReasonRestarted) != 4 || strings.Count(got, repair.ReasonMissing) != 4 || strings.Count(got, repair.ReasonUnrepairable) != 1 {
		t.Errorf("events %s: want 4 missing, 2 restarts (on Pod and owner each) and 1 unsupported", got)
	}
	var p corev1.Pod
	if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "web-a"}, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.Containers) != 1 || len(p.Spec.InitContainers) != 0 {
		t.Errorf("the Pod was edited: %+v", p.Spec)
	}

	// A Pod of the restarted rollout created without the sidecar again
	// (the webhook still down): no second restart within the cooldown,
	// one after it.
	again := pod(t, "web-c", ref("ReplicaSet", "web-1"), false)
	again.CreationTimestamp = metav1.NewTime(e.now.Add(time.Minute))
	if err := e.c.Create(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(2 * time.Minute)
	if res := e.reconcile(t, ns, "web-c"); res.RequeueAfter != 8*time.Minute {
		t.Errorf("within the cooldown: requeue after %v, want 8m", res.RequeueAfter)
	}
	if at := e.restartedAt(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}); at != stamp {
		t.Errorf("restarted again within the cooldown: %s", at)
	}
	e.now = e.now.Add(8 * time.Minute)
	e.reconcile(t, ns, "web-c")
	if at := e.restartedAt(t, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}); at != e.now.UTC().Format(time.RFC3339) {
		t.Errorf("not restarted after the cooldown: %s", at)
	}
}

// TestDisruptionBudget: a PodDisruptionBudget that selects the Pod and
// allows no disruption holds the restart back, and it goes ahead once the
// budget allows one.
func TestDisruptionBudget(t *testing.T) {
	one := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Generation: 1},
		Spec:   policyv1.PodDisruptionBudgetSpec{MinAvailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status: policyv1.PodDisruptionBudgetStatus{ObservedGeneration: 1, DisruptionsAllowed: 0}}
	e := newEnv(t, true, pod(t, "web-a", ref("ReplicaSet", "web-1"), false), pdb)
	if res := e.reconcile(t, ns, "web-a"); res.RequeueAfter != repair.BlockedRetry {
		t.Errorf("blocked: requeue after %v", res.RequeueAfter)
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}}
	if at := e.restartedAt(t, d); at != "" {
		t.Errorf("restarted against the budget: %s", at)
	}
	if got := reasons(e.ev); !strings.Contains(got, repair.ReasonBlocked) {
		t.Errorf("events %s", got)
	}
	pdb.Status.DisruptionsAllowed = 1
	if err := e.c.Status().Update(context.Background(), pdb); err != nil {
		t.Fatal(err)
	}
	if res := e.reconcile(t, ns, "web-a"); res.RequeueAfter != 0 {
		t.Errorf("requeue after %v", res.RequeueAfter)
	}
	if at := e.restartedAt(t, d); at == "" {
		t.Error("not restarted once the budget allowed it")
	}
}

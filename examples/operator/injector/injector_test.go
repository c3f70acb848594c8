package injector_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/facts"
	"github.com/sidecarkit/sidecarkit/examples/operator/injector"
	"github.com/sidecarkit/sidecarkit/examples/operator/metrics"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

const ns = "shop"

var optIn = map[string]string{"sidecarkit.io/inject": "true"}

func loadSpec(t *testing.T) sidecar.Spec {
	t.Helper()
	b, err := os.ReadFile("../../testdata/sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sidecar.LoadSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func node(name, kubelet string, labels map[string]string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status:     corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: kubelet}},
	}
}

func podSpec(containers ...corev1.Container) corev1.PodTemplateSpec {
	if len(containers) == 0 {
		containers = []corev1.Container{{Name: "app", Image: "registry.example/shop/web:2.1"}}
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

func deployment(name string, lbls map[string]string, tmpl corev1.PodTemplateSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbls},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: tmpl,
		},
	}
}

// patches records the patches of pod templates sent, by type, and the
// JSON merge patches of the status annotation apart.
type patches struct {
	types  []string
	status []string
}

func (p *patches) funcs() interceptor.Funcs {
	return interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, pt client.Patch, opts ...client.PatchOption) error {
		if pt.Type() == types.MergePatchType {
			b, err := pt.Data(obj)
			if err != nil {
				return err
			}
			p.status = append(p.status, string(b))
		} else {
			p.types = append(p.types, string(pt.Type()))
		}
		return c.Patch(ctx, obj, pt, opts...)
	}}
}

type env struct {
	c       client.WithWatch
	r       *injector.Reconciler
	patches *patches
	events  *events.FakeRecorder
}

func newEnv(t *testing.T, pt injector.PatchType, objs ...client.Object) *env {
	t.Helper()
	return newEnvAPI(t, "v1.33.2", pt, objs...)
}

// newEnvAPI makes an environment whose API server has the given version;
// "" means the API server's capability is unknown.
func newEnvAPI(t *testing.T, apiVersion string, pt injector.PatchType, objs ...client.Object) *env {
	t.Helper()
	p := &patches{}
	c := fake.NewClientBuilder().WithObjects(objs...).WithInterceptorFuncs(p.funcs()).Build()
	ev := events.NewFakeRecorder(100)
	apiFacts := func(context.Context) (facts.APIServer, error) {
		return facts.APIServer{}, errors.New("unreachable")
	}
	if apiVersion != "" {
		apiFacts = func(context.Context) (facts.APIServer, error) { return facts.APIServer{Version: apiVersion}, nil }
	}
	r := &injector.Reconciler{
		Client:    c,
		Kind:      mustKind("Deployment"),
		Selector:  labels.SelectorFromSet(optIn),
		Spec:      loadSpec(t),
		Facts:     &facts.Cluster{Nodes: c, APIServer: apiFacts},
		PatchType: pt,
		Recorder:  ev,
	}
	return &env{c: c, r: r, patches: p, events: ev}
}

func (e *env) reconcile(t *testing.T, name string) error {
	t.Helper()
	_, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
	return err
}

func (e *env) deployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

func names(l []corev1.Container) string {
	var s []string
	for _, c := range l {
		n := c.Name
		if c.RestartPolicy != nil {
			n += "(" + string(*c.RestartPolicy) + ")"
		}
		s = append(s, n)
	}
	return strings.Join(s, ",")
}

func TestReconcileDeployment(t *testing.T) {
	tests := []struct {
		name       string
		apiVersion string // "" is v1.33.2, "-" unknown
		nodes      []*corev1.Node
		labels     map[string]string
		template   corev1.PodTemplateSpec
		patchType  injector.PatchType
		options    sidecar.Options
		// want: init containers and containers after one reconcile.
		wantInit, wantContainers string
		wantPatch                string // the patch type sent; "" for none
		reason                   string
	}{
		{name: "native, strategic", nodes: []*corev1.Node{node("a", "v1.31.2", nil), node("b", "v1.33.0", nil)},
			labels: optIn, template: podSpec(), wantInit: "proxy(Always)", wantContainers: "app",
			wantPatch: string(types.StrategicMergePatchType)},
		{name: "native, json", nodes: []*corev1.Node{node("a", "v1.31.2", nil)}, patchType: injector.JSONPatch,
			labels: optIn, template: podSpec(), wantInit: "proxy(Always)", wantContainers: "app",
			wantPatch: string(types.JSONPatchType)},
		{name: "not opted in", nodes: []*corev1.Node{node("a", "v1.31.2", nil)},
			labels: map[string]string{"sidecarkit.io/inject": "false"}, template: podSpec(), wantContainers: "app"},
		{name: "an old node makes legacy", nodes: []*corev1.Node{node("a", "v1.31.2", nil), node("old", "v1.27.9", nil)},
			labels: optIn, template: podSpec(), wantContainers: "proxy,app", wantPatch: string(types.StrategicMergePatchType),
			reason: "the weakest node strips restartPolicy; neither pinning nor the universal pair is allowed"},
		{name: "an old node, pinning allowed", nodes: []*corev1.Node{node("a", "v1.31.2", nil), node("old", "v1.27.9", nil)},
			labels: optIn, template: podSpec(), options: sidecar.Options{AllowPinned: true},
			wantInit: "proxy(Always)", wantContainers: "app", wantPatch: string(types.StrategicMergePatchType)},
		{name: "pinned stays pinned", nodes: []*corev1.Node{node("a", "v1.31.2", map[string]string{compat.NodeLabel: "native"}),
			node("old", "v1.27.9", map[string]string{compat.NodeLabel: "strips"})},
			labels: optIn, template: podSpec(), options: sidecar.Options{AllowPinned: true},
			wantInit: "proxy(Always)", wantContainers: "app", wantPatch: string(types.StrategicMergePatchType),
			reason: "the pin is not counted when judging the template again (else it flips every round)"},
		{name: "nodeSelector avoids the old node", nodes: []*corev1.Node{node("a", "v1.31.2", map[string]string{"pool": "new"}), node("old", "v1.27.9", nil)},
			labels: optIn, template: func() corev1.PodTemplateSpec {
				p := podSpec()
				p.Spec.NodeSelector = map[string]string{"pool": "new"}
				return p
			}(), wantInit: "proxy(Always)", wantContainers: "app", wantPatch: string(types.StrategicMergePatchType),
			reason: "only nodes the template may land on count"},
		{name: "labelled rejecting node", nodes: []*corev1.Node{node("a", "v1.31.2", map[string]string{compat.NodeLabel: "rejects"})},
			labels: optIn, template: podSpec(), wantContainers: "proxy,app", wantPatch: string(types.StrategicMergePatchType),
			reason: "the labeler's label (from the kubelet's metrics) overrides the version"},
		{name: "no nodes: skew policy", labels: optIn, template: podSpec(), wantInit: "proxy(Always)", wantContainers: "app",
			wantPatch: string(types.StrategicMergePatchType), reason: "API server 1.33 allows kubelets 1.30+, all native"},
		{name: "no nodes, old API server: skew policy", apiVersion: "v1.30.4", labels: optIn, template: podSpec(), wantContainers: "proxy,app",
			wantPatch: string(types.StrategicMergePatchType), reason: "API server 1.30 allows 1.27 kubelets, which strip the field"},
		{name: "API server unknown: fallback", apiVersion: "-", nodes: []*corev1.Node{node("a", "v1.31.2", nil)}, labels: optIn,
			template: podSpec(), wantContainers: "proxy,app",
			wantPatch: string(types.StrategicMergePatchType), reason: "unknown capability: the fallback, legacy by default"},
		{name: "API server unknown: native fallback", apiVersion: "-", nodes: []*corev1.Node{node("a", "v1.31.2", nil)}, labels: optIn,
			template: podSpec(), options: sidecar.Options{Fallback: sidecar.Native}, wantInit: "proxy(Always)", wantContainers: "app",
			wantPatch: string(types.StrategicMergePatchType)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []client.Object{deployment("web", tt.labels, tt.template)}
			for _, n := range tt.nodes {
				objs = append(objs, n)
			}
			api := tt.apiVersion
			switch api {
			case "":
				api = "v1.33.2"
			case "-":
				api = ""
			}
			e := newEnvAPI(t, api, tt.patchType, objs...)
			e.r.Options = tt.options
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatal(err)
			}
			d := e.deployment(t, "web")
			if got := names(d.Spec.Template.Spec.InitContainers); got != tt.wantInit {
				t.Errorf("initContainers = %q, want %q (%s)", got, tt.wantInit, tt.reason)
			}
			if got := names(d.Spec.Template.Spec.Containers); got != tt.wantContainers {
				t.Errorf("containers = %q, want %q (%s)", got, tt.wantContainers, tt.reason)
			}
			if got := strings.Join(e.patches.types, " "); got != tt.wantPatch {
				t.Errorf("patches = %q, want %q", got, tt.wantPatch)
			}
			if tt.wantPatch != "" {
				if _, ok := d.Spec.Template.Annotations[sidecar.Annotation("proxy")]; !ok {
					t.Errorf("no injection record in the template's annotations: %v", d.Spec.Template.Annotations)
				}
				if len(d.Spec.Template.Spec.Volumes) != 1 || d.Spec.Template.Spec.Volumes[0].Name != "proxy-socket" {
					t.Errorf("volumes = %+v", d.Spec.Template.Spec.Volumes)
				}
			}
			// Idempotence: the second reconcile sends nothing.
			n := len(e.patches.types)
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatal(err)
			}
			if len(e.patches.types) != n {
				t.Errorf("second reconcile patched: %q", e.patches.types[n:])
			}
		})
	}
}

// TestMigrateWhenNodesAllow follows a workload injected as legacy while an
// old node exists; when the node is upgraded the Node watch requeues it and
// the sidecar moves to the native form with a JSON "move" (even in
// strategic mode: a strategic merge patch cannot move a container).
func TestMigrateWhenNodesAllow(t *testing.T) {
	for _, pt := range []injector.PatchType{injector.StrategicMerge, injector.JSONPatch} {
		t.Run(string(pt), func(t *testing.T) {
			e := newEnv(t, pt, deployment("web", optIn, podSpec()), node("a", "v1.31.2", nil), node("old", "v1.27.9", nil))
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatal(err)
			}
			if got := names(e.deployment(t, "web").Spec.Template.Spec.Containers); got != "proxy,app" {
				t.Fatalf("containers = %q, want the legacy sidecar first", got)
			}
			// The old node is upgraded.
			old := &corev1.Node{}
			if err := e.c.Get(context.Background(), types.NamespacedName{Name: "old"}, old); err != nil {
				t.Fatal(err)
			}
			old.Status.NodeInfo.KubeletVersion = "v1.32.1"
			if err := e.c.Status().Update(context.Background(), old); err != nil {
				t.Fatal(err)
			}
			reqs := e.r.Affected(context.Background(), old)
			if len(reqs) != 1 || reqs[0].Name != "web" {
				t.Fatalf("node event maps to %v, want the opted-in deployment", reqs)
			}
			e.patches.types = nil
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatal(err)
			}
			d := e.deployment(t, "web")
			if got := names(d.Spec.Template.Spec.InitContainers); got != "proxy(Always)" {
				t.Errorf("initContainers = %q, want the native sidecar", got)
			}
			if got := names(d.Spec.Template.Spec.Containers); got != "app" {
				t.Errorf("containers = %q", got)
			}
			if got := strings.Join(e.patches.types, " "); got != string(types.JSONPatchType) {
				t.Errorf("patches = %q, want one JSON patch (a move)", got)
			}
		})
	}
}

// TestKeepModeWhileUnknown: an injected workload keeps its mode when the
// nodes disappear from view; Auto would otherwise take the fallback and
// move every sidecar back to legacy.
func TestKeepModeWhileUnknown(t *testing.T) {
	e := newEnv(t, injector.StrategicMerge, deployment("web", optIn, podSpec()), node("a", "v1.31.2", nil))
	if err := e.reconcile(t, "web"); err != nil {
		t.Fatal(err)
	}
	// Now the API server's version cannot be read and the node is gone.
	e.r.Facts = &facts.Cluster{Nodes: e.c, APIServer: func(context.Context) (facts.APIServer, error) {
		return facts.APIServer{}, errors.New("unreachable")
	}}
	if err := e.c.Delete(context.Background(), node("a", "", nil)); err != nil {
		t.Fatal(err)
	}
	n := len(e.patches.types)
	if err := e.reconcile(t, "web"); err != nil {
		t.Fatal(err)
	}
	if len(e.patches.types) != n {
		t.Errorf("patched %q with the capability unknown", e.patches.types[n:])
	}
	if got := names(e.deployment(t, "web").Spec.Template.Spec.InitContainers); got != "proxy(Always)" {
		t.Errorf("initContainers = %q", got)
	}
}

// TestForgedRecordChoosesNoMode: a template without the sidecar whose
// record (forged, or copied from another workload) names a mode does not
// choose it while the capability is unknown: Auto takes the fallback.
func TestForgedRecordChoosesNoMode(t *testing.T) {
	d := deployment("web", optIn, podSpec())
	d.Spec.Template.Annotations = map[string]string{sidecar.Annotation("proxy"): `{"v":2,"mode":"native","reason":"all-native"}`}
	e := newEnv(t, injector.StrategicMerge, d)
	e.r.Facts = &facts.Cluster{Nodes: e.c, APIServer: func(context.Context) (facts.APIServer, error) {
		return facts.APIServer{}, errors.New("unreachable")
	}}
	if err := e.reconcile(t, "web"); err != nil {
		t.Fatal(err)
	}
	got := e.deployment(t, "web").Spec.Template.Spec
	if g := names(got.InitContainers); g != "" {
		t.Errorf("initContainers = %q, want none: the forged record chose native", g)
	}
	if g := names(got.Containers); !strings.Contains(g, "proxy") {
		t.Errorf("containers = %q, want the fallback's legacy sidecar", g)
	}
}

func TestMigrateAnnotation(t *testing.T) {
	shipper := corev1.Container{Name: "log-shipper", Image: "registry.example/shipper:3",
		Args: []string{"--follow"}, Resources: corev1.ResourceRequirements{}}
	tmpl := podSpec(corev1.Container{Name: "app", Image: "registry.example/shop/web:2.1"}, shipper)
	tests := []struct {
		name       string
		nodes      []*corev1.Node
		annotation string
		wantInit   string
		wantEvent  string
	}{
		{name: "all native", nodes: []*corev1.Node{node("a", "v1.30.0", nil)}, annotation: "log-shipper",
			wantInit: "proxy(Always),log-shipper(Always)", wantEvent: injector.ReasonMigrated},
		{name: "waits for the nodes", nodes: []*corev1.Node{node("a", "v1.30.0", nil), node("b", "v1.28.3", nil)}, annotation: "log-shipper",
			wantInit: "", wantEvent: injector.ReasonInjected},
		{name: "unknown container", nodes: []*corev1.Node{node("a", "v1.30.0", nil)}, annotation: "nope, ",
			wantInit: "proxy(Always)", wantEvent: injector.ReasonWarning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := deployment("web", optIn, tmpl)
			d.Annotations = map[string]string{injector.MigrateAnnotation: tt.annotation}
			objs := []client.Object{d}
			for _, n := range tt.nodes {
				objs = append(objs, n)
			}
			e := newEnv(t, injector.StrategicMerge, objs...)
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatal(err)
			}
			got := e.deployment(t, "web")
			if g := names(got.Spec.Template.Spec.InitContainers); g != tt.wantInit {
				t.Errorf("initContainers = %q, want %q", g, tt.wantInit)
			}
			for _, c := range got.Spec.Template.Spec.InitContainers {
				if c.Name == "log-shipper" && (c.Image != shipper.Image || strings.Join(c.Args, " ") != "--follow") {
					t.Errorf("migrated container changed: %+v", c)
				}
			}
			if !drained(e.events, tt.wantEvent) {
				t.Errorf("no %s event", tt.wantEvent)
			}
			n := len(e.patches.types)
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatal(err)
			}
			if len(e.patches.types) != n {
				t.Errorf("second reconcile patched: %q", e.patches.types[n:])
			}
		})
	}
}

func drained(ev *events.FakeRecorder, reason string) bool {
	found := false
	for {
		select {
		case e := <-ev.Events:
			if strings.Contains(e, " "+reason+" ") {
				found = true
			}
		default:
			return found
		}
	}
}

// TestForeignContainer: a container of the sidecar's name that sidecarkit
// did not inject is never overwritten, and retrying cannot help.
func TestForeignContainer(t *testing.T) {
	tmpl := podSpec(corev1.Container{Name: "app", Image: "a"}, corev1.Container{Name: "proxy", Image: "someone-elses"})
	e := newEnv(t, injector.StrategicMerge, deployment("web", optIn, tmpl), node("a", "v1.31.2", nil))
	err := e.reconcile(t, "web")
	if !errors.Is(err, reconcile.TerminalError(nil)) {
		t.Fatalf("err = %v, want a terminal error", err)
	}
	if len(e.patches.types) != 0 {
		t.Errorf("patched: %q", e.patches.types)
	}
	if !drained(e.events, injector.ReasonFailed) {
		t.Error("no failure event")
	}
}

// TestStaleRead: the patch carries the resourceVersion it was computed
// from, so a workload changed in between is not patched blindly; the
// conflict is returned for a retry on a fresh read.
func TestStaleRead(t *testing.T) {
	for _, pt := range []injector.PatchType{injector.StrategicMerge, injector.JSONPatch} {
		t.Run(string(pt), func(t *testing.T) {
			e := newEnv(t, pt, deployment("web", optIn, podSpec()), node("a", "v1.31.2", nil))
			raced := false
			e.r.Client = interceptor.NewClient(e.c, interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				if !raced {
					raced = true
					d := e.deployment(t, "web")
					d.Spec.Template.Spec.Containers[0].Image = "registry.example/shop/web:2.2"
					if err := c.Update(ctx, d); err != nil {
						return err
					}
				}
				return c.Patch(ctx, obj, p, opts...)
			}})
			res, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "web"}})
			switch {
			case errors.Is(err, reconcile.TerminalError(nil)):
				t.Fatalf("err = %v, want a retry", err)
			case err == nil && res.RequeueAfter != injector.ConflictRetry:
				t.Fatalf("result = %+v, want a requeue after a conflict", res)
			case pt == injector.StrategicMerge && err != nil:
				t.Errorf("err = %v, want a conflict, requeued without error", err)
			}
			if got := names(e.deployment(t, "web").Spec.Template.Spec.InitContainers); got != "" {
				t.Errorf("stale patch applied: initContainers = %q", got)
			}
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatalf("retry: %v", err)
			}
			d := e.deployment(t, "web")
			if got := names(d.Spec.Template.Spec.InitContainers); got != "proxy(Always)" {
				t.Errorf("after retry initContainers = %q", got)
			}
			if d.Spec.Template.Spec.Containers[0].Image != "registry.example/shop/web:2.2" {
				t.Errorf("the concurrent change was lost")
			}
		})
	}
}

func TestOtherKinds(t *testing.T) {
	tmpl := podSpec()
	cron := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report", Namespace: ns, Labels: optIn},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: func() corev1.PodTemplateSpec {
			p := podSpec()
			p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			return p
		}()}}},
	}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns, Labels: optIn},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: tmpl}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns, Labels: optIn},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: tmpl}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: ns, Labels: optIn},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: tmpl}}
	tests := []struct {
		kind string
		obj  client.Object
		spec func(client.Object) corev1.PodSpec
	}{
		{"CronJob", cron, func(o client.Object) corev1.PodSpec {
			return o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Spec
		}},
		{"StatefulSet", sts, func(o client.Object) corev1.PodSpec { return o.(*appsv1.StatefulSet).Spec.Template.Spec }},
		{"DaemonSet", ds, func(o client.Object) corev1.PodSpec { return o.(*appsv1.DaemonSet).Spec.Template.Spec }},
		{"ReplicaSet", rs, func(o client.Object) corev1.PodSpec { return o.(*appsv1.ReplicaSet).Spec.Template.Spec }},
	}
	for _, tt := range tests {
		for _, pt := range []injector.PatchType{injector.StrategicMerge, injector.JSONPatch} {
			t.Run(tt.kind+"/"+string(pt), func(t *testing.T) {
				e := newEnv(t, pt, tt.obj.DeepCopyObject().(client.Object), node("a", "v1.31.2", nil))
				e.r.Kind = mustKind(tt.kind)
				name := tt.obj.GetName()
				if err := e.reconcile(t, name); err != nil {
					t.Fatal(err)
				}
				got := tt.obj.DeepCopyObject().(client.Object)
				if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, got); err != nil {
					t.Fatal(err)
				}
				spec := tt.spec(got)
				if g := names(spec.InitContainers); g != "proxy(Always)" {
					t.Errorf("initContainers = %q", g)
				}
				if len(spec.Containers[0].VolumeMounts) != 1 || len(spec.Containers[0].Env) != 1 {
					t.Errorf("app container did not get the mount and env: %+v", spec.Containers[0])
				}
				if err := e.reconcile(t, name); err != nil {
					t.Fatal(err)
				}
				if len(e.patches.types) != 1 {
					t.Errorf("patches = %q, want exactly one", e.patches.types)
				}

				// Opting out removes exactly what was injected.
				got.SetLabels(nil)
				if err := e.c.Update(context.Background(), got); err != nil {
					t.Fatal(err)
				}
				if err := e.reconcile(t, name); err != nil {
					t.Fatal(err)
				}
				if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, got); err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tt.spec(tt.obj), tt.spec(got), cmpopts.EquateEmpty()); d != "" {
					t.Errorf("pod spec after opting out differs from the original (-want +got):\n%s", d)
				}
				if err := e.reconcile(t, name); err != nil {
					t.Fatal(err)
				}
				if len(e.patches.types) != 2 {
					t.Errorf("patches = %q, want the injection and one removal", e.patches.types)
				}
			})
		}
	}
}

// TestOptOut: a workload that stops matching the selector loses the
// sidecar, and only it (other changes made since stay); KeepOnOptOut
// leaves it; a workload that never had it is not touched.
func TestOptOut(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			e := newEnv(t, injector.StrategicMerge, deployment("web", optIn, podSpec()), deployment("plain", nil, podSpec()), node("a", "v1.31.2", nil))
			e.r.KeepOnOptOut = keep
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatal(err)
			}
			d := e.deployment(t, "web")
			d.Labels = map[string]string{"team": "shop"}
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/shop/web:2.2" // a change of the owner's since
			if err := e.c.Update(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			if err := e.reconcile(t, "web"); err != nil {
				t.Fatal(err)
			}
			if err := e.reconcile(t, "plain"); err != nil {
				t.Fatal(err)
			}
			got := e.deployment(t, "web").Spec.Template
			_, recorded := got.Annotations[sidecar.Annotation("proxy")]
			wantInit := ""
			if keep {
				wantInit = "proxy(Always)"
			}
			if g := names(got.Spec.InitContainers); g != wantInit || recorded != keep {
				t.Errorf("after opting out: initContainers %q, record %v; want %q, %v", g, recorded, wantInit, keep)
			}
			if got.Spec.Containers[0].Image != "registry.example/shop/web:2.2" {
				t.Errorf("the owner's change was lost: image %q", got.Spec.Containers[0].Image)
			}
			if !keep && (len(got.Spec.Containers[0].VolumeMounts) != 0 || len(got.Spec.Containers[0].Env) != 0 || len(got.Spec.Volumes) != 0) {
				t.Errorf("mounts, env or volumes left: %+v", got.Spec)
			}
			wantPatches := 2
			if keep {
				wantPatches = 1
			}
			if len(e.patches.types) != wantPatches {
				t.Errorf("patches = %q, want %d", e.patches.types, wantPatches)
			}
		})
	}
}

// TestAffected: a Node event enqueues only the opted-in workloads whose
// template may land on the node (by nodeSelector, required affinity or
// nodeName, ignoring the sidecar's own pin).
func TestAffected(t *testing.T) {
	pool := func(name, p string) *appsv1.Deployment {
		tmpl := podSpec()
		if p != "" {
			tmpl.Spec.NodeSelector = map[string]string{"pool": p}
		}
		return deployment(name, optIn, tmpl)
	}
	affine := pool("affine", "")
	affine.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"gpu", "batch"}}}}}}}}
	pinnedName := pool("on-n1", "")
	pinnedName.Spec.Template.Spec.NodeName = "n1"
	e := newEnv(t, injector.StrategicMerge, pool("anywhere", ""), pool("gpu-a", "gpu"), pool("web-a", "web"), affine, pinnedName,
		deployment("not-opted-in", nil, podSpec()))
	for _, tt := range []struct {
		node *corev1.Node
		want string
	}{
		{node("n1", "v1.30.0", map[string]string{"pool": "gpu"}), "affine,anywhere,gpu-a,on-n1"},
		{node("n2", "v1.30.0", map[string]string{"pool": "web"}), "anywhere,web-a"},
		{node("n3", "v1.30.0", map[string]string{"pool": "batch"}), "affine,anywhere"},
		{node("n4", "v1.30.0", nil), "anywhere"},
	} {
		var got []string
		for _, r := range e.r.Affected(context.Background(), tt.node) {
			got = append(got, r.Name)
		}
		sort.Strings(got)
		if strings.Join(got, ",") != tt.want {
			t.Errorf("%s %v: Affected = %v, want %s", tt.node.Name, tt.node.Labels, got, tt.want)
		}
	}

	// A template pinned by the sidecar itself (mode pinned) counts for
	// every node its own selection allows, not just native ones.
	e.r.Options.Mode = sidecar.Pinned
	if err := e.reconcile(t, "web-a"); err != nil {
		t.Fatal(err)
	}
	if aff := e.deployment(t, "web-a").Spec.Template.Spec.Affinity; aff == nil {
		t.Fatal("not pinned")
	}
	var got []string
	for _, r := range e.r.Affected(context.Background(), node("old", "v1.27.0", map[string]string{"pool": "web"})) {
		got = append(got, r.Name)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "anywhere,web-a" {
		t.Errorf("old web node: Affected = %v", got)
	}
}

// paged serves List in pages of the requested Limit with a continue
// token, as the API server does (the fake client ignores both), and counts
// the calls.
func paged(calls *int) interceptor.Funcs {
	return interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		*calls++
		o := &client.ListOptions{}
		o.ApplyOptions(opts)
		if err := c.List(ctx, list); err != nil {
			return err
		}
		ul, ok := list.(*unstructured.UnstructuredList)
		if !ok || o.Limit == 0 {
			return nil
		}
		start := 0
		if o.Continue != "" {
			fmt.Sscan(o.Continue, &start)
		}
		end := start + int(o.Limit)
		if end >= len(ul.Items) {
			end = len(ul.Items)
			ul.SetContinue("")
		} else {
			ul.SetContinue(fmt.Sprint(end))
		}
		ul.Items = ul.Items[start:end]
		return nil
	}}
}

// TestScan: the full scan pages through every workload of the kind and
// enqueues those opted in and those that still carry the sidecar (opted
// out while the operator was down), not others nor owned ones; the
// reconcile then removes the sidecar of the latter.
func TestScan(t *testing.T) {
	var objs []client.Object
	for i := 0; i < 2*injector.ScanPageSize+5; i++ {
		var l map[string]string
		if i%50 == 0 {
			l = optIn
		}
		objs = append(objs, deployment(fmt.Sprintf("d%03d", i), l, podSpec()))
	}
	calls := 0
	c := fake.NewClientBuilder().WithObjects(append(objs, node("a", "v1.31.2", nil))...).WithInterceptorFuncs(paged(&calls)).Build()
	e := newEnv(t, injector.StrategicMerge)
	e.c = c
	e.r.Client, e.r.Reader = c, c
	e.r.Facts = &facts.Cluster{Nodes: c, APIServer: func(context.Context) (facts.APIServer, error) { return facts.APIServer{Version: "v1.33.2"}, nil }}
	// d050 is injected, then loses its label "while the operator is down".
	if err := e.reconcile(t, "d050"); err != nil {
		t.Fatal(err)
	}
	d := e.deployment(t, "d050")
	d.Labels = nil
	if err := c.Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	calls = 0
	var got []string
	n, err := e.r.Scan(context.Background(), func(o client.Object) bool {
		got = append(got, o.GetName())
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "d000,d050,d100,d150,d200"; strings.Join(got, ",") != want || n != 5 {
		t.Errorf("Scan enqueued %d: %v, want %s", n, got, want)
	}
	if calls != 3 {
		t.Errorf("%d list calls for %d workloads in pages of %d", calls, len(objs), injector.ScanPageSize)
	}
	if err := e.reconcile(t, "d050"); err != nil {
		t.Fatal(err)
	}
	if ic := e.deployment(t, "d050").Spec.Template.Spec.InitContainers; len(ic) != 0 {
		t.Errorf("the sidecar of a workload that opted out while the operator was down stayed: %v", names(ic))
	}
	// Stopping early.
	n, _ = e.r.Scan(context.Background(), func(client.Object) bool { return false })
	if n != 0 {
		t.Errorf("enqueued %d after a refusal", n)
	}
}

func mustKind(name string) schema.GroupVersionKind {
	k, ok := injector.Kind(name)
	if !ok {
		panic("unknown kind " + name)
	}
	return k
}

func TestKindNames(t *testing.T) {
	if got := strings.Join(injector.KindNames(), ","); got != "CronJob,DaemonSet,Deployment,Job,ReplicaSet,StatefulSet" {
		t.Errorf("KindNames = %s", got)
	}
	if _, ok := injector.Kind("Pod"); ok {
		t.Error("Pods are the webhook's")
	}
}

// TestMetrics: each reconcile is counted by kind, mode and outcome in the
// registry the counters were registered with.
func TestMetrics(t *testing.T) {
	foreign := podSpec(corev1.Container{Name: "app", Image: "a"}, corev1.Container{Name: "proxy", Image: "someone-elses"})
	e := newEnv(t, injector.StrategicMerge, deployment("web", optIn, podSpec()), deployment("taken", optIn, foreign), node("a", "v1.31.2", nil))
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	e.r.Metrics = m
	for _, name := range []string{"web", "web", "taken"} {
		_ = e.reconcile(t, name)
	}
	d := e.deployment(t, "web")
	d.Labels = nil
	if err := e.c.Update(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if err := e.reconcile(t, "web"); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP sidecarkit_operator_injections_total Workload reconciles of the sidecar injector, by workload kind, injection mode and outcome (injected, migrated, removed, unchanged, skipped, failed).
# TYPE sidecarkit_operator_injections_total counter
sidecarkit_operator_injections_total{kind="Deployment",mode="auto",outcome="failed"} 1
sidecarkit_operator_injections_total{kind="Deployment",mode="native",outcome="injected"} 1
sidecarkit_operator_injections_total{kind="Deployment",mode="native",outcome="removed"} 1
sidecarkit_operator_injections_total{kind="Deployment",mode="native",outcome="unchanged"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sidecarkit_operator_injections_total"); err != nil {
		t.Error(err)
	}
	// A second operator in the process shares the counters.
	if _, err := metrics.New(reg); err != nil {
		t.Errorf("second registration: %v", err)
	}
}

func status(t *testing.T, o client.Object) injector.Status {
	t.Helper()
	var st injector.Status
	v, ok := o.GetAnnotations()[injector.StatusAnnotation]
	if !ok {
		return st
	}
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		t.Fatalf("%s: %v", v, err)
	}
	return st
}

// TestStatus: the workload's own annotation says what was injected and
// why; it is written once per change of the outcome, and a skip records
// an Event.
func TestStatus(t *testing.T) {
	e := newEnv(t, injector.StrategicMerge, deployment("web", optIn, podSpec()), node("a", "v1.31.2", nil), node("b", "v1.27.3", nil))
	if err := e.reconcile(t, "web"); err != nil {
		t.Fatal(err)
	}
	d := e.deployment(t, "web")
	want := injector.Status{Sidecar: "proxy", State: injector.StateInjected, Mode: "legacy", Image: "registry.example/mesh/proxy:1.9",
		Reason: "node-strips", Capability: "kubelet=strips orderedTermination=unsupported apiServer=stores"}
	got := status(t, d)
	got.Spec = "" // a hash
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	if _, ok := d.Spec.Template.Annotations[injector.StatusAnnotation]; ok {
		t.Error("status written into the pod template (it would roll the workload out)")
	}
	if !drained(e.events, injector.ReasonInjected) {
		t.Error("no injection event")
	}
	for i := 0; i < 2; i++ {
		if err := e.reconcile(t, "web"); err != nil {
			t.Fatal(err)
		}
	}
	if len(e.patches.status) != 1 {
		t.Errorf("status patches %q, want one", e.patches.status)
	}

	// The old node goes: migrated to native, and the status says so.
	if err := e.c.Delete(context.Background(), node("b", "", nil)); err != nil {
		t.Fatal(err)
	}
	if err := e.reconcile(t, "web"); err != nil {
		t.Fatal(err)
	}
	if st := status(t, e.deployment(t, "web")); st.State != injector.StateInjected || st.Mode != "native" || st.Reason != "all-native" {
		t.Errorf("after the upgrade: %+v", st)
	}

	// A foreign container: the status says why it failed.
	taken := deployment("taken", optIn, podSpec(corev1.Container{Name: "app", Image: "a"}, corev1.Container{Name: "proxy", Image: "x"}))
	if err := e.c.Create(context.Background(), taken); err != nil {
		t.Fatal(err)
	}
	if err := e.reconcile(t, "taken"); !errors.Is(err, reconcile.TerminalError(nil)) {
		t.Fatalf("err = %v", err)
	}
	if st := status(t, e.deployment(t, "taken")); st.State != injector.StateFailed || !strings.Contains(st.Reason, `"proxy"`) {
		t.Errorf("foreign container: %+v", st)
	}
}

func job(name string, lbls map[string]string, tmpl corev1.PodTemplateSpec, owner *metav1.OwnerReference) *batchv1.Job {
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: lbls}, Spec: batchv1.JobSpec{Template: tmpl}}
	if owner != nil {
		j.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return j
}

// TestJob: a Job's pod template cannot change, so a Job without the
// sidecar is reported (status, a Warning Event), never patched; a Job
// created with it (by the webhook) is reported injected; a Job of a
// CronJob is its CronJob's.
func TestJob(t *testing.T) {
	injected := podSpec(corev1.Container{Name: "app", Image: "a"})
	{
		// Inject into a copy the way the webhook would have.
		var tmp corev1.PodTemplateSpec
		injected.DeepCopyInto(&tmp)
		in, err := sidecar.NewInjector(loadSpec(t))
		if err != nil {
			t.Fatal(err)
		}
		c, _ := compat.Cluster{APIServerVersion: "v1.33.2", Nodes: []corev1.Node{*node("a", "v1.31.2", nil)}}.For(nil)
		res, err := in.Inject(context.Background(), &tmp.ObjectMeta, &tmp.Spec, c, sidecar.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Mutation.Apply(&tmp.ObjectMeta, &tmp.Spec); err != nil {
			t.Fatal(err)
		}
		injected = tmp
	}
	isController := true
	owner := &metav1.OwnerReference{APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: "u1", Controller: &isController}
	e := newEnv(t, injector.StrategicMerge,
		job("plain", optIn, podSpec(), nil), job("webhooked", optIn, injected, nil), job("nightly-1", optIn, podSpec(), owner),
		node("a", "v1.31.2", nil))
	e.r.Kind = mustKind("Job")
	get := func(name string) *batchv1.Job {
		var j batchv1.Job
		if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &j); err != nil {
			t.Fatal(err)
		}
		return &j
	}
	for _, name := range []string{"plain", "webhooked", "nightly-1", "plain"} {
		if err := e.reconcile(t, name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(e.patches.types) != 0 {
		t.Errorf("a Job's template was patched: %q", e.patches.types)
	}
	if st := status(t, get("plain")); st.State != injector.StateSkipped || !strings.Contains(st.Reason, "cannot change after creation") {
		t.Errorf("plain Job: %+v", st)
	}
	if !drained(e.events, injector.ReasonSkipped) {
		t.Error("no skip event")
	}
	if st := status(t, get("webhooked")); st.State != injector.StateInjected || st.Mode != "native" {
		t.Errorf("Job injected at creation: %+v", st)
	}
	if _, ok := get("nightly-1").Annotations[injector.StatusAnnotation]; ok {
		t.Error("a CronJob's Job was annotated")
	}
	if len(e.patches.status) != 2 {
		t.Errorf("status patches: %q, want one per Job not owned", e.patches.status)
	}
}

// TestOwnedReplicaSet: a Deployment's ReplicaSet is left to its
// Deployment (patching it would make the Deployment create another).
func TestOwnedReplicaSet(t *testing.T) {
	isController := true
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d4f", Namespace: ns, Labels: optIn,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "u", Controller: &isController}}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: podSpec()}}
	e := newEnv(t, injector.StrategicMerge, rs, node("a", "v1.31.2", nil))
	e.r.Kind = mustKind("ReplicaSet")
	if err := e.reconcile(t, "web-5d4f"); err != nil {
		t.Fatal(err)
	}
	if len(e.patches.types)+len(e.patches.status) != 0 {
		t.Errorf("an owned ReplicaSet was patched: %q %q", e.patches.types, e.patches.status)
	}
}

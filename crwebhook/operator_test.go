package crwebhook_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/crwebhook"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

func unstructuredOf(t *testing.T, raw []byte) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	return u
}

// inject decodes u and injects the test sidecar for c, as an operator's
// reconciler does.
func inject(t *testing.T, u *unstructured.Unstructured, c compat.Capability) *patch.Mutation {
	t.Helper()
	obj, err := crwebhook.DecodeWorkload(u)
	if err != nil {
		t.Fatal(err)
	}
	res, err := newInjector(t).InjectObject(context.Background(), obj, c, sidecar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Mutation
}

// deploymentKept are fields of testdata/deployment.json unknown to
// k8s.io/api v0.28 that no patch of its pod template may lose.
var deploymentKept = []string{
	"/metadata/x-future-metadata",
	"/spec/x-future-strategy-field",
	"/spec/template/spec/hostnameOverride",
	"/spec/template/spec/resources",
}

// TestPatchWorkloadStrategicMerge: an injection without a move is sent as
// a strategic merge patch carrying the resourceVersion. The client records
// it (controller-runtime's fake client applies a strategic merge patch to
// a typed copy of the object, which would drop the unknown fields on its
// own account), and the test applies it with apimachinery's strategicpatch,
// as the API server does.
func TestPatchWorkloadStrategicMerge(t *testing.T) {
	raw := readFile(t, "testdata/deployment.json")
	u := unstructuredOf(t, raw)
	u.SetResourceVersion("7")
	var sent []client.Patch
	var body []byte
	c := interceptor.NewClient(fake.NewClientBuilder().Build(), interceptor.Funcs{
		Patch: func(_ context.Context, _ client.WithWatch, obj client.Object, p client.Patch, _ ...client.PatchOption) error {
			sent = append(sent, p)
			var err error
			body, err = p.Data(obj)
			return err
		},
	})
	m := inject(t, u, capability(t, "v1.33.1", "v1.33.1"))
	if m.HasMoves() || m.Empty() {
		t.Fatalf("mutation: moves %v, empty %v; want an insert", m.HasMoves(), m.Empty())
	}
	pt, err := crwebhook.PatchWorkload(context.Background(), c, u, m)
	if err != nil {
		t.Fatal(err)
	}
	if pt != types.StrategicMergePatchType || len(sent) != 1 || sent[0].Type() != types.StrategicMergePatchType {
		t.Fatalf("sent %d patches, type %q", len(sent), pt)
	}
	var meta struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &meta); err != nil || meta.Metadata.ResourceVersion != "7" {
		t.Errorf("patch %s: resourceVersion %q (%v), want the precondition 7", body, meta.Metadata.ResourceVersion, err)
	}
	u.SetResourceVersion("")
	orig, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	out, err := strategicpatch.StrategicMergePatch(orig, body, &appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ptr := range append(deploymentKept, "/spec/template/spec/containers/0/lifecycle/stopSignal", "/spec/template/spec/containers/0/env/0/x-future-source") {
		want, _ := lookup(t, raw, ptr)
		if got, _ := lookup(t, out, ptr); got != want {
			t.Errorf("%s = %s after the patch, want %s", ptr, got, want)
		}
	}
	if v, _ := lookup(t, out, "/spec/template/spec/initContainers/0/restartPolicy"); v != `"Always"` {
		t.Errorf("initContainers[0].restartPolicy = %s in %s", v, out)
	}
}

// TestPatchWorkloadMove: a migration moves the legacy sidecar into the
// init containers; it is sent as a guarded JSON patch, applied here by
// controller-runtime's fake client (which keeps an object of a kind its
// scheme does not know unstructured, so nothing is lost on its side).
// A patch computed from a stale read fails on the resourceVersion test.
func TestPatchWorkloadMove(t *testing.T) {
	raw := readFile(t, "testdata/deployment.json")
	req := request(admissionv1.Create, "apps", "Deployment", raw)
	legacyRaw := apply(t, raw, patchOf(t, newHandler(t, crwebhook.Config{
		Capability: fixed(capability(t, "v1.33.1", "v1.27.9")),
		Workloads:  true,
	}).Handle(context.Background(), req), req))
	c := fake.NewClientBuilder().WithScheme(runtime.NewScheme()).WithObjects(unstructuredOf(t, legacyRaw)).Build()

	read := func() *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("apps/v1")
		u.SetKind("Deployment")
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "shop", Name: "web"}, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	u := read()
	stale := u.DeepCopy()
	native := capability(t, "v1.33.1", "v1.33.1")
	m := inject(t, u, native)
	if !m.HasMoves() {
		t.Fatal("migration without a move")
	}
	pt, err := crwebhook.PatchWorkload(context.Background(), c, u, m)
	if err != nil {
		t.Fatal(err)
	}
	if pt != types.JSONPatchType {
		t.Errorf("patch type %q, want JSON patch", pt)
	}
	got := read()
	out, err := got.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, ptr := range deploymentKept {
		want, _ := lookup(t, raw, ptr)
		if v, _ := lookup(t, out, ptr); v != want {
			t.Errorf("%s = %s after the move, want %s", ptr, v, want)
		}
	}
	if v, _ := lookup(t, out, "/spec/template/spec/initContainers/0/name"); v != `"proxy"` {
		t.Errorf("initContainers[0].name = %s", v)
	}
	if v, _ := lookup(t, out, "/spec/template/spec/containers/0/lifecycle/stopSignal"); v != `"SIGUSR1"` {
		t.Errorf("app's stopSignal = %s after the move", v)
	}
	if got.GetResourceVersion() == stale.GetResourceVersion() {
		t.Fatalf("resourceVersion %s unchanged by the patch", got.GetResourceVersion())
	}

	// The same migration from the stale read: refused, nothing changed.
	_, err = crwebhook.PatchWorkload(context.Background(), c, stale, inject(t, stale, native))
	if err == nil || !strings.Contains(err.Error(), "Deployment shop/web") || !strings.Contains(err.Error(), "resourceVersion") {
		t.Errorf("stale patch: err = %v, want a failed precondition", err)
	}
	t.Logf("stale patch: %v", err)
	after, err := read().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(out) {
		t.Errorf("stale patch changed the object:\n%s\nwas\n%s", after, out)
	}
}

func TestPatchWorkloadErrors(t *testing.T) {
	raw := readFile(t, "testdata/deployment.json")
	calls := 0
	c := interceptor.NewClient(fake.NewClientBuilder().Build(), interceptor.Funcs{
		Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
			calls++
			return nil
		},
	})
	u := unstructuredOf(t, raw)
	m := inject(t, u, capability(t, "v1.33.1", "v1.33.1"))
	u.SetResourceVersion("3")
	empty := patch.New(nil, &corev1.PodSpec{})

	if pt, err := crwebhook.PatchWorkload(context.Background(), c, u, empty); pt != "" || err != nil {
		t.Errorf("empty mutation: %q, %v; want nothing sent", pt, err)
	}
	noRV := unstructuredOf(t, raw)
	tests := []struct {
		name string
		c    client.Client
		u    *unstructured.Unstructured
		m    *patch.Mutation
		want string
	}{
		{"no resourceVersion", c, noRV, m, "resourceVersion is empty"},
		{"nil client", nil, u, m, "client is nil"},
		{"nil object", c, nil, m, "object is nil"},
		{"nil mutation", c, u, nil, "mutation is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := crwebhook.PatchWorkload(context.Background(), tt.c, tt.u, tt.m)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if calls != 0 {
		t.Errorf("%d patches sent", calls)
	}
	if _, err := crwebhook.DecodeWorkload(unstructuredOf(t, []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`))); err == nil {
		t.Error("DecodeWorkload of a ConfigMap: no error")
	}
}

// TestPatchWorkloadUninject: a mutation sidecar.Uninject made from the
// decoded workload's Meta and Spec (which renders for a Pod by default) is
// sent at the workload's pod template and removes the sidecar there.
func TestPatchWorkloadUninject(t *testing.T) {
	raw := readFile(t, "testdata/deployment.json")
	req := request(admissionv1.Create, "apps", "Deployment", raw)
	injected := apply(t, raw, patchOf(t, newHandler(t, crwebhook.Config{
		Capability: fixed(capability(t, "v1.33.1", "v1.33.1")),
		Workloads:  true,
	}).Handle(context.Background(), req), req))
	u := unstructuredOf(t, injected)
	u.SetResourceVersion("9")
	obj, err := crwebhook.DecodeWorkload(u)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sidecar.Uninject(obj.Meta, obj.Spec, newInjector(t).Name())
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	c := interceptor.NewClient(fake.NewClientBuilder().Build(), interceptor.Funcs{
		Patch: func(_ context.Context, _ client.WithWatch, obj client.Object, p client.Patch, _ ...client.PatchOption) error {
			var err error
			body, err = p.Data(obj)
			return err
		},
	})
	if pt, err := crwebhook.PatchWorkload(context.Background(), c, u, m); err != nil || pt != types.StrategicMergePatchType {
		t.Fatalf("PatchWorkload: %q, %v", pt, err)
	}
	u.SetResourceVersion("")
	orig, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	out, err := strategicpatch.StrategicMergePatch(orig, body, &appsv1.Deployment{})
	if err != nil {
		t.Fatalf("apply %s: %v", body, err)
	}
	if v, ok := lookup(t, out, "/spec/containers"); ok {
		t.Errorf("patch %s wrote /spec/containers = %s (a Pod's path)", body, v)
	}
	if v, _ := lookup(t, out, "/spec/template/spec/initContainers"); strings.Contains(v, `"proxy"`) {
		t.Errorf("sidecar still in the template after the uninjection: %s", v)
	}
	for _, ptr := range deploymentKept {
		want, _ := lookup(t, raw, ptr)
		if got, _ := lookup(t, out, ptr); got != want {
			t.Errorf("%s = %s after the uninjection, want %s", ptr, got, want)
		}
	}
}

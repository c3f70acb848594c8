package sidecar

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/encoded"
	"github.com/sidecarkit/sidecarkit/patch"
)

// freshTestSpec is a sidecar with a volume of its own, one it needs from
// the Pod (shared), app mounts and app env.
func freshTestSpec() Spec {
	return Spec{
		Container: corev1.Container{Name: "proxy", Image: "proxy:1",
			Ports:        []corev1.ContainerPort{{Name: "admin", ContainerPort: 15000}},
			Resources:    corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}},
			VolumeMounts: []corev1.VolumeMount{{Name: "sock", MountPath: "/sock"}, {Name: "shared", MountPath: "/shared"}}},
		Volumes:   []corev1.Volume{{Name: "sock", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		AppMounts: []corev1.VolumeMount{{Name: "sock", MountPath: "/sock"}, {Name: "sock", MountPath: "/shared", ReadOnly: true}},
		AppEnv:    []corev1.EnvVar{{Name: "SOCK", Value: "/sock/s"}, {Name: "MODE", Value: "x"}},
	}
}

// TestAppendFresh holds appendFresh to InjectObject and its Mutation's
// JSON patch on the Pods it covers (the same bytes, ops and Result), and
// checks that it declines the others, condition by condition.
func TestAppendFresh(t *testing.T) {
	const vols = `"volumes":[{"name":"shared","emptyDir":{}}]`
	for _, tc := range []struct {
		name      string
		placement Placement
		mode      Mode
		c         compat.Capability
		pod       string
		fresh     bool
	}{
		{"one container", Placement{}, Native, compat.Capability{}, `{"kind":"Pod","metadata":{"name":"p"},"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, true},
		{"no metadata", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, true},
		{"annotations", Placement{}, Native, compat.Capability{}, `{"metadata":{"annotations":{"k":"v"}},"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, true},
		{"lists present", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[{"name":"i"},{"name":"j"}],"containers":[{"name":"a","volumeMounts":[{"name":"shared","mountPath":"/x"}],"env":[{"name":"E"}]},{"name":"b","env":[]}]}}`, true},
		{"after", Placement{Position: After, Name: "i"}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[{"name":"i"},{"name":"j"}],"containers":[{"name":"a"}]}}`, true},
		{"before", Placement{Position: Before, Name: "j"}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[{"name":"i"},{"name":"j"}],"containers":[{"name":"a"}]}}`, true},
		{"last", Placement{Position: Last}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[{"name":"i"},{"name":"j"}],"containers":[{"name":"a"}]}}`, true},
		{"last, no init containers", Placement{Position: Last}, Native, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, true},
		{"auto", Placement{}, Auto, compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}, `{"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, true},
		{"auto, forced warnings", Placement{}, Native, compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerStores}, `{"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, true},
		{"auto, legacy", Placement{}, Auto, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, false},
		{"legacy", Placement{}, Legacy, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, false},
		{"placement's container missing", Placement{Position: After, Name: "x"}, Native, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, false},
		{"needed volume missing", Placement{}, Native, compat.Capability{}, `{"spec":{"containers":[{"name":"a"}]}}`, false},
		{"record", Placement{}, Native, compat.Capability{}, `{"metadata":{"annotations":{"sidecar.sidecarkit.io/proxy":"x"}},"spec":{` + vols + `,"containers":[{"name":"a"}]}}`, false},
		{"name taken", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"proxy"}]}}`, false},
		{"name taken, init", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[{"name":"proxy"}],"containers":[{"name":"a"}]}}`, false},
		{"name taken, ephemeral", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a"}],"ephemeralContainers":[{"name":"proxy"}]}}`, false},
		{"duplicate names", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a"},{"name":"a"}]}}`, false},
		{"duplicate across lists", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[{"name":"a"}],"containers":[{"name":"a"}]}}`, false},
		{"volume's name taken", Placement{}, Native, compat.Capability{}, `{"spec":{"volumes":[{"name":"shared","emptyDir":{}},{"name":"sock","emptyDir":{}}],"containers":[{"name":"a"}]}}`, false},
		{"token volume", Placement{}, Native, compat.Capability{}, `{"spec":{"volumes":[{"name":"shared","emptyDir":{}},{"name":"kube-api-access-1","projected":{"sources":[]}}],"containers":[{"name":"a"}]}}`, false},
		{"hostNetwork", Placement{}, Native, compat.Capability{}, `{"spec":{"hostNetwork":true,` + vols + `,"containers":[{"name":"a"}]}}`, false},
		{"mount at an app mount's path", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a"},{"name":"b","volumeMounts":[{"name":"shared","mountPath":"/shared"}]}]}}`, false},
		{"many containers", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[` + named("i", 10) + `],"containers":[` + named("c", 10) + `]}}`, true},
		{"many containers, two of a name", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[` + named("i", 10) + `],"containers":[` + named("c", 10) + `,{"name":"i3"}]}}`, false},
		{"many containers, the sidecar's name", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"initContainers":[` + named("i", 10) + `],"containers":[` + named("c", 10) + `,{"name":"proxy"}]}}`, false},
		{"app env set", Placement{}, Native, compat.Capability{}, `{"spec":{` + vols + `,"containers":[{"name":"a","env":[{"name":"MODE"}]}]}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := freshTestSpec()
			s.Placement = tc.placement
			in, err := NewInjector(s)
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Mode: tc.mode}
			obj, err := patch.DecodeAs([]byte(tc.pod), "Pod")
			if err != nil {
				t.Fatal(err)
			}
			got, res, n, ok := in.appendFresh(context.Background(), obj, tc.c, &o, []byte("prefix"))
			if ok != tc.fresh {
				t.Fatalf("fresh: %v, want %v", ok, tc.fresh)
			}
			if !ok {
				if got != nil || n != 0 || !reflect.DeepEqual(res, Result{}) {
					t.Errorf("declined, but returned %q, %d ops, %+v", got, n, res)
				}
				return
			}
			want, err := in.InjectObject(context.Background(), obj, tc.c, o)
			if err != nil {
				t.Fatal(err)
			}
			wantPatch, err := want.Mutation.MarshalJSONPatch()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, append([]byte("prefix"), wantPatch...)) {
				t.Errorf("fresh patch\n%s\nwant prefix and\n%s", got, wantPatch)
			}
			if n != want.Mutation.NumOps() {
				t.Errorf("fresh ops: %d, want %d", n, want.Mutation.NumOps())
			}
			if res.Mutation != nil || res.Mode != want.Mode || res.Code != want.Code || res.Reason != want.Reason || res.Skipped != want.Skipped ||
				!reflect.DeepEqual(res.Warnings, want.Warnings) {
				t.Errorf("fresh result %+v, want %+v", res, want)
			}
			if !reflect.DeepEqual(res.Resources(), ResourceReport{}) {
				t.Errorf("a Result without a Mutation reports resources: %+v", res.Resources())
			}
		})
	}
}

// named returns n containers named prefix0, prefix1, ... as JSON list
// elements.
func named(prefix string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"%s%d"}`, prefix, i)
	}
	return b.String()
}

// endsAfter is a context whose Err is nil for its first n calls and
// context.Canceled after.
type endsAfter struct {
	context.Context
	n int
}

func (c *endsAfter) Err() error {
	if c.n > 0 {
		c.n--
		return nil
	}
	return context.Canceled
}

// TestFreshDeclines checks the Injectors and Options appendFresh leaves
// to the general path whatever the Pod.
func TestFreshDeclines(t *testing.T) {
	pod := []byte(`{"spec":{"volumes":[{"name":"shared","emptyDir":{}}],"containers":[{"name":"a"}]}}`)
	hostPort := freshTestSpec()
	hostPort.Container.Ports[0].HostPort = 15000
	token := freshTestSpec()
	token.Volumes = append(token.Volumes, corev1.Volume{Name: "kube-api-access-x", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}})
	for _, tc := range []struct {
		name string
		spec Spec
		o    Options
		obj  func(*patch.Object) *patch.Object
		ctx  func() context.Context
		pod  string
	}{
		{name: "Decide", spec: freshTestSpec(), o: Options{Mode: Native, Decide: func(*metav1.ObjectMeta, *corev1.PodSpec) Decision { return Decision{Inject: true} }}},
		{name: "hostPort", spec: hostPort, o: Options{Mode: Native}},
		{name: "a token volume of the sidecar's", spec: token, o: Options{Mode: Native}},
		{name: "universal", spec: freshTestSpec(), o: Options{Mode: Universal}},
		{name: "not a Pod", spec: freshTestSpec(), o: Options{Mode: Native}, obj: func(o *patch.Object) *patch.Object { o.Kind = "Deployment"; return o }},
		{name: "no object", spec: freshTestSpec(), o: Options{Mode: Native}, obj: func(*patch.Object) *patch.Object { return nil }},
		{name: "no spec", spec: freshTestSpec(), o: Options{Mode: Native}, obj: func(o *patch.Object) *patch.Object { o.Spec = nil; return o }},
		{name: "context ended", spec: freshTestSpec(), o: Options{Mode: Native}, ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}},
		{name: "context ends among the containers", spec: freshTestSpec(), o: Options{Mode: Native}, ctx: func() context.Context {
			return &endsAfter{Context: context.Background(), n: 1}
		}, pod: `{"spec":{"volumes":[{"name":"shared","emptyDir":{}}],"containers":[` + named("c", checkEvery) + `]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := NewInjector(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			raw := pod
			if tc.pod != "" {
				raw = []byte(tc.pod)
			}
			obj, err := patch.DecodeAs(raw, "Pod")
			if err != nil {
				t.Fatal(err)
			}
			if tc.obj != nil {
				obj = tc.obj(obj)
			}
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			if _, _, _, ok := in.appendFresh(ctx, obj, compat.Capability{}, &tc.o, nil); ok {
				t.Error("appendFresh took it")
			}
		})
	}
	// The same Injector for a Spec it covers takes the Pod: the cases
	// above decline for their one difference.
	in, err := NewInjector(freshTestSpec())
	if err != nil {
		t.Fatal(err)
	}
	obj, err := patch.DecodeAs(pod, "Pod")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := in.appendFresh(context.Background(), obj, compat.Capability{}, &Options{Mode: Native}, nil); !ok {
		t.Error("appendFresh declined the plain Pod")
	}
}

// compiledNative returns the Injector of s and its compiled native mode.
func compiledNative(t *testing.T, s Spec) (*Injector, *compiledMode) {
	t.Helper()
	in, err := NewInjector(s)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := in.plan(Native, &corev1.PodSpec{}, &Options{Mode: Native})
	if err != nil {
		t.Fatal(err)
	}
	return in, cm
}

// TestPrepareFresh checks each condition of a compiled mode that
// prepareFresh refuses, on a native mode changed in that one way (plans
// the planner does not make today, which the fresh path must not render
// as if they were native), and the volumes it tells the Pod to have.
func TestPrepareFresh(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*compiledMode)
	}{
		{"not compiled", func(cm *compiledMode) { cm.containers = nil }},
		{"no record key", func(cm *compiledMode) { cm.recordKey = "" }},
		{"not native", func(cm *compiledMode) { cm.plan.Mode = Legacy }},
		{"no init container", func(cm *compiledMode) { cm.plan.InitContainers = nil }},
		{"a regular container", func(cm *compiledMode) { cm.plan.Containers = cm.plan.InitContainers }},
		{"a node requirement", func(cm *compiledMode) { cm.plan.NodeRequirement = &corev1.NodeSelectorRequirement{Key: "k"} }},
		{"a volume not encoded", func(cm *compiledMode) { cm.encodedVolumes = nil }},
		{"a container not encoded", func(cm *compiledMode) { delete(cm.encoded, "proxy") }},
		{"two volumes of a name", func(cm *compiledMode) {
			cm.plan.Volumes = append(cm.plan.Volumes, cm.plan.Volumes[0])
			cm.encodedVolumes = append(cm.encodedVolumes, cm.encodedVolumes[0])
		}},
		{"an invalid container", func(cm *compiledMode) {
			cm.plan.InitContainers = append([]corev1.Container(nil), cm.plan.InitContainers...)
			cm.plan.InitContainers[0].Ports = []corev1.ContainerPort{{Name: "admin", ContainerPort: 1}, {Name: "admin", ContainerPort: 2}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cm := compiledNative(t, freshTestSpec())
			if cm.prepareFresh() == nil {
				t.Fatal("the unchanged mode is not prepared")
			}
			tc.change(cm)
			if f := cm.prepareFresh(); f != nil {
				t.Errorf("prepared: %+v", f)
			}
		})
	}
	s := freshTestSpec()
	s.Volumes = append(s.Volumes, corev1.Volume{Name: "kube-api-access-look-alike", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		corev1.Volume{Name: "certs", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}})
	s.Container.VolumeMounts = append(s.Container.VolumeMounts, corev1.VolumeMount{Name: "certs", MountPath: "/certs"}, corev1.VolumeMount{Name: "shared", MountPath: "/shared2"},
		corev1.VolumeMount{Name: "other", MountPath: "/other"})
	_, cm := compiledNative(t, s)
	f := cm.prepareFresh()
	if f == nil {
		t.Fatal("a token volume's look-alikes (its name without projected, projected under another name) are refused")
	}
	if want := []string{"sock", "kube-api-access-look-alike", "certs"}; !reflect.DeepEqual(f.vols, want) {
		t.Errorf("vols %q, want %q", f.vols, want)
	}
	if want := []string{"shared", "other"}; !reflect.DeepEqual(f.need, want) {
		t.Errorf("need %q, want %q", f.need, want)
	}
}

// TestFreshWarnings checks that the plan's warnings reach the Result, as
// the general path's do.
func TestFreshWarnings(t *testing.T) {
	in, cm := compiledNative(t, freshTestSpec())
	w := compat.Finding{Code: compat.CodeModeCaveat, Severity: compat.SeverityWarning, Message: "a plan's warning"}
	cm.plan.Warnings = []compat.Finding{w}
	obj, err := patch.DecodeAs([]byte(`{"spec":{"volumes":[{"name":"shared","emptyDir":{}}],"containers":[{"name":"a"}]}}`), "Pod")
	if err != nil {
		t.Fatal(err)
	}
	c := compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerStores} // a forced mode's warning first
	_, res, _, ok := in.appendFresh(context.Background(), obj, c, &Options{Mode: Native}, nil)
	if !ok {
		t.Fatal("declined")
	}
	want, err := in.InjectObject(context.Background(), obj, c, Options{Mode: Native})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) < 2 || res.Warnings[len(res.Warnings)-1] != w || !reflect.DeepEqual(res.Warnings, want.Warnings) {
		t.Errorf("warnings %+v, want %+v ending with the plan's", res.Warnings, want.Warnings)
	}
}

// TestFreshBridge checks internal/encoded.Inject, which package admission
// calls: what appendFresh returns, and false for arguments that are not
// its own.
func TestFreshBridge(t *testing.T) {
	in, err := NewInjector(freshTestSpec())
	if err != nil {
		t.Fatal(err)
	}
	obj, err := patch.DecodeAs([]byte(`{"spec":{"volumes":[{"name":"shared","emptyDir":{}}],"containers":[{"name":"a"}]}}`), "Pod")
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Mode: Native}
	want, wantRes, wantN, ok := in.appendFresh(context.Background(), obj, compat.Capability{}, o, nil)
	if !ok {
		t.Fatal("declined")
	}
	got, res, n, ok := encoded.Inject(context.Background(), in, obj, compat.Capability{}, o, nil)
	if !ok || !bytes.Equal(got, want) || n != wantN || !reflect.DeepEqual(res, wantRes) {
		t.Errorf("through the bridge: %v %d %+v %s; want %d %+v %s", ok, n, res, got, wantN, wantRes, want)
	}
	for _, tc := range []struct {
		name       string
		in, obj, o interface{}
	}{
		{"injector", "x", obj, o},
		{"nil injector", (*Injector)(nil), obj, o},
		{"object", in, "x", o},
		{"nil object", in, (*patch.Object)(nil), o},
		{"options", in, obj, Options{}},
		{"nil options", in, obj, (*Options)(nil)},
	} {
		if b, res, n, ok := encoded.Inject(context.Background(), tc.in, tc.obj, compat.Capability{}, tc.o, nil); ok || b != nil || res != nil || n != 0 {
			t.Errorf("%s: %v %q %v %d; want false", tc.name, ok, b, res, n)
		}
	}
}

// countingCtx counts the calls of Err.
type countingCtx struct {
	context.Context
	n int
}

func (c *countingCtx) Err() error {
	c.n++
	return nil
}

// TestFreshChecksContext checks that appendFresh looks at its context
// once before it starts and once every checkEvery application containers,
// as the general path does.
func TestFreshChecksContext(t *testing.T) {
	in, err := NewInjector(freshTestSpec())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ containers, calls int }{{1, 1}, {checkEvery - 1, 1}, {checkEvery, 2}, {2*checkEvery + 1, 3}} {
		obj, err := patch.DecodeAs([]byte(`{"spec":{"volumes":[{"name":"shared","emptyDir":{}}],"containers":[`+named("c", tc.containers)+`]}}`), "Pod")
		if err != nil {
			t.Fatal(err)
		}
		ctx := &countingCtx{Context: context.Background()}
		if _, _, _, ok := in.appendFresh(ctx, obj, compat.Capability{}, &Options{Mode: Native}, nil); !ok {
			t.Fatalf("%d containers: declined", tc.containers)
		}
		if ctx.n != tc.calls {
			t.Errorf("%d containers: %d looks at the context, want %d", tc.containers, ctx.n, tc.calls)
		}
	}
}

// TestFreshVolumes holds appendFresh to the general path for a Spec of
// two volumes (added in order) and Pods with a token volume's
// look-alikes, which change no digest.
func TestFreshVolumes(t *testing.T) {
	s := freshTestSpec()
	s.Volumes = append(s.Volumes, corev1.Volume{Name: "certs", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "c"}}})
	in, err := NewInjector(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, pod := range []string{
		`{"spec":{"volumes":[{"name":"shared","emptyDir":{}}],"containers":[{"name":"a"}]}}`,
		`{"spec":{"volumes":[{"name":"shared","emptyDir":{}},{"name":"kube-api-access-1","emptyDir":{}}],"containers":[{"name":"a"}]}}`,
		`{"spec":{"volumes":[{"name":"shared","emptyDir":{}},{"name":"data","projected":{"sources":[]}}],"containers":[{"name":"a"}]}}`,
	} {
		obj, err := patch.DecodeAs([]byte(pod), "Pod")
		if err != nil {
			t.Fatal(err)
		}
		o := Options{Mode: Native}
		got, _, _, ok := in.appendFresh(context.Background(), obj, compat.Capability{}, &o, nil)
		if !ok {
			t.Fatalf("%s: declined", pod)
		}
		res, err := in.InjectObject(context.Background(), obj, compat.Capability{}, o)
		if err != nil {
			t.Fatal(err)
		}
		want, err := res.Mutation.MarshalJSONPatch()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: fresh\n%s\nwant\n%s", pod, got, want)
		}
	}
}

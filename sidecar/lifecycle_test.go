package sidecar_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// step injects s in mode into raw and returns the patched pod and the ops.
func injectRaw(t *testing.T, raw []byte, s sidecar.Spec, o sidecar.Options, c compat.Capability) ([]byte, patch.Ops, sidecar.Result) {
	t.Helper()
	obj := decode(t, raw)
	res, err := sidecar.Inject(obj.Meta, obj.Spec, s, c, o)
	if err != nil {
		t.Fatalf("Inject: %v", err)
	}
	ops, err := res.Mutation.JSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	if err := patchtest.Verify(raw, ops); err != nil {
		t.Errorf("Verify: %v", err)
	}
	return apply(t, raw, ops), ops, res
}

func pod(t *testing.T, name string) []byte {
	return readFile(t, filepath.Join("testdata/inject/pods", name+".json"))
}

func names(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// An older spec of our own sidecar is updated field by field, in place.
func TestInjectUpdatesOwnSidecar(t *testing.T) {
	native := capabilities["native"]
	v1, _, _ := injectRaw(t, pod(t, "several-init"), loadSpec(t, "plain"), sidecar.Options{Mode: sidecar.Native}, native)
	full := loadSpec(t, "full")
	v2, ops, res := injectRaw(t, v1, full, sidecar.Options{Mode: sidecar.Native}, native)
	if res.Skipped != "" {
		t.Fatalf("skipped: %s", res.Reason)
	}
	for _, op := range ops {
		if op.Path == "/spec/initContainers/0" {
			t.Errorf("the sidecar was replaced whole (%s %s); want field-level edits", op.Op, op.Path)
		}
	}
	checkUnknownKept(t, v1, v2)
	after := decode(t, v2)
	if got := names(after.Spec.InitContainers); !cmp.Equal(got, []string{"proxy", "setup", "migrate"}) {
		t.Errorf("init containers = %v", got)
	}
	want := full.Container.DeepCopy()
	always := corev1.ContainerRestartPolicyAlways
	want.RestartPolicy = &always
	if diff := cmp.Diff(want, &after.Spec.InitContainers[0], cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("updated sidecar (-want +got):\n%s", diff)
	}
	if len(after.Spec.Containers[0].VolumeMounts) != 2 || len(after.Spec.Containers[1].Env) != 2 {
		t.Errorf("app mounts/env not added: %+v", after.Spec.Containers)
	}
	// And back to the plain spec: what the full spec added goes away.
	v3, _, _ := injectRaw(t, v2, loadSpec(t, "plain"), sidecar.Options{Mode: sidecar.Native}, native)
	back := decode(t, v3)
	orig := decode(t, v1)
	if diff := cmp.Diff(orig.Spec, back.Spec, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("plain → full → plain differs from plain (-want +got):\n%s", diff)
	}
}

// A change of mode moves our sidecar between the lists with an RFC 6902
// move, keeping its unknown fields.
func TestInjectChangesMode(t *testing.T) {
	native := capabilities["native"]
	s := loadSpec(t, "full")
	v1, _, _ := injectRaw(t, pod(t, "several-init"), s, sidecar.Options{Mode: sidecar.Native}, native)
	// Another webhook added a field our types do not know to our sidecar.
	v1 = apply(t, v1, patch.Ops{{Op: "add", Path: "/spec/initContainers/0/x-added-by-other", Value: json.RawMessage(`"keep"`)}})
	v2, ops, res := injectRaw(t, v1, s, sidecar.Options{Mode: sidecar.Legacy}, native)
	if res.Mode != sidecar.Legacy {
		t.Fatalf("mode = %s", res.Mode)
	}
	if ops[0].Op != "move" {
		t.Errorf("first op = %s %s, want a move", ops[0].Op, ops[0].Path)
	}
	after := decode(t, v2)
	if got := names(after.Spec.Containers); !cmp.Equal(got, []string{"proxy", "app", "worker"}) {
		t.Errorf("containers = %v", got)
	}
	if after.Spec.Containers[0].RestartPolicy != nil {
		t.Errorf("legacy sidecar keeps restartPolicy %v", *after.Spec.Containers[0].RestartPolicy)
	}
	if !strings.Contains(string(v2), `"x-added-by-other":"keep"`) {
		t.Errorf("the move lost a field unknown to the API types: %s", v2)
	}
	checkUnknownKept(t, v1, v2)
	// Pinned adds the node requirement; native again removes it.
	v3, _, _ := injectRaw(t, v2, s, sidecar.Options{Mode: sidecar.Pinned}, native)
	p3 := decode(t, v3)
	if p3.Spec.Affinity == nil || len(p3.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) != 1 {
		t.Fatalf("pinned: no node requirement: %+v", p3.Spec.Affinity)
	}
	v4, _, _ := injectRaw(t, v3, s, sidecar.Options{Mode: sidecar.Native}, native)
	if p4 := decode(t, v4); p4.Spec.Affinity != nil && p4.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		t.Errorf("native after pinned keeps the requirement: %+v", p4.Spec.Affinity)
	}
}

// Uninject after Inject gives the original pod back.
func TestUninjectRestores(t *testing.T) {
	for _, name := range []string{"no-init", "several-init", "istio-native", "job-never"} {
		for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy, sidecar.Pinned} {
			raw := pod(t, name)
			injected, _, _ := injectRaw(t, raw, loadSpec(t, "full"), sidecar.Options{Mode: mode}, capabilities["native"])
			obj := decode(t, injected)
			m, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy")
			if err != nil {
				t.Fatalf("%s/%s: Uninject: %v", name, mode, err)
			}
			ops, err := m.JSONPatch(obj.Root)
			if err != nil {
				t.Fatal(err)
			}
			if err := patchtest.Verify(injected, ops); err != nil {
				t.Errorf("%s/%s: Verify uninject: %v", name, mode, err)
			}
			back := decode(t, apply(t, injected, ops))
			orig := decode(t, raw)
			// Uninject removes the requirement it added but leaves the
			// emptied affinity objects: they may hold fields the
			// compiled types do not show.
			if a := back.Spec.Affinity; a != nil && a.NodeAffinity != nil && cmp.Equal(*a.NodeAffinity, corev1.NodeAffinity{}) && a.PodAffinity == nil && a.PodAntiAffinity == nil {
				back.Spec.Affinity = nil
			}
			if diff := cmp.Diff(orig.Spec, back.Spec, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s/%s: spec after uninject (-original +got):\n%s", name, mode, diff)
			}
			if diff := cmp.Diff(orig.Meta.Annotations, back.Meta.Annotations, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s/%s: annotations after uninject (-original +got):\n%s", name, mode, diff)
			}
			checkUnknownKept(t, raw, apply(t, injected, ops))
		}
	}
}

func TestUninjectRefusesForeign(t *testing.T) {
	obj := decode(t, pod(t, "foreign-proxy"))
	if _, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy"); err == nil || !strings.Contains(err.Error(), "spec.containers[1]") {
		t.Errorf("Uninject of a foreign container: err = %v", err)
	}
	m, err := sidecar.Uninject(obj.Meta, obj.Spec, "absent")
	if err != nil || !m.Empty() {
		t.Errorf("Uninject of an absent sidecar = %v, %v; want an empty mutation", m, err)
	}
}

// A hand-written legacy sidecar migrates to native with a move that keeps
// its raw fields, and back.
func TestMigrate(t *testing.T) {
	raw := pod(t, "legacy-sidecar")
	obj := decode(t, raw)
	m, err := sidecar.Migrate(obj.Meta, obj.Spec, "old-proxy", sidecar.Native, sidecar.Placement{})
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := m.JSONPatch(obj.Root)
	got := string(mustJSON(t, ops))
	want := `[{"op":"add","path":"/spec/initContainers","value":[]},` +
		`{"op":"move","from":"/spec/containers/0","path":"/spec/initContainers/0"},` +
		`{"op":"add","path":"/spec/initContainers/0/restartPolicy","value":"Always"}]`
	if got != want {
		t.Errorf("migrate ops:\n got %s\nwant %s", got, want)
	}
	native := apply(t, raw, ops)
	checkUnknownKept(t, raw, native)
	n := decode(t, native)
	if len(n.Spec.InitContainers) != 1 || n.Spec.InitContainers[0].Name != "old-proxy" ||
		n.Spec.InitContainers[0].RestartPolicy == nil || *n.Spec.InitContainers[0].RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Fatalf("after migrate to native: %+v (ops %s)", n.Spec.InitContainers, got)
	}
	m2, err := sidecar.Migrate(n.Meta, n.Spec, "old-proxy", sidecar.Legacy, sidecar.Placement{})
	if err != nil {
		t.Fatal(err)
	}
	ops2, _ := m2.JSONPatch(n.Root)
	back := apply(t, native, ops2)
	if diff := cmp.Diff(obj.Spec, decode(t, back).Spec, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("native → legacy (-original +got):\n%s", diff)
	}
	checkUnknownKept(t, raw, back)
	// Already native: nothing to do.
	m3, err := sidecar.Migrate(n.Meta, n.Spec, "old-proxy", sidecar.Native, sidecar.Placement{})
	if err != nil || !m3.Empty() {
		t.Errorf("migrate a native sidecar to native: %v, empty=%v", err, m3.Empty())
	}
	if _, err := sidecar.Migrate(obj.Meta, obj.Spec, "nope", sidecar.Native, sidecar.Placement{}); err == nil {
		t.Error("migrate of a missing container: want an error")
	}
}

func TestDecideHook(t *testing.T) {
	obj := decode(t, pod(t, "no-init"))
	optOut := func(meta *metav1.ObjectMeta, _ *corev1.PodSpec) sidecar.Decision {
		if meta.Annotations["example.com/team"] == "a" {
			return sidecar.Decision{Inject: false, Reason: "team a opted out"}
		}
		return sidecar.Decision{Inject: true}
	}
	res, err := sidecar.Inject(obj.Meta, obj.Spec, loadSpec(t, "plain"), capabilities["native"], sidecar.Options{Decide: optOut})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != sidecar.SkipDeclined || res.Reason != "team a opted out" || !res.Mutation.Empty() {
		t.Errorf("Result = %+v; want declined with an empty mutation", res)
	}
}

func TestInjectErrors(t *testing.T) {
	obj := decode(t, pod(t, "no-init"))
	good := loadSpec(t, "plain")
	tests := []struct {
		name string
		spec sidecar.Spec
		opts sidecar.Options
		want string
	}{
		{"invalid name", sidecar.Spec{Container: corev1.Container{Name: "Proxy_1", Image: "x"}}, sidecar.Options{}, `sidecar.container.name: Invalid value: "Proxy_1"`},
		{"no image", sidecar.Spec{Container: corev1.Container{Name: "proxy"}}, sidecar.Options{}, `sidecar.container.image: Required value`},
		{"unknown mode", good, sidecar.Options{Mode: "sideways"}, `unknown mode "sideways"`},
		{"mount of a missing volume", sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "x",
			VolumeMounts: []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}}}, sidecar.Options{Mode: sidecar.Native},
			`spec.initContainers[0].volumeMounts[0].name: Not found: "nope"`},
		{"app mount path clash", sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "x"},
			Volumes:   []corev1.Volume{{Name: "sock", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			AppMounts: []corev1.VolumeMount{{Name: "sock", MountPath: "/data"}}}, sidecar.Options{Mode: sidecar.Native},
			`spec.containers[0].volumeMounts[0].mountPath: Invalid value: "/data": already mounts volume "data" here`},
		{"volume clash", sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "x"},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}}, sidecar.Options{Mode: sidecar.Native},
			`spec.volumes[0].name: Forbidden: the pod has a volume "data" that differs`},
		{"probe on a legacy-less init", good, sidecar.Options{Mode: sidecar.Universal}, "needs Options.Universal"},
	}
	for _, tc := range tests {
		_, err := sidecar.Inject(obj.Meta, obj.Spec, tc.spec, capabilities["native"], tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

// TestReinvocationAfterAnotherWebhook: another webhook adds an application
// container after ours ran; on reinvocation ours gives the new container
// the app mounts and env, touching nothing else, and then converges.
func TestReinvocationAfterAnotherWebhook(t *testing.T) {
	s := loadSpec(t, "full")
	if len(s.AppMounts)+len(s.AppEnv) == 0 {
		t.Fatal("the full spec must have app mounts or env")
	}
	injected, _, _ := injectRaw(t, pod(t, "no-init"), s, sidecar.Options{Mode: sidecar.Native}, capabilities["native"])
	var doc map[string]interface{}
	if err := json.Unmarshal(injected, &doc); err != nil {
		t.Fatal(err)
	}
	spec := doc["spec"].(map[string]interface{})
	spec["containers"] = append(spec["containers"].([]interface{}), map[string]interface{}{"name": "late", "image": "late:1", "x-late": true})
	withLate, _ := json.Marshal(doc)

	again, ops, res := injectRaw(t, withLate, s, sidecar.Options{Mode: sidecar.Native}, capabilities["native"])
	if res.Skipped != "" {
		t.Fatalf("skipped (%s): the late container has no mounts yet", res.Skipped)
	}
	for _, op := range ops {
		if !strings.Contains(op.Path, "/containers/1/") && !strings.HasPrefix(op.Path, "/metadata/annotations/") {
			t.Errorf("op %s %s touches more than the late container and our record", op.Op, op.Path)
		}
	}
	late := decode(t, again).Spec.Containers[1]
	for _, vm := range s.AppMounts {
		if !hasMount(late.VolumeMounts, vm.MountPath) {
			t.Errorf("late container lacks mount %s", vm.MountPath)
		}
	}
	for _, e := range s.AppEnv {
		if !hasEnv(late.Env, e.Name) {
			t.Errorf("late container lacks env %s", e.Name)
		}
	}
	obj := decode(t, again)
	third, err := sidecar.Inject(obj.Meta, obj.Spec, s, capabilities["native"], sidecar.Options{Mode: sidecar.Native})
	if err != nil {
		t.Fatal(err)
	}
	if third.Skipped != sidecar.SkipAlreadyInjected {
		t.Errorf("third run: skipped %q, want %q", third.Skipped, sidecar.SkipAlreadyInjected)
	}
}

func hasMount(l []corev1.VolumeMount, path string) bool {
	for _, m := range l {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

func hasEnv(l []corev1.EnvVar, name string) bool {
	for _, e := range l {
		if e.Name == name {
			return true
		}
	}
	return false
}

// TestSchedulingSpec: a pinned injection is judged without its own pin,
// and the rest of the affinity stays.
func TestSchedulingSpec(t *testing.T) {
	spec, err := sidecar.LoadSpec([]byte("name: proxy\nimage: proxy:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}},
		Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}}
	meta := &metav1.ObjectMeta{}
	caps, err := compat.ParseKubeletVersion("v1.27.1")
	if err != nil {
		t.Fatal(err)
	}
	api, err := compat.ParseAPIServerVersion("v1.33.0")
	if err != nil {
		t.Fatal(err)
	}
	res, err := sidecar.Inject(meta, pod, spec, api.Override(caps), sidecar.Options{AllowPinned: true})
	if err != nil || res.Mode != sidecar.Pinned {
		t.Fatalf("inject: %v, %s", err, res.Mode)
	}
	pinnedMeta, pinned := res.Mutation.Result()
	if len(pinned.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions) != 2 {
		t.Fatalf("not pinned: %+v", pinned.Affinity)
	}
	got, err := sidecar.SchedulingSpec(pinnedMeta, pinned, "proxy")
	if err != nil {
		t.Fatal(err)
	}
	exprs := got.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions
	if len(exprs) != 1 || exprs[0].Key != "zone" {
		t.Errorf("SchedulingSpec left %+v, want the zone requirement alone", exprs)
	}
	if len(pinned.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions) != 2 {
		t.Error("SchedulingSpec changed its input")
	}
	// Not injected, or not pinned: the spec itself.
	if same, err := sidecar.SchedulingSpec(meta, pod, "proxy"); err != nil || same != pod {
		t.Errorf("unpinned: %p, %v; want the input", same, err)
	}
}

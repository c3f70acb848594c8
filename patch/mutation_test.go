package patch_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

func testSpec() *corev1.PodSpec {
	return &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "setup"}, {Name: "migrate"}},
		Containers: []corev1.Container{{
			Name:         "app",
			Env:          []corev1.EnvVar{{Name: "MODE", Value: "prod"}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}},
		Volumes:             []corev1.Volume{{Name: "data"}},
	}
}

func TestEditErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *patch.Mutation) error
		// want is the error text; fieldType, when set, is the
		// field.ErrorType the error must wrap.
		want      string
		fieldType field.ErrorType
	}{
		{
			name: "duplicate name across lists",
			edit: func(m *patch.Mutation) error {
				return m.InsertContainer(patch.InitContainers, 0, corev1.Container{Name: "app"})
			},
			want:      `patch: insert: spec.initContainers[0].name: Duplicate value: "app": already used by spec.containers[0]`,
			fieldType: field.ErrorTypeDuplicate,
		},
		{
			name: "duplicate of an ephemeral container",
			edit: func(m *patch.Mutation) error {
				return m.AppendContainer(patch.Containers, corev1.Container{Name: "debug"})
			},
			want:      `patch: insert: spec.containers[1].name: Duplicate value: "debug": already used by spec.ephemeralContainers[0]`,
			fieldType: field.ErrorTypeDuplicate,
		},
		{
			name: "index out of range",
			edit: func(m *patch.Mutation) error {
				return m.InsertContainer(patch.InitContainers, 3, corev1.Container{Name: "proxy"})
			},
			want:      `patch: insert "proxy": spec.initContainers[3]: Invalid value: "proxy": index out of range: the list has 2 containers`,
			fieldType: field.ErrorTypeInvalid,
		},
		{
			name:      "nameless container",
			edit:      func(m *patch.Mutation) error { return m.AppendContainer(patch.Containers, corev1.Container{}) },
			want:      `patch: insert: spec.containers[1].name: Required value: a container needs a name`,
			fieldType: field.ErrorTypeRequired,
		},
		{
			name:      "remove missing container",
			edit:      func(m *patch.Mutation) error { return m.RemoveContainer(patch.Containers, "proxy") },
			want:      `patch: remove container: spec.containers: Not found: "proxy"`,
			fieldType: field.ErrorTypeNotFound,
		},
		{
			name: "unknown list",
			edit: func(m *patch.Mutation) error { return m.AppendContainer("sidecars", corev1.Container{Name: "x"}) },
			want: `patch: insert: unknown container list "sidecars" (want "initContainers" or "containers")`,
		},
		{
			name: "unknown container field",
			edit: func(m *patch.Mutation) error {
				return m.SetContainerField(patch.Containers, "app", "restartpolicy", "Always")
			},
			fieldType: field.ErrorTypeNotSupported,
		},
		{
			name:      "field value of the wrong type",
			edit:      func(m *patch.Mutation) error { return m.SetContainerField(patch.Containers, "app", "restartPolicy", 3) },
			fieldType: field.ErrorTypeInvalid,
		},
		{
			name:      "duplicate volume",
			edit:      func(m *patch.Mutation) error { return m.AddVolume(corev1.Volume{Name: "data"}) },
			want:      `patch: add volume: spec.volumes[1].name: Duplicate value: "data": already used by spec.volumes[0]`,
			fieldType: field.ErrorTypeDuplicate,
		},
		{
			name: "duplicate mount path",
			edit: func(m *patch.Mutation) error {
				return m.AddVolumeMount(patch.Containers, "app", corev1.VolumeMount{Name: "other", MountPath: "/data"})
			},
			want:      `patch: add to volumeMounts: spec.containers[0].volumeMounts[0]: Duplicate value: "/data"`,
			fieldType: field.ErrorTypeDuplicate,
		},
		{
			name:      "duplicate env",
			edit:      func(m *patch.Mutation) error { return m.AddEnv(patch.Containers, "app", corev1.EnvVar{Name: "MODE"}) },
			fieldType: field.ErrorTypeDuplicate,
		},
		{
			name:      "remove missing env",
			edit:      func(m *patch.Mutation) error { return m.RemoveEnv(patch.Containers, "app", "NOPE") },
			want:      `patch: remove from env: spec.containers[0].env: Not found: "NOPE"`,
			fieldType: field.ErrorTypeNotFound,
		},
		{
			name: "move to a bad index",
			edit: func(m *patch.Mutation) error {
				return m.MoveContainer(patch.Containers, "app", patch.InitContainers, 5)
			},
			want:      `patch: move container "app": spec.initContainers[5]: Invalid value: "app": index out of range: the list has 2 containers`,
			fieldType: field.ErrorTypeInvalid,
		},
		{
			// Within its list, the container's own place does not count.
			name: "move within a list past its end",
			edit: func(m *patch.Mutation) error {
				return m.MoveContainer(patch.InitContainers, "setup", patch.InitContainers, 2)
			},
			want:      `patch: move container "setup": spec.initContainers[2]: Invalid value: "setup": index out of range: the list has 1 container`,
			fieldType: field.ErrorTypeInvalid,
		},
		{
			name: "move a missing container",
			edit: func(m *patch.Mutation) error {
				return m.MoveContainer(patch.Containers, "nope", patch.InitContainers, 0)
			},
			want:      `patch: move container: spec.containers: Not found: "nope"`,
			fieldType: field.ErrorTypeNotFound,
		},
		{
			name: "move to an unknown list",
			edit: func(m *patch.Mutation) error { return m.MoveContainer(patch.Containers, "app", "sidecars", 0) },
			want: `patch: move container: unknown container list "sidecars" (want "initContainers" or "containers")`,
		},
		{
			name:      "nameless volume",
			edit:      func(m *patch.Mutation) error { return m.AddVolume(corev1.Volume{}) },
			want:      `patch: add volume: spec.volumes[1].name: Required value: a volume needs a name`,
			fieldType: field.ErrorTypeRequired,
		},
		{
			name:      "remove a missing volume",
			edit:      func(m *patch.Mutation) error { return m.RemoveVolume("nope") },
			want:      `patch: remove volume: spec.volumes: Not found: "nope"`,
			fieldType: field.ErrorTypeNotFound,
		},
		{
			name: "node requirement without a key",
			edit: func(m *patch.Mutation) error {
				return m.RequireNode(corev1.NodeSelectorRequirement{Operator: corev1.NodeSelectorOpExists})
			},
			want: `patch: node requirement: empty key`,
		},
		{
			name: "apply to a nil spec",
			edit: func(m *patch.Mutation) error { return m.Apply(nil, nil) },
			want: `patch: apply: nil spec`,
		},
		{
			name: "diff against a nil spec",
			edit: func(m *patch.Mutation) error { return m.Diff(nil) },
			want: `patch: diff: nil spec`,
		},
		{
			name: "empty annotation key",
			edit: func(m *patch.Mutation) error { return m.SetAnnotation("", "v") },
			want: `patch: metadata.annotations: empty key`,
		},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			m := patch.New(&metav1.ObjectMeta{Name: "p"}, testSpec())
			err := tc.edit(m)
			if err == nil {
				t.Fatal("want an error, got nil")
			}
			if tc.want != "" && err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
			if tc.fieldType != "" {
				var fe *field.Error
				if !errors.As(err, &fe) || fe.Type != tc.fieldType {
					t.Errorf("error %v: want a *field.Error of type %q", err, tc.fieldType)
				}
			}
			if !m.Empty() || m.Len() != 0 {
				t.Errorf("a failed edit recorded something: Len() = %d", m.Len())
			}
		})
	}
}

// A failed edit leaves the mutation usable and unchanged.
func TestFailedEditKeepsState(t *testing.T) {
	m := patch.New(&metav1.ObjectMeta{}, testSpec())
	if err := m.InsertContainer(patch.InitContainers, 0, corev1.Container{Name: "proxy"}); err != nil {
		t.Fatal(err)
	}
	if err := m.InsertContainer(patch.InitContainers, 9, corev1.Container{Name: "other"}); err == nil {
		t.Fatal("want an error")
	}
	ops, err := m.JSONPatch(patch.PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Path != "/spec/initContainers/0" {
		t.Errorf("ops = %s, want the one insert", mustMarshal(t, ops))
	}
}

// Inserting one container is one operation at any index, whatever the list
// holds: the op count is minimal.
func TestInsertIsOneOp(t *testing.T) {
	for _, list := range []patch.List{patch.InitContainers, patch.Containers} {
		for n := 0; n <= 4; n++ {
			for i := 0; i <= n; i++ {
				spec := &corev1.PodSpec{}
				for k := 0; k < n; k++ {
					c := corev1.Container{Name: "c" + string(rune('a'+k))}
					if list == patch.InitContainers {
						spec.InitContainers = append(spec.InitContainers, c)
					} else {
						spec.Containers = append(spec.Containers, c)
					}
				}
				m := patch.New(&metav1.ObjectMeta{}, spec)
				if err := m.InsertContainer(list, i, corev1.Container{Name: "proxy"}); err != nil {
					t.Fatal(err)
				}
				ops, err := m.JSONPatch(patch.PodRoot)
				if err != nil {
					t.Fatal(err)
				}
				if len(ops) != 1 || ops[0].Op != "add" {
					t.Errorf("%s n=%d i=%d: ops = %s, want one add", list, n, i, mustMarshal(t, ops))
				}
			}
		}
	}
}

func TestJSONPatchGuarded(t *testing.T) {
	m := patch.New(&metav1.ObjectMeta{}, testSpec())
	if err := m.InsertContainer(patch.InitContainers, 0, corev1.Container{Name: "proxy"}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddEnv(patch.InitContainers, "migrate", corev1.EnvVar{Name: "X", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveContainer(patch.InitContainers, "setup"); err != nil {
		t.Fatal(err)
	}
	ops, err := m.JSONPatch(patch.TemplateRoot, patch.Guarded())
	if err != nil {
		t.Fatal(err)
	}
	got := string(mustMarshal(t, ops))
	want := `[{"op":"add","path":"/spec/template/spec/initContainers/0","value":{"name":"proxy"}},` +
		`{"op":"test","path":"/spec/template/spec/initContainers/2/name","value":"migrate"},` +
		`{"op":"add","path":"/spec/template/spec/initContainers/2/env","value":[{"name":"X","value":"1"}]},` +
		`{"op":"test","path":"/spec/template/spec/initContainers/1/name","value":"setup"},` +
		`{"op":"remove","path":"/spec/template/spec/initContainers/1"}]`
	if got != want {
		t.Errorf("guarded patch:\n got %s\nwant %s", got, want)
	}
	plain, _ := m.JSONPatch(patch.TemplateRoot)
	if len(plain) != 3 {
		t.Errorf("unguarded patch has %d ops, want 3", len(plain))
	}
	// A guard fails on a document whose container moved.
	doc := []byte(`{"spec":{"template":{"spec":{"initContainers":[{"name":"migrate"},{"name":"setup"}],"containers":[{"name":"app"}]}}}}`)
	if _, err := applyPatch(doc, ops); err == nil {
		t.Error("guarded patch applied to a reordered document; want a failed test op")
	}
}

// TestGuardedMoveAndVolume: the guard of a move into an absent list comes
// before the list is created, and a volume's removal is guarded by its
// name.
func TestGuardedMoveAndVolume(t *testing.T) {
	spec := testSpec()
	spec.Containers = nil
	m := patch.New(&metav1.ObjectMeta{}, spec)
	if err := m.MoveContainer(patch.InitContainers, "migrate", patch.Containers, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveVolume("data"); err != nil {
		t.Fatal(err)
	}
	ops, err := m.JSONPatch(patch.PodRoot, patch.Guarded())
	if err != nil {
		t.Fatal(err)
	}
	got := string(mustMarshal(t, ops))
	want := `[{"op":"test","path":"/spec/initContainers/1/name","value":"migrate"},` +
		`{"op":"add","path":"/spec/containers","value":[]},` +
		`{"op":"move","from":"/spec/initContainers/1","path":"/spec/containers/0"},` +
		`{"op":"test","path":"/spec/volumes/0/name","value":"data"},` +
		`{"op":"remove","path":"/spec/volumes/0"}]`
	if got != want {
		t.Errorf("guarded patch:\n got %s\nwant %s", got, want)
	}
	b, err := m.MarshalJSONPatch(patch.PodRoot, patch.Guarded())
	if err != nil || string(b) != want {
		t.Errorf("MarshalJSONPatch(Guarded) = %s, %v; want %s", b, err, want)
	}
	if m.NumOps() != 3 {
		t.Errorf("NumOps = %d, want 3", m.NumOps())
	}
}

func TestEmptyMutation(t *testing.T) {
	m := patch.New(&metav1.ObjectMeta{Annotations: map[string]string{"a": "1"}}, testSpec())
	if err := m.SetAnnotation("a", "1"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveLabel("absent"); err != nil {
		t.Fatal(err)
	}
	if err := m.MoveContainer(patch.InitContainers, "setup", patch.InitContainers, 0); err != nil {
		t.Fatal(err)
	}
	ops, err := m.JSONPatch(patch.PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	if b := mustMarshal(t, ops); string(b) != "[]" {
		t.Errorf("ops = %s, want []", b)
	}
	var nilOps patch.Ops
	if b := mustMarshal(t, nilOps); string(b) != "[]" {
		t.Errorf("nil Ops encode as %s, want []", b)
	}
	smp, err := m.StrategicMerge(patch.PodRoot)
	if err != nil || string(smp) != "{}" {
		t.Errorf("StrategicMerge = %s, %v; want {}", smp, err)
	}
}

func TestDiffMutationRefusesMetadata(t *testing.T) {
	before := testSpec()
	after := before.DeepCopy()
	after.Containers[0].Image = "x"
	m, err := patch.Diff(before, after)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetAnnotation("k", "v"); err == nil || !strings.Contains(err.Error(), "New(meta, spec)") {
		t.Errorf("SetAnnotation on a Diff mutation: err = %v, want a pointer to New", err)
	}
}

func TestRootFor(t *testing.T) {
	for kind, want := range map[string]patch.Root{
		"Pod": patch.PodRoot, "Deployment": patch.TemplateRoot, "CronJob": patch.Root("/spec/jobTemplate/spec/template/spec"), "PodTemplate": patch.Root("/template/spec"),
	} {
		got, err := patch.RootFor(kind)
		if err != nil || got != want {
			t.Errorf("RootFor(%q) = %q, %v; want %q", kind, got, err, want)
		}
	}
	if _, err := patch.RootFor("Service"); err == nil || !strings.Contains(err.Error(), `"Service"`) {
		t.Errorf("RootFor(Service) err = %v", err)
	}
	if m, ok := patch.Root("/spec/jobTemplate/spec/template/spec").Metadata(); !ok || m != "/spec/jobTemplate/spec/template/metadata" {
		t.Errorf("cronJobRoot.Metadata() = %q, %v", m, ok)
	}
	if got := patch.Root("/spec/jobTemplate/spec/template/spec").FieldPath(); got != "spec.jobTemplate.spec.template.spec" {
		t.Errorf("FieldPath = %q", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"not json", `{`, "patch: decode: unexpected end of JSON input"},
		{"a kind that is not a string", `{"kind":1,"spec":{}}`, "patch: decode: json: cannot unmarshal number"},
		{"wrong kind", `{"kind":"Service","spec":{}}`, `kind "Service" has no pod spec`},
		{"no template", `{"kind":"Deployment","metadata":{"name":"d"},"spec":{}}`, `patch: no pod spec at spec.template.spec of Deployment "d"`},
		{"wrong type", `{"kind":"Pod","spec":{"containers":{}}}`, "patch: decode Pod:"},
		{"case-sensitive keys", `{"kind":"Pod","spec":{"Containers":[{"name":"a"}]}}`, ""},
	}
	for _, tc := range tests {
		o, err := patch.Decode([]byte(tc.doc))
		if tc.want == "" {
			if err != nil || len(o.Spec.Containers) != 0 {
				t.Errorf("%s: Decode = %v, %v; want keys matched case-sensitively", tc.name, o, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func applyPatch(doc []byte, ops patch.Ops) ([]byte, error) {
	b, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	return applyRaw(doc, b)
}

// TestDiffMovesAcrossLists: a container that Diff sees leave one list for
// the other moves there with its raw element, unknown fields included
// (found by FuzzDiff and FuzzJSONPatch: it used to be removed and re-added
// from its typed value).
func TestDiffMovesAcrossLists(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		edit      func(s *corev1.PodSpec)
	}{
		{"init to regular, emptying initContainers",
			`{"apiVersion":"v1","kind":"Pod","spec":{"initContainers":[{"name":"proxy","image":"p","x-u":1}],"containers":[{"name":"app","image":"a","x-v":2}]}}`,
			func(s *corev1.PodSpec) {
				s.Containers = append([]corev1.Container{s.InitContainers[0]}, s.Containers...)
				s.InitContainers = nil
			}},
		{"regular to init, into an absent list, with a field change",
			`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"proxy","image":"p","x-u":1},{"name":"app","image":"a"}]}}`,
			func(s *corev1.PodSpec) {
				always := corev1.ContainerRestartPolicyAlways
				c := s.Containers[0]
				c.RestartPolicy = &always
				s.InitContainers = []corev1.Container{c}
				s.Containers = s.Containers[1:]
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := patch.Decode([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			after := obj.Spec.DeepCopy()
			tc.edit(after)
			m, err := patch.Diff(obj.Spec, after)
			if err != nil {
				t.Fatal(err)
			}
			ops, err := m.JSONPatch(obj.Root)
			if err != nil {
				t.Fatal(err)
			}
			if err := patchtest.Verify([]byte(tc.raw), ops); err != nil {
				t.Fatalf("Verify: %v\nops: %s", err, mustMarshal(t, ops))
			}
			moved := false
			for _, op := range ops {
				moved = moved || op.Op == "move"
				if op.Op == "add" && strings.HasSuffix(op.Path, "/0") && strings.Contains(string(op.Value), `"proxy"`) {
					t.Errorf("proxy re-added from its typed value: %s", mustMarshal(t, ops))
				}
			}
			if !moved {
				t.Errorf("no move: %s", mustMarshal(t, ops))
			}
			checkRaw(t, []byte(tc.raw), ops, after, nil)
		})
	}
}

func TestNumOps(t *testing.T) {
	obj, err := patch.Decode([]byte(`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"app","image":"a"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := obj.Mutation()
	if err := m.InsertContainer(patch.InitContainers, 0, corev1.Container{Name: "proxy", Image: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddEnv(patch.Containers, "app", corev1.EnvVar{Name: "A", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	ops, _ := m.JSONPatch(obj.Root)
	guarded, _ := m.JSONPatch(obj.Root, patch.Guarded())
	if m.NumOps() != len(ops) || len(guarded) <= len(ops) {
		t.Errorf("NumOps %d, JSONPatch %d ops, guarded %d", m.NumOps(), len(ops), len(guarded))
	}
}

// A mutation never writes into the specs it was given: the one it was
// created from and the one Diff compared against, through every kind of
// edit made after the diff (each alone, then all in a row), every renderer,
// Result and Apply.
func TestNeverModifiesInputs(t *testing.T) {
	steps := []struct {
		name string
		edit func(m *patch.Mutation) error
	}{
		{"add mount", func(m *patch.Mutation) error {
			return m.AddVolumeMount(patch.Containers, "app", corev1.VolumeMount{Name: "data", MountPath: "/more"})
		}},
		{"remove mount", func(m *patch.Mutation) error { return m.RemoveVolumeMount(patch.Containers, "app", "/data") }},
		{"add env", func(m *patch.Mutation) error {
			return m.AddEnv(patch.Containers, "app", corev1.EnvVar{Name: "NEW", Value: "y"})
		}},
		{"remove env", func(m *patch.Mutation) error { return m.RemoveEnv(patch.Containers, "app", "MODE") }},
		{"add envFrom", func(m *patch.Mutation) error {
			return m.AddEnvFrom(patch.Containers, "late", corev1.EnvFromSource{Prefix: "P_"})
		}},
		{"set field", func(m *patch.Mutation) error { return m.SetContainerField(patch.Containers, "late", "image", "img:1") }},
		{"clear field", func(m *patch.Mutation) error { return m.ClearContainerField(patch.Containers, "app", "image") }},
		{"insert", func(m *patch.Mutation) error {
			return m.InsertContainer(patch.InitContainers, 0, corev1.Container{Name: "proxy"})
		}},
		{"move", func(m *patch.Mutation) error {
			return m.MoveContainer(patch.Containers, "late", patch.InitContainers, 1)
		}},
		{"remove container", func(m *patch.Mutation) error { return m.RemoveContainer(patch.InitContainers, "setup") }},
		{"add volume", func(m *patch.Mutation) error { return m.AddVolume(corev1.Volume{Name: "extra"}) }},
		{"remove volume", func(m *patch.Mutation) error { return m.RemoveVolume("data") }},
		{"set annotation", func(m *patch.Mutation) error { return m.SetAnnotation("a", "2") }},
		{"remove label", func(m *patch.Mutation) error { return m.RemoveLabel("l") }},
		{"require node", func(m *patch.Mutation) error {
			return m.RequireNode(corev1.NodeSelectorRequirement{Key: "k", Operator: corev1.NodeSelectorOpExists})
		}},
	}
	run := func(t *testing.T, edits ...func(m *patch.Mutation) error) {
		t.Helper()
		base := testSpec()
		base.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}},
		}}}
		meta := &metav1.ObjectMeta{Annotations: map[string]string{"a": "1"}, Labels: map[string]string{"l": "1"}}
		// Quantities as decoded (nothing cached): comparing them must not
		// fill their string caches.
		base.Containers[0].Resources.Requests = corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
		base.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}
		size := resource.NewQuantity(1<<30, resource.BinarySI) // no string cached
		base.Volumes[0].EmptyDir = &corev1.EmptyDirVolumeSource{SizeLimit: size}
		after := base.DeepCopy()
		after.Containers[0].Env = append(after.Containers[0].Env, corev1.EnvVar{Name: "EXTRA", Value: "x"})
		after.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		after.Containers = append(after.Containers, corev1.Container{Name: "late", Env: []corev1.EnvVar{{Name: "L"}}})
		after.InitContainers[0], after.InitContainers[1] = after.InitContainers[1], after.InitContainers[0]
		baseWas, metaWas, afterWas := base.DeepCopy(), meta.DeepCopy(), after.DeepCopy()

		m := patch.New(meta, base)
		if err := m.Diff(after); err != nil {
			t.Fatal(err)
		}
		for i, edit := range edits {
			if err := edit(m); err != nil {
				t.Fatalf("edit %d: %v", i, err)
			}
		}
		if _, err := m.MarshalJSONPatch(patch.PodRoot); err != nil {
			t.Fatal(err)
		}
		if _, err := m.StrategicMerge(patch.PodRoot); err != nil && !isMoveRefusal(err) {
			t.Fatal(err)
		}
		gotMeta, gotSpec := m.Result()
		gotSpec.Containers[0].Name = "scribbled" // the caller owns Result
		gotSpec.Containers[0].Env = append(gotSpec.Containers[0].Env[:0], corev1.EnvVar{Name: "scribbled"})
		if gotMeta != nil {
			gotMeta.Annotations["scribbled"] = "x"
		}
		if err := m.Apply(meta.DeepCopy(), base.DeepCopy()); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name      string
			got, want interface{}
		}{
			{"base spec", base, baseWas},
			{"metadata", meta, metaWas},
			{"diffed spec", after, afterWas},
		} {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("the mutation modified the %s:\n got %+v\nwant %+v", c.name, c.got, c.want)
			}
		}
	}
	var all []func(m *patch.Mutation) error
	for _, s := range steps {
		all = append(all, s.edit)
		t.Run(s.name, func(t *testing.T) { run(t, s.edit) })
	}
	t.Run("all", func(t *testing.T) { run(t, all...) })
}

// TestItemEncodingsReused: a volume mount or env variable added to many
// containers is encoded once, but never reused for one that differs, even
// when only a pointer field's target changed in between.
func TestItemEncodingsReused(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}}}
	m := patch.New(&metav1.ObjectMeta{}, spec)
	src := &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}
	prop := corev1.MountPropagationHostToContainer
	for _, c := range []string{"a", "b"} {
		if err := m.AddEnv(patch.Containers, c, corev1.EnvVar{Name: "POD", ValueFrom: src}); err != nil {
			t.Fatal(err)
		}
		if err := m.AddVolumeMount(patch.Containers, c, corev1.VolumeMount{Name: "v", MountPath: "/v", MountPropagation: &prop}); err != nil {
			t.Fatal(err)
		}
	}
	src.FieldRef.FieldPath = "metadata.namespace" // the caller's memory changes
	prop = corev1.MountPropagationBidirectional
	for _, c := range []string{"c", "d"} {
		if err := m.AddEnv(patch.Containers, c, corev1.EnvVar{Name: "POD", ValueFrom: src}); err != nil {
			t.Fatal(err)
		}
		if err := m.AddVolumeMount(patch.Containers, c, corev1.VolumeMount{Name: "v", MountPath: "/v", MountPropagation: &prop}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.MarshalJSONPatch(patch.PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	var ops []struct {
		Path  string
		Value json.RawMessage
	}
	if err := json.Unmarshal(b, &ops); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/spec/containers/0/env":          `[{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}]`,
		"/spec/containers/0/volumeMounts": `[{"name":"v","mountPath":"/v","mountPropagation":"HostToContainer"}]`,
		"/spec/containers/1/env":          `[{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}]`,
		"/spec/containers/1/volumeMounts": `[{"name":"v","mountPath":"/v","mountPropagation":"HostToContainer"}]`,
		"/spec/containers/2/env":          `[{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.namespace"}}}]`,
		"/spec/containers/2/volumeMounts": `[{"name":"v","mountPath":"/v","mountPropagation":"Bidirectional"}]`,
		"/spec/containers/3/env":          `[{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.namespace"}}}]`,
		"/spec/containers/3/volumeMounts": `[{"name":"v","mountPath":"/v","mountPropagation":"Bidirectional"}]`,
	}
	if len(ops) != len(want) {
		t.Fatalf("%d ops, want %d: %s", len(ops), len(want), b)
	}
	for _, op := range ops {
		if string(op.Value) != want[op.Path] {
			t.Errorf("%s = %s, want %s", op.Path, op.Value, want[op.Path])
		}
	}
	// Ops get values of their own.
	all, err := m.JSONPatch(patch.PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	all[0].Value[1] = 'X'
	if again, _ := m.MarshalJSONPatch(patch.PodRoot); !bytes.Equal(again, b) {
		t.Error("changing an op's value changed the mutation")
	}
}

// TestMetadataEditSequence: label and annotation edits in sequence (set,
// set to the same value, remove, set again, on a present and on an absent
// map) each see the earlier ones; the patch applied to the raw document
// gives what Result and StrategicMerge give; the caller's maps stay as
// they were.
func TestMetadataEditSequence(t *testing.T) {
	meta := &metav1.ObjectMeta{Name: "web", Annotations: map[string]string{"a": "1", "b/c": "2"}}
	raw := []byte(`{"metadata":{"name":"web","annotations":{"a":"1","b/c":"2"},"x-meta":true},"spec":{"containers":[{"name":"app"}]}}`)
	m := patch.New(meta, &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}})
	steps := []struct {
		do  func() error
		ops int // the mutation's op count after the step
	}{
		{func() error { return m.SetAnnotation("a", "1") }, 0},   // the value it has
		{func() error { return m.SetAnnotation("c", "3") }, 1},   // a new key
		{func() error { return m.RemoveAnnotation("a") }, 2},     // a key of the document
		{func() error { return m.RemoveAnnotation("a") }, 2},     // removed already
		{func() error { return m.SetAnnotation("a", "4") }, 3},   // set again
		{func() error { return m.SetAnnotation("c", "3") }, 3},   // the value an edit set
		{func() error { return m.RemoveAnnotation("c") }, 4},     // a key an edit added
		{func() error { return m.SetLabel("x", "y") }, 5},        // an absent map: added whole
		{func() error { return m.SetLabel("z", "w") }, 6},        // the map an edit added
		{func() error { return m.RemoveLabel("x") }, 7},          //
		{func() error { return m.RemoveLabel("x") }, 7},          //
		{func() error { return m.SetAnnotation("b/c", "5") }, 8}, // an escaped key
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := m.NumOps(); got != s.ops {
			t.Fatalf("step %d: %d ops, want %d", i, got, s.ops)
		}
	}
	wantAnn := map[string]string{"a": "4", "b/c": "5"}
	wantLabels := map[string]string{"z": "w"}
	gotMeta, _ := m.Result()
	if !reflect.DeepEqual(gotMeta.Annotations, wantAnn) || !reflect.DeepEqual(gotMeta.Labels, wantLabels) {
		t.Errorf("Result: annotations %v labels %v; want %v %v", gotMeta.Annotations, gotMeta.Labels, wantAnn, wantLabels)
	}
	if want := map[string]string{"a": "1", "b/c": "2"}; !reflect.DeepEqual(meta.Annotations, want) || meta.Labels != nil {
		t.Errorf("the caller's metadata changed: %+v", meta)
	}
	ops, err := m.JSONPatch()
	if err != nil {
		t.Fatal(err)
	}
	patched, err := applyPatch(raw, ops)
	if err != nil {
		t.Fatalf("apply %+v: %v", ops, err)
	}
	var doc struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
			Labels      map[string]string `json:"labels"`
			XMeta       bool              `json:"x-meta"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(patched, &doc); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc.Metadata.Annotations, wantAnn) || !reflect.DeepEqual(doc.Metadata.Labels, wantLabels) || !doc.Metadata.XMeta {
		t.Errorf("patched document's metadata: %+v", doc.Metadata)
	}
	smp, err := m.StrategicMerge()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"metadata":{"annotations":{"a":"4","b/c":"5"},"labels":{"z":"w"}}}`; string(smp) != want {
		t.Errorf("strategic merge patch %s, want %s", smp, want)
	}
}

// TestItemOpsOwnTheirValue: one encoding of a mount serves every container
// it is added to (TestItemEncodingsReused), and the Ops JSONPatch returns
// hold copies: a caller that changes one op's value changes no other.
// The second mount added to a container with spare room in its list (the
// state grows a list by a quarter) keeps the first.
func TestItemOpsOwnTheirValue(t *testing.T) {
	var mounts []corev1.VolumeMount
	for i := 1; i <= 8; i++ {
		mounts = append(mounts, corev1.VolumeMount{Name: "v", MountPath: "/" + strconv.Itoa(i)})
	}
	mounts = mounts[:8:8]
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", VolumeMounts: mounts}, {Name: "b", VolumeMounts: mounts}}}
	m := patch.New(nil, spec)
	for _, mp := range []string{"/p", "/q"} {
		for _, c := range []string{"a", "b"} {
			if err := m.AddVolumeMount(patch.Containers, c, corev1.VolumeMount{Name: "proxy", MountPath: mp}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ops, err := m.JSONPatch()
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 4 {
		t.Fatalf("%d ops, want 4", len(ops))
	}
	want := string(ops[1].Value)
	for i := range ops[0].Value {
		ops[0].Value[i] = ' '
	}
	if got := string(ops[1].Value); got != want || want != `{"name":"proxy","mountPath":"/p"}` {
		t.Errorf("changing one op's value changed another's: %s", got)
	}
	_, result := m.Result()
	for _, c := range result.Containers {
		if n := len(c.VolumeMounts); n != 10 || c.VolumeMounts[8].MountPath != "/p" || c.VolumeMounts[9].MountPath != "/q" {
			t.Errorf("container %s: mounts %+v", c.Name, c.VolumeMounts)
		}
	}
	if len(spec.Containers[0].VolumeMounts) != 8 || len(mounts) != 8 {
		t.Errorf("the caller's mounts changed: %+v", spec.Containers[0].VolumeMounts)
	}
}

// TestDiffFromNil: Diff from a nil spec diffs from an empty one.
func TestDiffFromNil(t *testing.T) {
	m, err := patch.Diff(nil, &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalJSONPatch()
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"op":"add","path":"/spec/containers","value":[{"name":"app"}]}]`; string(b) != want {
		t.Errorf("patch %s, want %s", b, want)
	}
}

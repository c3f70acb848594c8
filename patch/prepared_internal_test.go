package patch

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/encoded"
)

// TestPreparedEncodings: a Mutation that uses prepared encodings
// (internal/encoded) renders the same JSON patch, byte for byte, as one
// that encodes every value itself, and uses a prepared encoding exactly
// for an equal item or the prepared annotation value: an item of the same
// mountPath or name that differs, another annotation value, a label of
// the prepared key, an annotation map to add are encoded as without.
func TestPreparedEncodings(t *testing.T) {
	prop := corev1.MountPropagationHostToContainer
	mounts := []corev1.VolumeMount{{Name: "v", MountPath: "/v"}, {Name: "w", MountPath: "/w", ReadOnly: true, MountPropagation: &prop}}
	env := []corev1.EnvVar{{Name: "POD", Value: "p"}, {Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
	items, err := encoded.Items(mounts, env)
	if err != nil {
		t.Fatal(err)
	}
	const key, value = "sidecar.sidecarkit.io/proxy", `{"v":1,"mode":"native"}`
	ann := encoded.Annotation(key, value)
	otherProp := corev1.MountPropagationNone
	type edit struct {
		mount    *corev1.VolumeMount
		env      *corev1.EnvVar
		key, val string
		label    bool
		prepared bool // the op's value is the prepared encoding
	}
	for _, tc := range []struct {
		name  string
		meta  *metav1.ObjectMeta
		edits []edit
	}{
		{name: "equal items and value", meta: &metav1.ObjectMeta{Annotations: map[string]string{"a": "b"}}, edits: []edit{
			{mount: &mounts[0], prepared: true}, {mount: &corev1.VolumeMount{Name: "w", MountPath: "/w", ReadOnly: true, MountPropagation: &prop}, prepared: true},
			{env: &env[0], prepared: true}, {env: &corev1.EnvVar{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}, prepared: true},
			{key: key, val: value, prepared: true}}},
		{name: "same path or name, different item", meta: &metav1.ObjectMeta{Annotations: map[string]string{}}, edits: []edit{
			{mount: &corev1.VolumeMount{Name: "other", MountPath: "/v"}}, {mount: &corev1.VolumeMount{Name: "w", MountPath: "/w", ReadOnly: true, MountPropagation: &otherProp}},
			{mount: &corev1.VolumeMount{Name: "x", MountPath: "/x"}},
			{env: &corev1.EnvVar{Name: "POD", Value: "q"}}, {env: &corev1.EnvVar{Name: "OTHER", Value: "p"}}}},
		{name: "another value, a label, another key", meta: &metav1.ObjectMeta{Annotations: map[string]string{"a": "b"}, Labels: map[string]string{}}, edits: []edit{
			{key: key, val: value + " "}, {key: key, val: value, label: true}, {key: key + "x", val: value}}},
		{name: "no annotation map", meta: &metav1.ObjectMeta{}, edits: []edit{{key: key, val: value}}},
		{name: "no metadata", edits: []edit{{key: key, val: value}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}
			var renders [2][]byte
			for k, use := range []bool{false, true} {
				m := New(tc.meta, spec)
				if use {
					encoded.Use(m, items)
					encoded.Use(m, ann)
				}
				for i, e := range tc.edits {
					var err error
					switch {
					case e.mount != nil:
						err = m.AddVolumeMount(Containers, "app", *e.mount)
					case e.env != nil:
						err = m.AddEnv(Containers, "app", *e.env)
					case e.label:
						err = m.SetLabel(e.key, e.val)
					default:
						err = m.SetAnnotation(e.key, e.val)
					}
					if err != nil {
						t.Fatalf("edit %d: %v", i, err)
					}
					if !use {
						continue
					}
					v := m.ops[len(m.ops)-1].value
					var shared bool
					for _, p := range [][]byte{items.(*preparedItems).mounts["/v"].json, items.(*preparedItems).mounts["/w"].json,
						items.(*preparedItems).env["POD"].json, items.(*preparedItems).env["IP"].json, ann.(*preparedAnnotation).quoted} {
						shared = shared || sameArray(v, p)
					}
					if shared != e.prepared {
						t.Errorf("edit %d: value %s is the prepared encoding: %v, want %v", i, v, shared, e.prepared)
					}
				}
				b, err := m.MarshalJSONPatch()
				if err != nil {
					t.Fatal(err)
				}
				renders[k] = b
			}
			if string(renders[0]) != string(renders[1]) {
				t.Errorf("with prepared encodings:\n%s\nwithout:\n%s", renders[1], renders[0])
			}
		})
	}
}

// TestPreparedCopies: the prepared items are deep copies: changing the
// mounts and env they were prepared from changes neither the items a
// Mutation matches nor the encodings it writes.
func TestPreparedCopies(t *testing.T) {
	prop := corev1.MountPropagationHostToContainer
	mounts := []corev1.VolumeMount{{Name: "v", MountPath: "/v", MountPropagation: &prop}}
	env := []corev1.EnvVar{{Name: "POD", Value: "p"}}
	items, err := encoded.Items(mounts, env)
	if err != nil {
		t.Fatal(err)
	}
	*mounts[0].MountPropagation = corev1.MountPropagationBidirectional
	mounts[0].Name, env[0].Value = "changed", "changed"
	m := New(&metav1.ObjectMeta{}, &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}})
	encoded.Use(m, items)
	prop2 := corev1.MountPropagationHostToContainer
	if err := m.AddVolumeMount(Containers, "app", corev1.VolumeMount{Name: "v", MountPath: "/v", MountPropagation: &prop2}); err != nil {
		t.Fatal(err)
	}
	if err := m.AddEnv(Containers, "app", corev1.EnvVar{Name: "POD", Value: "p"}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`[{"name":"v","mountPath":"/v","mountPropagation":"HostToContainer"}]`, `[{"name":"POD","value":"p"}]`} {
		if got := string(m.ops[i].appendValue(nil)); got != want {
			t.Errorf("op %d: value %s, want %s", i, got, want)
		}
		if !sameArray(m.ops[i].value, [][]byte{items.(*preparedItems).mounts["/v"].json, items.(*preparedItems).env["POD"].json}[i]) {
			t.Errorf("op %d: the prepared encoding is not used", i)
		}
	}
}

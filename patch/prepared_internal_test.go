package patch

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/encoded"
	"github.com/sidecarkit/sidecarkit/internal/leanpod"
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

// TestPreparedNotExposed: the Ops a Mutation returns carry copies of the
// prepared encodings it shares with other Mutations: a caller that writes
// into an Op's value changes no later Mutation's patch.
func TestPreparedNotExposed(t *testing.T) {
	items, err := encoded.Items([]corev1.VolumeMount{{Name: "v", MountPath: "/v"}}, []corev1.EnvVar{{Name: "POD", Value: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	ann := encoded.Annotation("sidecar.sidecarkit.io/proxy", `{"v":1}`)
	render := func() ([]byte, Ops) {
		spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: []corev1.EnvVar{{Name: "A"}}, VolumeMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}}}}}
		m := New(&metav1.ObjectMeta{Annotations: map[string]string{}}, spec)
		encoded.Use(m, items)
		encoded.Use(m, ann)
		for _, err := range []error{
			m.AddVolumeMount(Containers, "app", corev1.VolumeMount{Name: "v", MountPath: "/v"}),
			m.AddEnv(Containers, "app", corev1.EnvVar{Name: "POD", Value: "p"}),
			m.SetAnnotation("sidecar.sidecarkit.io/proxy", `{"v":1}`),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		b, err := m.MarshalJSONPatch()
		if err != nil {
			t.Fatal(err)
		}
		ops, err := m.JSONPatch()
		if err != nil {
			t.Fatal(err)
		}
		return b, ops
	}
	want, ops := render()
	if len(ops) != 3 {
		t.Fatalf("%d ops, want 3", len(ops))
	}
	for i := range ops {
		for k := range ops[i].Value {
			ops[i].Value[k] = 'X'
		}
	}
	if got, _ := render(); string(got) != string(want) {
		t.Errorf("after writing into the Ops' values, a Mutation renders\n%s\nwant\n%s", got, want)
	}
}

// TestPreparedMisuse: the bridge functions take anything (they are
// called through interface{}), ignore what is not theirs and never
// panic: another type, a nil Mutation, a nil prepared value.
func TestPreparedMisuse(t *testing.T) {
	items, err := encoded.Items(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New(nil, nil)
	for _, c := range []struct{ m, p interface{} }{
		{"not a mutation", items}, {(*Mutation)(nil), items}, {nil, items}, {m, "not prepared"}, {m, nil},
	} {
		encoded.Use(c.m, c.p)
	}
	if m.s.known != nil || m.s.knownAnn != nil {
		t.Error("Use kept a value that is not prepared")
	}
	for _, x := range []interface{}{"not a mutation", (*Mutation)(nil), nil} {
		if b, err := encoded.AppendJSONPatch(x, nil); err == nil {
			t.Errorf("AppendJSONPatch(%#v) = %s, want an error", x, b)
		}
	}
	b, err := encoded.AppendJSONPatch(m, []byte("prefix"))
	if err != nil || string(b) != "prefix[]" {
		t.Errorf("AppendJSONPatch of an empty mutation onto a prefix = %q, %v", b, err)
	}
}

// TestLeanAnnotations: the lean decode keeps the annotations Reads names
// (all of them when it names none), each as DecodeAs decodes it, and the
// map's presence.
func TestLeanAnnotations(t *testing.T) {
	const doc = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","annotations":{"a":"1","kubectl.kubernetes.io/default-container":"app","b":"x\"y"}},"spec":{"containers":[{"name":"app"}]}}`
	full, err := DecodeAs([]byte(doc), "Pod")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		keys map[string]bool
		want map[string]string
	}{
		{nil, full.Meta.Annotations},
		{map[string]bool{"kubectl.kubernetes.io/default-container": true}, map[string]string{"kubectl.kubernetes.io/default-container": "app"}},
		{map[string]bool{"b": true}, full.Meta.Annotations}, // an escaped value: the whole map, decoded in full
		{map[string]bool{"absent": true}, map[string]string{}},
	} {
		o, ok := decodeLean([]byte(doc), &leanpod.Reads{Annotations: tc.keys})
		if !ok {
			t.Fatalf("keys %v: the lean decode gave way", tc.keys)
		}
		if !reflect.DeepEqual(o.Meta.Annotations, tc.want) || o.Meta.Name != "p" {
			t.Errorf("keys %v: annotations %#v (name %q), want %#v", tc.keys, o.Meta.Annotations, o.Meta.Name, tc.want)
		}
	}
}

package patch_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/patch"
)

// TestEditCases pins the patch of edits whose target is ambiguous or whose
// list already has elements: the first of repeated env names, mount paths
// and envFrom sources is the one removed, and an envFrom source added to a
// non-empty list is appended as an element, not as a list. Each patch is
// applied to the raw Pod (its unknown fields must stay where they are) and
// compared with the expected document, and Apply on the typed spec must
// give what the patched document decodes to.
func TestEditCases(t *testing.T) {
	cm := func(name string) corev1.EnvFromSource {
		return corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}
	}
	for _, tc := range []struct {
		name      string
		raw       string
		edit      func(m *patch.Mutation) error
		ops, want string
	}{
		{"remove the first of two env variables of one name",
			`{"kind":"Pod","spec":{"containers":[{"name":"app","env":[{"name":"A","value":"1","x":0},{"name":"A","value":"2","x":1}]}]}}`,
			func(m *patch.Mutation) error { return m.RemoveEnv(patch.Containers, "app", "A") },
			`[{"op":"remove","path":"/spec/containers/0/env/0"}]`,
			`{"kind":"Pod","spec":{"containers":[{"name":"app","env":[{"name":"A","value":"2","x":1}]}]}}`},
		{"remove the first of two mounts at one path",
			`{"kind":"Pod","spec":{"containers":[{"name":"app","volumeMounts":[{"name":"a","mountPath":"/m","x":0},{"name":"b","mountPath":"/m","x":1}]}]}}`,
			func(m *patch.Mutation) error { return m.RemoveVolumeMount(patch.Containers, "app", "/m") },
			`[{"op":"remove","path":"/spec/containers/0/volumeMounts/0"}]`,
			`{"kind":"Pod","spec":{"containers":[{"name":"app","volumeMounts":[{"name":"b","mountPath":"/m","x":1}]}]}}`},
		{"remove the first of two equal envFrom sources",
			`{"kind":"Pod","spec":{"containers":[{"name":"app","envFrom":[{"configMapRef":{"name":"c"},"x":0},{"configMapRef":{"name":"c"},"x":1}]}]}}`,
			func(m *patch.Mutation) error { return m.RemoveEnvFrom(patch.Containers, "app", cm("c")) },
			`[{"op":"remove","path":"/spec/containers/0/envFrom/0"}]`,
			`{"kind":"Pod","spec":{"containers":[{"name":"app","envFrom":[{"configMapRef":{"name":"c"},"x":1}]}]}}`},
		{"an envFrom source appended to a list that has one",
			`{"kind":"Pod","spec":{"containers":[{"name":"app","envFrom":[{"configMapRef":{"name":"a"},"x":0}]}]}}`,
			func(m *patch.Mutation) error { return m.AddEnvFrom(patch.Containers, "app", cm("b")) },
			`[{"op":"add","path":"/spec/containers/0/envFrom/-","value":{"configMapRef":{"name":"b"}}}]`,
			`{"kind":"Pod","spec":{"containers":[{"name":"app","envFrom":[{"configMapRef":{"name":"a"},"x":0},{"configMapRef":{"name":"b"}}]}]}}`},
		{"an envFrom source added to a container without: the list whole",
			`{"kind":"Pod","spec":{"containers":[{"name":"app","x":0}]}}`,
			func(m *patch.Mutation) error { return m.AddEnvFrom(patch.Containers, "app", cm("b")) },
			`[{"op":"add","path":"/spec/containers/0/envFrom","value":[{"configMapRef":{"name":"b"}}]}]`,
			`{"kind":"Pod","spec":{"containers":[{"name":"app","x":0,"envFrom":[{"configMapRef":{"name":"b"}}]}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := patch.Decode([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			m := obj.Mutation()
			if err := tc.edit(m); err != nil {
				t.Fatal(err)
			}
			ops, err := m.JSONPatch(obj.Root)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(mustMarshal(t, ops)); got != tc.ops {
				t.Errorf("ops:\n got %s\nwant %s", got, tc.ops)
			}
			out := applyOps(t, []byte(tc.raw), ops)
			if d := jsonDiff(t, []byte(tc.want), out); d != "" {
				t.Errorf("document (-want +got):\n%s", d)
			}
			want, err := patch.Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			got := obj.Spec.DeepCopy()
			if err := m.Apply(nil, got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want.Spec, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Apply differs from the patched document (-patched +applied):\n%s", d)
			}
		})
	}
}

// TestEditsNeverWriteCallerSlices: the lists of a container of the spec a
// mutation starts from or given to InsertContainer, and the spec's
// volumes, may have spare capacity; edits append to the mutation's own
// copies, never into the caller's arrays beyond their length.
func TestEditsNeverWriteCallerSlices(t *testing.T) {
	type lists struct {
		env     []corev1.EnvVar
		envFrom []corev1.EnvFromSource
		mounts  []corev1.VolumeMount
	}
	spare := func() lists {
		l := lists{make([]corev1.EnvVar, 1, 4), make([]corev1.EnvFromSource, 1, 4), make([]corev1.VolumeMount, 1, 4)}
		l.env[0] = corev1.EnvVar{Name: "A"}
		l.envFrom[0] = corev1.EnvFromSource{Prefix: "P_"}
		l.mounts[0] = corev1.VolumeMount{Name: "v", MountPath: "/a"}
		return l
	}
	inSpec, inserted := spare(), spare()
	vols := make([]corev1.Volume, 1, 4)
	vols[0] = corev1.Volume{Name: "v"}

	m := patch.New(&metav1.ObjectMeta{}, &corev1.PodSpec{
		Containers: []corev1.Container{{Name: "app", Env: inSpec.env, EnvFrom: inSpec.envFrom, VolumeMounts: inSpec.mounts}},
		Volumes:    vols,
	})
	if err := m.AppendContainer(patch.Containers, corev1.Container{Name: "new", Env: inserted.env, EnvFrom: inserted.envFrom, VolumeMounts: inserted.mounts}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"app", "new"} {
		if err := m.AddEnv(patch.Containers, c, corev1.EnvVar{Name: "B"}); err != nil {
			t.Fatal(err)
		}
		if err := m.AddEnvFrom(patch.Containers, c, corev1.EnvFromSource{Prefix: "Q_"}); err != nil {
			t.Fatal(err)
		}
		if err := m.AddVolumeMount(patch.Containers, c, corev1.VolumeMount{Name: "v", MountPath: "/b"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.AddVolume(corev1.Volume{Name: "w"}); err != nil {
		t.Fatal(err)
	}
	for name, spare := range map[string]interface{}{
		"spec env":              inSpec.env[1:2][0],
		"spec envFrom":          inSpec.envFrom[1:2][0],
		"spec volumeMounts":     inSpec.mounts[1:2][0],
		"inserted env":          inserted.env[1:2][0],
		"inserted envFrom":      inserted.envFrom[1:2][0],
		"inserted volumeMounts": inserted.mounts[1:2][0],
		"volumes":               vols[1:2][0],
	} {
		if !reflect.ValueOf(spare).IsZero() {
			t.Errorf("an edit wrote into the caller's %s array: %+v", name, spare)
		}
	}
	_, spec := m.Result()
	for _, c := range spec.Containers {
		if len(c.Env) != 2 || len(c.EnvFrom) != 2 || len(c.VolumeMounts) != 2 {
			t.Errorf("result: %+v", c)
		}
	}
	if len(spec.Volumes) != 2 {
		t.Errorf("result volumes: %+v", spec.Volumes)
	}
}

// TestInsertEncodedOpsOwnTheirValue: an EncodedContainer's encoding is
// shared by every mutation it is inserted into, at the end of a list or
// inside it; the Ops JSONPatch returns hold copies, so a caller that
// changes them changes neither the container nor another mutation.
func TestInsertEncodedOpsOwnTheirValue(t *testing.T) {
	enc, err := patch.EncodeContainer(corev1.Container{Name: "proxy", Image: "proxy:1"})
	if err != nil {
		t.Fatal(err)
	}
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}
	for _, at := range []int{0, 1} { // inside the list, at its end
		m1, m2 := patch.New(nil, spec), patch.New(nil, spec)
		for _, m := range []*patch.Mutation{m1, m2} {
			if err := m.InsertEncoded(patch.Containers, at, enc); err != nil {
				t.Fatal(err)
			}
		}
		ops1, err := m1.JSONPatch(patch.PodRoot)
		if err != nil {
			t.Fatal(err)
		}
		want := string(ops1[0].Value)
		for i := range ops1[0].Value {
			ops1[0].Value[i] = ' '
		}
		ops2, err := m2.JSONPatch(patch.PodRoot)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(ops2[0].Value); got != want {
			t.Errorf("index %d: changing one mutation's op changed another's: %s", at, got)
		}
		again, err := patch.EncodeContainer(enc.Container())
		if err != nil {
			t.Fatal(err)
		}
		m3 := patch.New(nil, spec)
		if err := m3.InsertEncoded(patch.Containers, at, again); err != nil {
			t.Fatal(err)
		}
		ops3, _ := m3.JSONPatch(patch.PodRoot)
		if string(ops3[0].Value) != want {
			t.Errorf("index %d: value %s, want %s", at, ops3[0].Value, want)
		}
	}
}

// TestInsertedContainerSharedUntilEdited: an inserted container is shared
// with the caller (InsertContainer) or the EncodedContainer (InsertEncoded)
// until an edit changes it; the edit then changes a copy, never the
// caller's memory, the EncodedContainer or another mutation.
func TestInsertedContainerSharedUntilEdited(t *testing.T) {
	mounts := make([]corev1.VolumeMount, 1, 4) // spare capacity an append could write into
	mounts[0] = corev1.VolumeMount{Name: "a", MountPath: "/a"}
	given := corev1.Container{Name: "proxy", Image: "proxy:1", VolumeMounts: mounts}
	enc, err := patch.EncodeContainer(given)
	if err != nil {
		t.Fatal(err)
	}
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}
	for _, encoded := range []bool{false, true} {
		for _, l := range []patch.List{patch.InitContainers, patch.Containers} { // an empty list, a list with a container
			edited, other := patch.New(nil, spec), patch.New(nil, spec)
			for _, m := range []*patch.Mutation{edited, other} {
				var err error
				if encoded {
					err = m.InsertEncoded(l, 0, enc)
				} else {
					err = m.InsertContainer(l, 0, given)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := edited.AddVolumeMount(l, "proxy", corev1.VolumeMount{Name: "b", MountPath: "/b"}); err != nil {
				t.Fatal(err)
			}
			if err := edited.SetContainerField(l, "proxy", "image", "proxy:2"); err != nil {
				t.Fatal(err)
			}
			where := fmt.Sprintf("encoded %v, %s", encoded, l)
			if got := mounts[:2][1]; got.Name != "" {
				t.Errorf("%s: the edit wrote into the caller's mounts: %+v", where, got)
			}
			if c := enc.Container(); c.Image != "proxy:1" || len(c.VolumeMounts) != 1 {
				t.Errorf("%s: the edit changed the EncodedContainer: %+v", where, c)
			}
			if given.Image != "proxy:1" || len(given.VolumeMounts) != 1 {
				t.Errorf("%s: the edit changed the caller's container: %+v", where, given)
			}
			_, s := other.Result()
			for _, c := range append(s.InitContainers, s.Containers...) {
				if c.Name == "proxy" && (c.Image != "proxy:1" || len(c.VolumeMounts) != 1) {
					t.Errorf("%s: the edit changed another mutation: %+v", where, c)
				}
			}
			_, s = edited.Result()
			for _, c := range append(s.InitContainers, s.Containers...) {
				if c.Name == "proxy" && (c.Image != "proxy:2" || len(c.VolumeMounts) != 2) {
					t.Errorf("%s: the edited mutation's container: %+v", where, c)
				}
			}
		}
	}
}

// TestApplyMetadata: Apply with a nil meta fails on a metadata edit (it has
// nowhere to make it) and names the edit; Result gives nil metadata for a
// document without any and no metadata edit.
func TestApplyMetadata(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}
	m := patch.New(&metav1.ObjectMeta{}, spec)
	if err := m.AppendContainer(patch.Containers, corev1.Container{Name: "proxy"}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetAnnotation("a", "b"); err != nil {
		t.Fatal(err)
	}
	err := m.Apply(nil, spec.DeepCopy())
	if want := "patch: apply: edit 1 changes metadata, but the metadata is nil"; err == nil || err.Error() != want {
		t.Errorf("Apply(nil meta) = %v, want %s", err, want)
	}
	meta := &metav1.ObjectMeta{Name: "p"}
	got := spec.DeepCopy()
	if err := m.Apply(meta, got); err != nil {
		t.Fatal(err)
	}
	if meta.Annotations["a"] != "b" || len(got.Containers) != 2 {
		t.Errorf("Apply: meta %+v, spec %+v", meta, got)
	}

	bare := patch.New(nil, spec)
	if err := bare.AppendContainer(patch.Containers, corev1.Container{Name: "proxy"}); err != nil {
		t.Fatal(err)
	}
	if meta, _ := bare.Result(); meta != nil {
		t.Errorf("Result of a mutation without metadata: meta %+v, want nil", meta)
	}
	if err := bare.SetLabel("l", "v"); err != nil {
		t.Fatal(err)
	}
	if meta, _ := bare.Result(); meta == nil || meta.Labels["l"] != "v" {
		t.Errorf("Result after a label was set: meta %+v", meta)
	}
}

// TestNames: Names lists a container list as the edits leave it; an
// unknown list has none.
func TestNames(t *testing.T) {
	m := patch.New(nil, &corev1.PodSpec{InitContainers: []corev1.Container{{Name: "setup"}}, Containers: []corev1.Container{{Name: "app"}}})
	if err := m.InsertContainer(patch.InitContainers, 0, corev1.Container{Name: "proxy"}); err != nil {
		t.Fatal(err)
	}
	if err := m.MoveContainer(patch.InitContainers, "setup", patch.Containers, 1); err != nil {
		t.Fatal(err)
	}
	for l, want := range map[patch.List][]string{
		patch.InitContainers: {"proxy"},
		patch.Containers:     {"app", "setup"},
		"sidecars":           nil,
	} {
		if got := m.Names(l); !reflect.DeepEqual(got, want) {
			t.Errorf("Names(%s) = %q, want %q", l, got, want)
		}
	}
}

// TestSetUnknownContainerField: the error for a field Container does not
// have lists the JSON names it does have.
func TestSetUnknownContainerField(t *testing.T) {
	m := patch.New(nil, &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}})
	err := m.SetContainerField(patch.Containers, "app", "sidecar", true)
	var fe *field.Error
	if !errors.As(err, &fe) || fe.Type != field.ErrorTypeNotSupported {
		t.Fatalf("error %v: want a NotSupported *field.Error", err)
	}
	if fe.Field != "spec.containers[0].sidecar" {
		t.Errorf("field %q", fe.Field)
	}
	// Every member a container encodes to is a supported name.
	b, err := json.Marshal(&corev1.Container{Name: "n", Image: "i", Stdin: true, TTY: true, RestartPolicy: new(corev1.ContainerRestartPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		t.Fatal(err)
	}
	for k := range members {
		if !strings.Contains(fe.Detail, `"`+k+`"`) {
			t.Errorf("detail %q does not list %q", fe.Detail, k)
		}
	}
	if strings.Contains(fe.Detail, `""`) || strings.Contains(fe.Detail, `"-"`) {
		t.Errorf("detail %q lists an empty name", fe.Detail)
	}
}

// TestDecodeObjectHead: Decode and DecodeAs fill the object's own
// apiVersion, name and namespace (not its template's), and check the
// document's kind against the one asked for, for each PodSpec location.
func TestDecodeObjectHead(t *testing.T) {
	const tmpl = `{"metadata":{"name":"tmpl","labels":{"app":"a"}},"spec":{"containers":[{"name":"app"}]}}`
	for _, tc := range []struct {
		kind, doc  string
		apiVersion string
		root       patch.Root
	}{
		{"Pod", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"obj","namespace":"ns","labels":{"app":"a"}},"spec":{"containers":[{"name":"app"}]}}`, "v1", patch.PodRoot},
		{"Deployment", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"obj","namespace":"ns"},"spec":{"template":` + tmpl + `}}`, "apps/v1", patch.TemplateRoot},
		{"CronJob", `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"obj","namespace":"ns"},"spec":{"jobTemplate":{"spec":{"template":` + tmpl + `}}}}`, "batch/v1", patch.Root("/spec/jobTemplate/spec/template/spec")},
		{"PodTemplate", `{"apiVersion":"v1","kind":"PodTemplate","metadata":{"name":"obj","namespace":"ns"},"template":` + tmpl + `}`, "v1", patch.Root("/template/spec")},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			for _, decode := range []func([]byte) (*patch.Object, error){
				patch.Decode,
				func(b []byte) (*patch.Object, error) { return patch.DecodeAs(b, tc.kind) },
			} {
				o, err := decode([]byte(tc.doc))
				if err != nil {
					t.Fatal(err)
				}
				if o.APIVersion != tc.apiVersion || o.Kind != tc.kind || o.Name != "obj" || o.Namespace != "ns" || o.Root != tc.root {
					t.Errorf("object %q %q %q/%q at %q", o.APIVersion, o.Kind, o.Namespace, o.Name, o.Root)
				}
				if o.Meta == nil || o.Meta.Labels["app"] != "a" || len(o.Spec.Containers) != 1 {
					t.Errorf("pod metadata %+v, spec %+v", o.Meta, o.Spec)
				}
			}
			// The same document read as another kind of the same
			// location is refused: its own kind says otherwise.
			other := map[string]string{"Pod": "Deployment", "Deployment": "StatefulSet", "CronJob": "Job", "PodTemplate": "Pod"}[tc.kind]
			if o, err := patch.DecodeAs([]byte(tc.doc), other); err == nil {
				t.Errorf("DecodeAs(%s) of a %s: %+v", other, tc.kind, o)
			}
		})
	}
}

// TestMarshalJSONPatchEscapes: the one-pass encoding escapes pointers as
// encoding/json does whether the root, the relative path or both need
// escaping, and equals the encoding of the rendered Ops (guarded too);
// the patch applies to a document with such members.
func TestMarshalJSONPatchEscapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		root patch.Root
		key  string
	}{
		{"plain", "/spec", "plain"},
		{"a key with a quote and a tilde", "/spec", `a"b~c/d`},
		{"a key with HTML characters", "/spec", "<a&b>"},
		{"a root that needs escaping", `/x"<>/spec`, "plain"},
		{"both", `/x\y/spec`, `k"&`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := patch.New(&metav1.ObjectMeta{Annotations: map[string]string{"old": "1"}}, &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}})
			if err := m.SetAnnotation(tc.key, "v"); err != nil {
				t.Fatal(err)
			}
			if err := m.SetContainerField(patch.Containers, "app", "image", "i"); err != nil {
				t.Fatal(err)
			}
			checkMarshalJSONPatch(t, m, tc.root)
			b, err := m.MarshalJSONPatch(tc.root, patch.Guarded())
			if err != nil {
				t.Fatal(err)
			}
			var ops patch.Ops
			if err := json.Unmarshal(b, &ops); err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			metaRoot, _ := tc.root.Metadata()
			want := []string{metaRoot + "/annotations/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(tc.key), string(tc.root) + "/containers/0/name", string(tc.root) + "/containers/0/image"}
			if len(ops) != 3 || ops[0].Path != want[0] || ops[1].Path != want[1] || ops[2].Path != want[2] {
				t.Errorf("paths of %s, want %q", b, want)
			}
		})
	}
}

// TestObjectErrors: an Object made by hand (not decoded) has no raw
// document and so no unknown fields; Decode refuses a document without a
// kind, and DecodeAs of one without a spec says why, naming the Pod.
func TestObjectErrors(t *testing.T) {
	o := &patch.Object{Kind: "Pod", Root: patch.PodRoot, Spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}}
	if got, err := o.UnknownFields(patch.Containers, 0); got != nil || err != nil {
		t.Errorf("UnknownFields of an Object without a document = %v, %v", got, err)
	}
	doc := []byte(`{"metadata":{"name":"p"}}`)
	if _, err := patch.Decode(doc); err == nil || !strings.Contains(err.Error(), `has no "kind"`) {
		t.Errorf("Decode of a document without kind = %v, want the error that it has none", err)
	}
	_, err := patch.DecodeAs(doc, "Pod")
	if !errors.Is(err, patch.ErrNoPodSpec) || !strings.Contains(err.Error(), `of Pod "p"`) {
		t.Errorf("DecodeAs(Pod) of a document without spec = %v, want ErrNoPodSpec for the Pod", err)
	}
	_, err = (patch.Ops{{Op: "add", Path: "/a"}}).MarshalJSON()
	if want := "patch: op 0 (add /a): missing value"; err == nil || err.Error() != want {
		t.Errorf("an add without a value: %v, want %s", err, want)
	}
}

package patch

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// sameArray reports whether two op values are one encoding (the same
// backing array), not two equal ones.
func sameArray(a, b []byte) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

// TestItemEncodingsShared: an injection adds the same env variable and
// volume mount to every container; each is encoded once and its encoding
// shared by the ops (see encodeItem), as long as it is among the last few
// items added. envFrom sources are not kept, so they never push one out.
func TestItemEncodingsShared(t *testing.T) {
	spec := &corev1.PodSpec{}
	for i := 0; i < 6; i++ {
		// Containers 0-2 have env and mounts already (elements are added),
		// 3-5 have none (one-element lists are added).
		c := corev1.Container{Name: "c" + strconv.Itoa(i)}
		if i < 3 {
			c.Env = []corev1.EnvVar{{Name: "OLD"}}
			c.VolumeMounts = []corev1.VolumeMount{{Name: "old", MountPath: "/old"}}
		}
		spec.Containers = append(spec.Containers, c)
	}
	m := New(&metav1.ObjectMeta{}, spec)
	env := corev1.EnvVar{Name: "POD", Value: "p"}
	mount := corev1.VolumeMount{Name: "v", MountPath: "/v"}
	for i, c := range spec.Containers {
		if err := m.AddEnv(Containers, c.Name, env); err != nil {
			t.Fatal(err)
		}
		if err := m.AddVolumeMount(Containers, c.Name, mount); err != nil {
			t.Fatal(err)
		}
		// Sources that differ, as many as the encodings kept: none is
		// reused, and none is kept, or they would push out the env
		// variable and the mount before the next container's.
		for k := 0; k < len(m.s.encoded); k++ {
			src := corev1.EnvFromSource{Prefix: "P" + strconv.Itoa(i) + "_" + strconv.Itoa(k) + "_"}
			if err := m.AddEnvFrom(Containers, c.Name, src); err != nil {
				t.Fatal(err)
			}
		}
	}
	per := 2 + len(m.s.encoded) // ops per container: env, mount, the sources
	if len(m.ops) != 6*per {
		t.Fatalf("%d ops, want %d", len(m.ops), 6*per)
	}
	for _, k := range []int{0, 1} { // env, volumeMounts
		for _, part := range [][2]int{{0, 3}, {3, 6}} { // elements, lists
			first := m.ops[per*part[0]+k].value
			for i := part[0] + 1; i < part[1]; i++ {
				if v := m.ops[per*i+k].value; !sameArray(first, v) {
					t.Errorf("op %d (%s): value %s encoded again, not shared with op %d", per*i+k, m.ops[per*i+k].path, v, per*part[0]+k)
				}
			}
		}
	}
	for i := 0; i < 6; i++ {
		for k := 2; k < per; k++ {
			if o := per*i + k; o != 2 && sameArray(m.ops[2].value, m.ops[o].value) {
				t.Errorf("envFrom ops 2 and %d share a value", o)
			}
		}
	}
}

// TestEmptyVolumeMountEncoded: a volume mount with every field empty is
// encoded as such, never taken for an empty slot of the encoding cache
// (whose zero kind is itemMount).
func TestEmptyVolumeMountEncoded(t *testing.T) {
	m := New(nil, &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", VolumeMounts: []corev1.VolumeMount{{Name: "x", MountPath: "/x"}}}}})
	if err := m.AddVolumeMount(Containers, "a", corev1.VolumeMount{}); err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalJSONPatch(PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"op":"add","path":"/spec/containers/0/volumeMounts/-","value":{"name":"","mountPath":""}}]`; string(b) != want {
		t.Errorf("patch %s, want %s", b, want)
	}
}

// TestVolumeIndexKeptOnAppend: appending volumes to a Pod with more than
// scanMax of them keeps the name index (the new volume goes last, the
// others keep their places): an injection that adds volumes to a wide Pod
// builds it once.
func TestVolumeIndexKeptOnAppend(t *testing.T) {
	spec := &corev1.PodSpec{}
	for i := 0; i < 2*scanMax; i++ {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "v" + strconv.Itoa(i)})
	}
	m := New(nil, spec)
	var index uintptr
	for i := 0; i < 4; i++ {
		name := "added" + strconv.Itoa(i)
		if err := m.AddVolume(corev1.Volume{Name: name}); err != nil {
			t.Fatal(err)
		}
		if m.s.volByName == nil {
			t.Fatalf("no volume index after adding %s", name)
		}
		if got := m.s.findVolume(name); got != 2*scanMax+i {
			t.Fatalf("findVolume(%s) = %d", name, got)
		}
		p := reflect.ValueOf(m.s.volByName).Pointer()
		if i == 0 {
			index = p
		} else if p != index {
			t.Fatalf("the volume index was rebuilt after adding %s", name)
		}
	}
}

// TestItemEncodingsNotMixed: the encoding cache reuses an encoding only
// for an equal item: mounts at one path with other volume names, and env
// variables of one name with other values, are encoded each.
func TestItemEncodingsNotMixed(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	m := New(nil, spec)
	for i, c := range []string{"a", "b", "c"} {
		n := strconv.Itoa(i)
		if err := m.AddVolumeMount(Containers, c, corev1.VolumeMount{Name: "v" + n, MountPath: "/m"}); err != nil {
			t.Fatal(err)
		}
		if err := m.AddEnv(Containers, c, corev1.EnvVar{Name: "POD", Value: n}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := m.MarshalJSONPatch(PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"add","path":"/spec/containers/0/volumeMounts","value":[{"name":"v0","mountPath":"/m"}]},` +
		`{"op":"add","path":"/spec/containers/0/env","value":[{"name":"POD","value":"0"}]},` +
		`{"op":"add","path":"/spec/containers/1/volumeMounts","value":[{"name":"v1","mountPath":"/m"}]},` +
		`{"op":"add","path":"/spec/containers/1/env","value":[{"name":"POD","value":"1"}]},` +
		`{"op":"add","path":"/spec/containers/2/volumeMounts","value":[{"name":"v2","mountPath":"/m"}]},` +
		`{"op":"add","path":"/spec/containers/2/env","value":[{"name":"POD","value":"2"}]}]`
	if string(b) != want {
		t.Errorf("patch\n%s\nwant\n%s", b, want)
	}
}

// failingEdit emits an op, then fails.
type failingEdit struct{}

func (failingEdit) run(s *state, out *[]relOp) error {
	emit(out, relOp{op: opRemove, path: "/volumes/0"})
	return errNoMeta
}

// TestFailedEditRecordsNothing: an edit that fails after emitting ops
// leaves neither the ops nor the edit behind (do's contract; the edits of
// this package check before they emit, so only a test edit gets there).
func TestFailedEditRecordsNothing(t *testing.T) {
	m := New(nil, &corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}, Volumes: []corev1.Volume{{Name: "v"}}})
	if err := m.AddVolume(corev1.Volume{Name: "w"}); err != nil {
		t.Fatal(err)
	}
	if err := m.do(failingEdit{}); err != errNoMeta {
		t.Fatalf("do = %v", err)
	}
	if m.NumOps() != 1 || m.Len() != 1 {
		t.Errorf("after a failed edit: %d ops, %d edits; want 1 and 1", m.NumOps(), m.Len())
	}
}

// TestSameItemIsDeepEqual: sameMount and sameEnv agree with
// reflect.DeepEqual on values that differ in any one field, or in two,
// whichever fields the compiled k8s.io/api version has (the fields they
// do not name among them): set, set to another value, set to an empty
// but non-nil list.
func TestSameItemIsDeepEqual(t *testing.T) {
	mounts := agreesWithDeepEqual(t, "sameMount", sameMount)
	envs := agreesWithDeepEqual(t, "sameEnv", sameEnv)
	if mounts < 10 || envs < 6 {
		t.Fatalf("%d mounts, %d envs: too few variants", mounts, envs)
	}
}

// agreesWithDeepEqual checks same against reflect.DeepEqual on every pair
// of variants of T, and returns the number of variants.
func agreesWithDeepEqual[T any](t *testing.T, name string, same func(a, b *T) bool) int {
	t.Helper()
	vs := variants(reflect.TypeOf(*new(T)))
	for i := range vs {
		for j := range vs {
			a, b := vs[i].Interface().(T), vs[j].Interface().(T)
			if got, want := same(&a, &b), reflect.DeepEqual(a, b); got != want {
				t.Errorf("%s(%+v, %+v) = %v, want %v", name, a, b, got, want)
			}
		}
	}
	return len(vs)
}

// variants returns values of struct type t: the zero value, and for each
// field and each of its test values, a value with that field set alone
// and one with it set on top of the previous field's first value; each
// one twice, built apart (no shared pointers).
func variants(t reflect.Type) []reflect.Value {
	var out []reflect.Value
	add := func(set func(v reflect.Value)) {
		for k := 0; k < 2; k++ {
			v := reflect.New(t).Elem()
			set(v)
			out = append(out, v)
		}
	}
	add(func(reflect.Value) {})
	for i := 0; i < t.NumField(); i++ {
		for k := 0; k < fieldValues; k++ {
			i, k := i, k
			if fieldValue(t.Field(i).Type, k).IsValid() {
				add(func(v reflect.Value) { v.Field(i).Set(fieldValue(t.Field(i).Type, k)) })
				if i > 0 && fieldValue(t.Field(i-1).Type, 0).IsValid() {
					add(func(v reflect.Value) {
						v.Field(i - 1).Set(fieldValue(t.Field(i-1).Type, 0))
						v.Field(i).Set(fieldValue(t.Field(i).Type, k))
					})
				}
			}
		}
	}
	return out
}

const fieldValues = 3

// fieldValue returns the k-th test value of type t, newly built, or the
// invalid Value when t has fewer: two distinct non-zero values, and an
// empty non-nil one for a list.
func fieldValue(t reflect.Type, k int) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		if k > 1 {
			return reflect.Value{}
		}
		v.SetString("s" + strconv.Itoa(k))
	case reflect.Bool:
		if k > 0 {
			return reflect.Value{}
		}
		v.SetBool(true)
	case reflect.Ptr:
		e := fieldValue(t.Elem(), k)
		if !e.IsValid() {
			return e
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		v.Set(p)
	case reflect.Slice:
		n := 1
		if k == 2 {
			n = 0
		}
		l := reflect.MakeSlice(t, n, n)
		if n > 0 {
			e := fieldValue(t.Elem(), k)
			if !e.IsValid() {
				return e
			}
			l.Index(0).Set(e)
		}
		v.Set(l)
	case reflect.Struct:
		if k > 1 || t.NumField() == 0 {
			return reflect.Value{}
		}
		for i := 0; i < t.NumField(); i++ {
			if f := fieldValue(t.Field(i).Type, k); f.IsValid() && t.Field(i).IsExported() {
				v.Field(i).Set(f)
				return v
			}
		}
		return reflect.Value{}
	default:
		return reflect.Value{}
	}
	return v
}

// TestItemsKeptAside: the mounts and env variables added to a container the
// state does not own are kept aside (state's elem), and every reader sees
// them where the list has them: the duplicate check and its index, a
// removal and its index, SetContainerField's comparison, Spec, the View
// (mounts), a later copy of the container; the given spec is never
// written.
func TestItemsKeptAside(t *testing.T) {
	given := func() *corev1.PodSpec {
		return &corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "app:1",
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			Env:          []corev1.EnvVar{{Name: "OLD", Value: "1"}},
		}}}
	}
	x := corev1.VolumeMount{Name: "data", MountPath: "/x"}
	y := corev1.VolumeMount{Name: "data", MountPath: "/y"}
	n := corev1.EnvVar{Name: "NEW", Value: "2"}
	for _, tc := range []struct {
		name   string
		edits  func(m *Mutation) error
		patch  string
		mounts []string // spec.containers[0]'s mountPaths afterwards
		env    []string
		aside  int // mounts kept aside at the end
	}{{
		name: "added",
		edits: func(m *Mutation) error {
			return firstErr(m.AddVolumeMount(Containers, "app", x), m.AddVolumeMount(Containers, "app", y), m.AddEnv(Containers, "app", n))
		},
		patch: `[{"op":"add","path":"/spec/containers/0/volumeMounts/-","value":{"name":"data","mountPath":"/x"}},` +
			`{"op":"add","path":"/spec/containers/0/volumeMounts/-","value":{"name":"data","mountPath":"/y"}},` +
			`{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"NEW","value":"2"}}]`,
		mounts: []string{"/data", "/x", "/y"}, env: []string{"OLD", "NEW"}, aside: 2,
	}, {
		name: "an added one removed",
		edits: func(m *Mutation) error {
			return firstErr(m.AddVolumeMount(Containers, "app", x), m.AddVolumeMount(Containers, "app", y),
				m.RemoveVolumeMount(Containers, "app", "/x"), m.AddEnv(Containers, "app", n), m.RemoveEnv(Containers, "app", "NEW"))
		},
		patch: `[{"op":"add","path":"/spec/containers/0/volumeMounts/-","value":{"name":"data","mountPath":"/x"}},` +
			`{"op":"add","path":"/spec/containers/0/volumeMounts/-","value":{"name":"data","mountPath":"/y"}},` +
			`{"op":"remove","path":"/spec/containers/0/volumeMounts/1"},` +
			`{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"NEW","value":"2"}},` +
			`{"op":"remove","path":"/spec/containers/0/env/1"}]`,
		mounts: []string{"/data", "/y"}, env: []string{"OLD"},
	}, {
		name: "an added variable removed",
		edits: func(m *Mutation) error {
			return firstErr(m.AddEnv(Containers, "app", n), m.AddEnv(Containers, "app", corev1.EnvVar{Name: "NEW2"}),
				m.RemoveEnv(Containers, "app", "NEW2"))
		},
		patch: `[{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"NEW","value":"2"}},` +
			`{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"NEW2"}},` +
			`{"op":"remove","path":"/spec/containers/0/env/2"}]`,
		mounts: []string{"/data"}, env: []string{"OLD", "NEW"},
	}, {
		name: "then the container is copied",
		edits: func(m *Mutation) error {
			return firstErr(m.AddVolumeMount(Containers, "app", x), m.SetContainerField(Containers, "app", "image", "app:2"),
				m.AddVolumeMount(Containers, "app", y))
		},
		patch: `[{"op":"add","path":"/spec/containers/0/volumeMounts/-","value":{"name":"data","mountPath":"/x"}},` +
			`{"op":"add","path":"/spec/containers/0/image","value":"app:2"},` +
			`{"op":"add","path":"/spec/containers/0/volumeMounts/-","value":{"name":"data","mountPath":"/y"}}]`,
		mounts: []string{"/data", "/x", "/y"}, env: []string{"OLD"},
	}, {
		name: "a field set to what it is with the added ones",
		edits: func(m *Mutation) error {
			return firstErr(m.AddEnv(Containers, "app", n),
				m.SetContainerField(Containers, "app", "env", []corev1.EnvVar{{Name: "OLD", Value: "1"}, n}))
		},
		patch:  `[{"op":"add","path":"/spec/containers/0/env/-","value":{"name":"NEW","value":"2"}}]`,
		mounts: []string{"/data"}, env: []string{"OLD", "NEW"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			spec := given()
			m := New(nil, spec)
			if err := tc.edits(m); err != nil {
				t.Fatal(err)
			}
			b, err := m.MarshalJSONPatch(PodRoot)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.patch {
				t.Errorf("patch\n%s\nwant\n%s", b, tc.patch)
			}
			got := m.Spec().Containers[0]
			if p := mountPaths(got.VolumeMounts); !reflect.DeepEqual(p, tc.mounts) {
				t.Errorf("mounts %v, want %v", p, tc.mounts)
			}
			var env []string
			for _, e := range got.Env {
				env = append(env, e.Name)
			}
			if !reflect.DeepEqual(env, tc.env) {
				t.Errorf("env %v, want %v", env, tc.env)
			}
			if aside := len(m.s.list(1)[0].mounts); aside != tc.aside {
				t.Errorf("%d mounts kept aside, want %d", aside, tc.aside)
			}
			if !reflect.DeepEqual(spec, given()) {
				t.Errorf("the given spec was written: %+v", spec)
			}
			// A second add of each is refused at the index the list has it.
			if len(tc.mounts) > 1 {
				last := tc.mounts[len(tc.mounts)-1]
				err := m.AddVolumeMount(Containers, "app", corev1.VolumeMount{Name: "data", MountPath: last})
				want := "spec.containers[0].volumeMounts[" + strconv.Itoa(len(tc.mounts)-1) + "]: Duplicate value: \"" + last + "\""
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("second add: %v, want %s", err, want)
				}
			}
		})
	}
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func mountPaths(l []corev1.VolumeMount) []string {
	var out []string
	for _, m := range l {
		out = append(out, m.MountPath)
	}
	return out
}

// TestExtraFields: the fields sameMount and sameEnv leave to DeepEqual are
// those they do not name, and they take the fast answer only when those
// are zero on both sides. (With the module's k8s.io/api v0.28 neither type
// has such a field; go.newest.mod's has.)
func TestExtraFields(t *testing.T) {
	type item struct {
		Name  string
		Extra []string
		Ptr   *int
		Known bool
	}
	typ := reflect.TypeOf(item{})
	if got := extraFields(typ, "Name", "Known"); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Errorf("extraFields = %v, want [1 2]", got)
	}
	if got := extraFields(typ, "Name", "Extra", "Ptr", "Known"); got != nil {
		t.Errorf("extraFields of named fields = %v, want none", got)
	}
	one := 1
	for _, tc := range []struct {
		a, b item
		want bool
	}{
		{item{Name: "a"}, item{Name: "b", Known: true}, true},
		{item{Extra: []string{}}, item{}, false},
		{item{}, item{Extra: []string{"x"}}, false},
		{item{Ptr: &one}, item{}, false},
		{item{}, item{Ptr: &one}, false},
	} {
		if got := extrasZero(reflect.ValueOf(tc.a), reflect.ValueOf(tc.b), []int{1, 2}); got != tc.want {
			t.Errorf("extrasZero(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

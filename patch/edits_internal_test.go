package patch

import (
	"reflect"
	"strconv"
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

package patch_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// TestUntouchedNilListStaysNil: a container list the spec does not have
// (nil; "containers": null in JSON) and no edit changes stays nil in
// Result and Apply, although edits of the other list look names up in
// it: diffing the result against the spec gives only the edit. (It used
// to come back as an empty list, which a diff renders as an added
// "containers": [].)
func TestUntouchedNilListStaysNil(t *testing.T) {
	for _, l := range []patch.List{patch.InitContainers, patch.Containers} {
		other := patch.Containers
		spec := &corev1.PodSpec{InitContainers: []corev1.Container{{Name: "a"}}}
		if l == patch.Containers {
			other = patch.InitContainers
			spec = &corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}
		}
		m := patch.New(nil, spec)
		if err := m.AppendContainer(l, corev1.Container{Name: "b"}); err != nil {
			t.Fatal(err)
		}
		_, res := m.Result()
		applied := spec.DeepCopy()
		if err := m.Apply(nil, applied); err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]*corev1.PodSpec{"Result": res, "Apply": applied} {
			got := s.Containers
			if other == patch.InitContainers {
				got = s.InitContainers
			}
			if got != nil {
				t.Errorf("%s: %s is %#v, want nil", name, other, got)
			}
		}
		d, err := patch.Diff(spec, res)
		if err != nil {
			t.Fatal(err)
		}
		if ops, _ := d.JSONPatch(patch.PodRoot); len(ops) != 1 {
			t.Errorf("Diff of the spec and the result: %s, want the one insert", mustMarshal(t, ops))
		}
	}
}

package podview

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestOf: the View of a PodSpec points at its containers and holds its
// other lists as they are.
func TestOf(t *testing.T) {
	spec := &corev1.PodSpec{
		InitContainers:      []corev1.Container{{Name: "init"}},
		Containers:          []corev1.Container{{Name: "a"}, {Name: "b"}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}},
		Volumes:             []corev1.Volume{{Name: "data"}},
	}
	v := Of(spec)
	if len(v.InitContainers) != 1 || v.InitContainers[0] != &spec.InitContainers[0] {
		t.Errorf("init containers %v", v.InitContainers)
	}
	if len(v.Containers) != 2 || v.Containers[0] != &spec.Containers[0] || v.Containers[1] != &spec.Containers[1] {
		t.Errorf("containers %v", v.Containers)
	}
	if len(v.Ephemeral) != 1 || &v.Ephemeral[0] != &spec.EphemeralContainers[0] {
		t.Errorf("ephemeral containers %v", v.Ephemeral)
	}
	if len(v.Volumes) != 1 || &v.Volumes[0] != &spec.Volumes[0] || v.AddedVolumes != nil {
		t.Errorf("volumes %v + %v", v.Volumes, v.AddedVolumes)
	}
}

// TestMounts: a container's mounts are its own followed by those added,
// in that order, each by pointer into its list; Added is nil for a nil
// list.
func TestMounts(t *testing.T) {
	base := []corev1.VolumeMount{{MountPath: "/a"}, {MountPath: "/b"}}
	added := []corev1.VolumeMount{{MountPath: "/c"}}
	for _, tc := range []struct {
		m    Mounts
		want []*corev1.VolumeMount
	}{
		{Mounts{}, nil},
		{Mounts{Base: base}, []*corev1.VolumeMount{&base[0], &base[1]}},
		{Mounts{Added: added}, []*corev1.VolumeMount{&added[0]}},
		{Mounts{Base: base, Added: added}, []*corev1.VolumeMount{&base[0], &base[1], &added[0]}},
	} {
		if tc.m.Len() != len(tc.want) {
			t.Fatalf("%+v: Len %d, want %d", tc.m, tc.m.Len(), len(tc.want))
		}
		for i, w := range tc.want {
			if got := tc.m.At(i); got != w {
				t.Errorf("%+v: At(%d) = %v, want %v", tc.m, i, got, w)
			}
		}
	}
	lists := [][]corev1.VolumeMount{nil, added}
	if Added(nil, 1) != nil || Added(lists, 0) != nil || &Added(lists, 1)[0] != &added[0] {
		t.Error("Added")
	}
}

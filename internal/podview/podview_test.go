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

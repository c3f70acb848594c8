package patch

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/podview"
)

// TestView: the View of a Mutation is its spec as the edits leave it,
// without copies (Spec's lists, by pointer into the state), before and
// after edits; anything but a *Mutation has the zero View.
func TestView(t *testing.T) {
	spec := &corev1.PodSpec{
		InitContainers:      []corev1.Container{{Name: "init"}},
		Containers:          []corev1.Container{{Name: "app"}, {Name: "web"}},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}},
		Volumes:             []corev1.Volume{{Name: "data"}},
	}
	m := New(nil, spec)
	same := func(when string) {
		t.Helper()
		v, s := podview.OfMutation(m), m.Spec()
		for _, l := range []struct {
			view   []*corev1.Container
			mounts [][]corev1.VolumeMount
			spec   []corev1.Container
		}{{v.InitContainers, v.InitMounts, s.InitContainers}, {v.Containers, v.ContainerMounts, s.Containers}} {
			if len(l.view) != len(l.spec) || l.mounts != nil && len(l.mounts) != len(l.view) {
				t.Fatalf("%s: %d containers in the view (%d with added mounts), %d in Spec", when, len(l.view), len(l.mounts), len(l.spec))
			}
			for i := range l.view {
				c := *l.view[i]
				if added := podview.Added(l.mounts, i); len(added) > 0 {
					ms := podview.Mounts{Base: c.VolumeMounts, Added: added}
					c.VolumeMounts = nil
					for k := 0; k < ms.Len(); k++ {
						c.VolumeMounts = append(c.VolumeMounts, *ms.At(k))
					}
				}
				if !reflect.DeepEqual(c, l.spec[i]) {
					t.Errorf("%s: container %d: view %+v, Spec %+v", when, i, c, l.spec[i])
				}
			}
		}
		vols := append(append([]corev1.Volume{}, v.Volumes...), v.AddedVolumes...)
		if len(s.Volumes) == 0 {
			vols = s.Volumes // nil or empty, as Spec has them
		}
		if !reflect.DeepEqual(vols, s.Volumes) || !reflect.DeepEqual(v.Ephemeral, s.EphemeralContainers) {
			t.Errorf("%s: view volumes %v + %v ephemeral %v, Spec %v %v", when, v.Volumes, v.AddedVolumes, v.Ephemeral, s.Volumes, s.EphemeralContainers)
		}
	}
	same("unedited")
	if v := podview.OfMutation(m); v.Containers[0] != &spec.Containers[0] || v.InitMounts != nil || v.ContainerMounts != nil {
		t.Error("the view of an unchanged container is a copy, or has mounts added")
	}
	for _, edit := range []func() error{
		func() error { return m.InsertContainer(InitContainers, 0, corev1.Container{Name: "proxy"}) },
		func() error { return m.AddVolume(corev1.Volume{Name: "socket"}) },
		func() error {
			return m.AddVolumeMount(Containers, "web", corev1.VolumeMount{Name: "socket", MountPath: "/s"})
		},
		func() error {
			return m.AddVolumeMount(Containers, "web", corev1.VolumeMount{Name: "data", MountPath: "/d"})
		},
		func() error { return m.AddEnv(Containers, "app", corev1.EnvVar{Name: "A", Value: "1"}) },
		func() error {
			return m.AddVolumeMount(InitContainers, "init", corev1.VolumeMount{Name: "data", MountPath: "/d"})
		},
		func() error { return m.RemoveContainer(Containers, "app") },
		func() error { return m.RemoveVolume("data") },
		func() error { return m.AddVolume(corev1.Volume{Name: "data"}) },
	} {
		if err := edit(); err != nil {
			t.Fatal(err)
		}
		same("edited")
	}
	// The mounts added to web are kept aside, not in a copy of it.
	if v := podview.OfMutation(m); v.Containers[0] != &spec.Containers[1] || len(podview.Added(v.ContainerMounts, 0)) != 2 {
		t.Errorf("web: %p (spec's %p), added mounts %v", v.Containers[0], &spec.Containers[1], podview.Added(v.ContainerMounts, 0))
	}
	for _, x := range []interface{}{nil, (*Mutation)(nil), spec, "x"} {
		if v := podview.OfMutation(x); !reflect.DeepEqual(v, podview.View{}) {
			t.Errorf("%T: %+v, want the zero View", x, v)
		}
	}
}

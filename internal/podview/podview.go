// Package podview lets package sidecar read a patch.Mutation's pod spec as
// its edits leave it without materialising it: Mutation.Spec copies every
// container into a new list, which validating an injection does not need.
// It is set by package patch when it is initialised, as internal/leanpod is.
package podview

import corev1 "k8s.io/api/core/v1"

// View is a pod spec's lists, read-only: the containers by pointer into
// the spec (or into a Mutation's state), the other lists as they are.
type View struct {
	InitContainers []*corev1.Container
	Containers     []*corev1.Container
	Ephemeral      []corev1.EphemeralContainer
	// The volumes are Volumes followed by AddedVolumes (those a Mutation
	// added; none in the View of a PodSpec).
	Volumes, AddedVolumes []corev1.Volume
	// InitMounts[i], when InitMounts is not nil, are volume mounts a
	// Mutation added to InitContainers[i] and keeps aside: the
	// container's volume mounts are its VolumeMounts followed by them
	// (read them with Mounts). ContainerMounts likewise for Containers.
	// Nil in the View of a PodSpec.
	InitMounts, ContainerMounts [][]corev1.VolumeMount
}

// Mounts is a container's volume mounts: Base (its VolumeMounts)
// followed by Added (those kept aside, see InitMounts).
type Mounts struct{ Base, Added []corev1.VolumeMount }

// Len returns the number of mounts.
func (m Mounts) Len() int { return len(m.Base) + len(m.Added) }

// At returns the i-th mount.
func (m Mounts) At(i int) *corev1.VolumeMount {
	if i < len(m.Base) {
		return &m.Base[i]
	}
	return &m.Added[i-len(m.Base)]
}

// Added returns l[i], or nil when l is nil: the added mounts of the i-th
// container (see InitMounts).
func Added(l [][]corev1.VolumeMount, i int) []corev1.VolumeMount {
	if l == nil {
		return nil
	}
	return l[i]
}

// Of returns the View of spec.
func Of(spec *corev1.PodSpec) View {
	return View{InitContainers: pointers(spec.InitContainers), Containers: pointers(spec.Containers),
		Ephemeral: spec.EphemeralContainers, Volumes: spec.Volumes}
}

func pointers(l []corev1.Container) []*corev1.Container {
	out := make([]*corev1.Container, len(l))
	for i := range l {
		out[i] = &l[i]
	}
	return out
}

// OfMutation returns the View of the spec of m, a *patch.Mutation, as its
// edits leave it (the zero View for anything else); the View shares the
// Mutation's memory and is valid until its next edit. Set by package
// patch.
var OfMutation func(m interface{}) View

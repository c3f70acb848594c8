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

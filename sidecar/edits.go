package sidecar

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// editor is the part of a *patch.Mutation that Inject, Migrate, Uninject
// and SchedulingSpec edit through. On the states they build, none of
// these edits fails: they remove only what the spec holds, move a
// container to a list that has no container of its name, add what
// validation accepted. Each is still checked, and its error returned
// with its context, in case a later change breaks that; an editor that
// fails a chosen edit (TestEditFailures, edits_internal_test.go) is how
// the tests reach those returns.
type editor interface {
	InsertContainer(l patch.List, i int, c corev1.Container) error
	InsertEncoded(l patch.List, i int, c *patch.EncodedContainer) error
	RemoveContainer(l patch.List, name string) error
	MoveContainer(from patch.List, name string, to patch.List, i int) error
	SetContainerField(l patch.List, name, jsonName string, value interface{}) error
	ClearContainerField(l patch.List, name, jsonName string) error
	AddVolume(v corev1.Volume) error
	AddEncodedVolume(v *patch.EncodedVolume) error
	RemoveVolume(name string) error
	AddVolumeMount(l patch.List, container string, vm corev1.VolumeMount) error
	RemoveVolumeMount(l patch.List, container, mountPath string) error
	AddEnv(l patch.List, container string, e corev1.EnvVar) error
	RemoveEnv(l patch.List, container, name string) error
	RequireNode(req corev1.NodeSelectorRequirement) error
	RemoveNodeRequirement(req corev1.NodeSelectorRequirement) error
	SetAnnotation(key, value string) error
	RemoveAnnotation(key string) error
	Diff(after *corev1.PodSpec) error

	Names(l patch.List) []string
	Spec() corev1.PodSpec
	Result() (*metav1.ObjectMeta, *corev1.PodSpec)
	Empty() bool
}

// wrapEditor, when not nil, gives the editor that edits m in its place:
// it is nil except in tests, which wrap m in an editor that fails.
type wrapEditor func(m *patch.Mutation) editor

// of returns the editor of m.
func (w wrapEditor) of(m *patch.Mutation) editor {
	if w == nil {
		return m
	}
	return w(m)
}

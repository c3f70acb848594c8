package sidecar

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/annotation"
	"github.com/sidecarkit/sidecarkit/patch"
)

// Uninject plans the removal of the sidecar named name that Inject added:
// its containers, the volumes, mounts and env it added, its node-affinity
// requirement and its annotation. It removes only what it can verify as
// the library's by content (the digests of the record, see [Record]): a
// volume, a mount or an env var whose content differs from what was
// injected is the Pod author's and stays; a container of the sidecar's
// names whose content differs is an error naming it, since the library
// cannot tell whose it is. A Pod without the sidecar gives an empty
// mutation; a container of that name without a record is an error.
func Uninject(meta *metav1.ObjectMeta, spec *corev1.PodSpec, name string) (*patch.Mutation, error) {
	return uninject(meta, spec, name, nil)
}

// uninject is Uninject, editing through wrap's editor (see editor).
func uninject(meta *metav1.ObjectMeta, spec *corev1.PodSpec, name string, wrap wrapEditor) (*patch.Mutation, error) {
	if spec == nil {
		return nil, errors.New("sidecar: uninject: nil pod spec")
	}
	pm := patch.New(meta, spec)
	m := wrap.of(pm)
	rec, has, err := ReadRecord(meta, name)
	if err != nil {
		return nil, fmt.Errorf("sidecar: uninject: %w", err)
	}
	if !has {
		if p := containerPath(spec, name); p != nil {
			return nil, fmt.Errorf("sidecar: uninject: %s: container %q was not injected by sidecarkit (no %s annotation)", p, name, Annotation(name))
		}
		return pm, nil
	}
	f := factsOf(spec)
	removed := map[string]bool{}
	for _, l := range []struct {
		list    patch.List
		cs      []corev1.Container
		digests map[string]string
	}{{patch.InitContainers, spec.InitContainers, rec.InitContainers}, {patch.Containers, spec.Containers, rec.Containers}} {
		for i := range l.cs {
			c := &l.cs[i]
			d, ok := rec.claims(c.Name)
			if !ok || removed[c.Name] {
				continue
			}
			if containerDigest(c, &f) != d {
				return nil, fmt.Errorf("sidecar: uninject: %s: container %q differs from what the record of sidecar %q says was injected; refusing to remove it (remove it by hand if it is the sidecar)", field.NewPath("spec", string(l.list)).Index(i), c.Name, name)
			}
			if err := m.RemoveContainer(l.list, c.Name); err != nil {
				return nil, fmt.Errorf("sidecar: uninject: %w", err)
			}
			removed[c.Name] = true
		}
	}
	preset := presetsOf(&rec)
	for i := range spec.Containers {
		c := &spec.Containers[i]
		if removed[c.Name] {
			continue
		}
		if err := removeStaleItems(m, c, rec.AppMounts, rec.AppEnv, preset); err != nil {
			return nil, fmt.Errorf("sidecar: uninject: %w", err)
		}
	}
	index := make(map[string]int, len(spec.Volumes))
	for i := range spec.Volumes {
		if _, dup := index[spec.Volumes[i].Name]; !dup {
			index[spec.Volumes[i].Name] = i
		}
	}
	var users map[string]*field.Path
	for _, v := range sortedKeys(rec.Volumes) {
		i, ok := index[v]
		if !ok || volumeDigest(&spec.Volumes[i]) != rec.Volumes[v] {
			continue
		}
		if users == nil {
			s := m.Spec()
			users = volumeUsers(&s)
		}
		if p := users[v]; p != nil {
			return nil, fmt.Errorf("sidecar: uninject: %s: still mounts volume %q that the sidecar added", p, v)
		}
		if err := m.RemoveVolume(v); err != nil {
			return nil, fmt.Errorf("sidecar: uninject: %w", err)
		}
	}
	if rec.NodeRequirement {
		if err := m.RemoveNodeRequirement(compat.NativeNodeSelectorRequirement()); err != nil {
			return nil, fmt.Errorf("sidecar: uninject: %w", err)
		}
	}
	if rec.DefaultContainer != "" && meta.Annotations[annotation.DefaultContainer] == rec.DefaultContainer {
		if err := m.RemoveAnnotation(annotation.DefaultContainer); err != nil {
			return nil, fmt.Errorf("sidecar: uninject: %w", err)
		}
	}
	if err := m.RemoveAnnotation(Annotation(name)); err != nil {
		return nil, fmt.Errorf("sidecar: uninject: %w", err)
	}
	return pm, nil
}

// containerPath returns the field path of the container named name in any
// list, or nil.
func containerPath(spec *corev1.PodSpec, name string) *field.Path {
	if i := indexOf(spec.InitContainers, name); i >= 0 {
		return field.NewPath("spec", "initContainers").Index(i)
	}
	if i := indexOf(spec.Containers, name); i >= 0 {
		return field.NewPath("spec", "containers").Index(i)
	}
	return nil
}

// volumeUsers returns, for each volume that a container of spec mounts,
// the path of its first mount.
func volumeUsers(spec *corev1.PodSpec) map[string]*field.Path {
	out := map[string]*field.Path{}
	for _, l := range []struct {
		p  *field.Path
		cs []corev1.Container
	}{{field.NewPath("spec", "initContainers"), spec.InitContainers}, {field.NewPath("spec", "containers"), spec.Containers}} {
		for i := range l.cs {
			for j := range l.cs[i].VolumeMounts {
				if n := l.cs[i].VolumeMounts[j].Name; out[n] == nil {
					out[n] = l.p.Index(i).Child("volumeMounts").Index(j)
				}
			}
		}
	}
	return out
}

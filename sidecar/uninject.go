package sidecar

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
)

// Uninject plans the removal of the sidecar named name that Inject added:
// its containers, the volumes, mounts and env it added (as its annotation
// records them, so that what was there before stays), its node-affinity
// requirement and its annotation. A Pod without the sidecar gives an empty
// mutation; a container of that name that sidecarkit did not inject is an
// error.
func Uninject(meta *metav1.ObjectMeta, spec *corev1.PodSpec, name string) (*patch.Mutation, error) {
	if spec == nil {
		return nil, errors.New("sidecar: uninject: nil pod spec")
	}
	m := patch.New(meta, spec)
	rec, has, err := ReadRecord(meta, name)
	if err != nil {
		return nil, fmt.Errorf("sidecar: uninject: %w", err)
	}
	if !has {
		if p := containerPath(spec, name); p != nil {
			return nil, fmt.Errorf("sidecar: uninject: %s: container %q was not injected by sidecarkit (no %s annotation)", p, name, Annotation(name))
		}
		return m, nil
	}
	for _, l := range []struct {
		list  patch.List
		names []string
	}{{patch.InitContainers, rec.InitContainers}, {patch.Containers, rec.Containers}} {
		for _, n := range l.names {
			cur := m.Spec()
			switch {
			case indexOf(cur.InitContainers, n) >= 0:
				err = m.RemoveContainer(patch.InitContainers, n)
			case indexOf(cur.Containers, n) >= 0:
				err = m.RemoveContainer(patch.Containers, n)
			}
			if err != nil {
				return nil, fmt.Errorf("sidecar: uninject: %w", err)
			}
		}
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		app, ok := rec.Apps[c.Name]
		if !ok {
			continue
		}
		for _, mp := range app.Mounts {
			if mountIndex(c.VolumeMounts, mp) >= 0 {
				if err := m.RemoveVolumeMount(patch.Containers, c.Name, mp); err != nil {
					return nil, fmt.Errorf("sidecar: uninject: %w", err)
				}
			}
		}
		for _, n := range app.Env {
			if envIndex(c.Env, n) >= 0 {
				if err := m.RemoveEnv(patch.Containers, c.Name, n); err != nil {
					return nil, fmt.Errorf("sidecar: uninject: %w", err)
				}
			}
		}
	}
	for _, v := range rec.Volumes {
		if volumeIndex(spec.Volumes, v) < 0 {
			continue
		}
		cur := m.Spec()
		if p := volumeUser(&cur, v); p != nil {
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
	if err := m.RemoveAnnotation(Annotation(name)); err != nil {
		return nil, fmt.Errorf("sidecar: uninject: %w", err)
	}
	return m, nil
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

// volumeUser returns the path of a volume mount of the volume named name,
// or nil.
func volumeUser(spec *corev1.PodSpec, name string) *field.Path {
	for _, l := range []struct {
		p  *field.Path
		cs []corev1.Container
	}{{field.NewPath("spec", "initContainers"), spec.InitContainers}, {field.NewPath("spec", "containers"), spec.Containers}} {
		for i, c := range l.cs {
			for j, vm := range c.VolumeMounts {
				if vm.Name == name {
					return l.p.Index(i).Child("volumeMounts").Index(j)
				}
			}
		}
	}
	return nil
}

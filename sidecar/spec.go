package sidecar

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Spec is what to inject: the sidecar container, the volumes it needs, what
// application containers get to talk to it, and where it goes. Everything
// injected comes from the Spec, never from the Pod: a pod author must not
// choose what a webhook injects.
type Spec struct {
	// Container is the sidecar. Inject sets its RestartPolicy (Always for a
	// native sidecar, unset for a legacy one); any value here is ignored.
	Container corev1.Container `json:"container"`
	// Volumes are added to the Pod unless a volume of the same name and
	// the same source is there already (another name clash is an error).
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// AppMounts are added to every application container (the Pod's
	// regular containers, the sidecar excepted), for example a shared
	// socket directory. A container that already mounts the same volume at
	// the mountPath is left alone; another use of the mountPath is an error.
	AppMounts []corev1.VolumeMount `json:"appMounts,omitempty"`
	// AppEnv is added to every application container. A container that
	// already sets a variable of the same name keeps its own value (and
	// the Result carries a warning when it differs); later injections and
	// Uninject leave it alone. AppMounts are treated the same way.
	AppEnv []corev1.EnvVar `json:"appEnv,omitempty"`
	// Placement says where the sidecar goes among the init containers
	// (native) or the containers (legacy). The zero value is First.
	Placement Placement `json:"placement,omitempty"`
}

// Position is where a sidecar goes in its list.
type Position string

// The positions. The zero value means First.
const (
	// First puts the sidecar ahead of every other container of its list, so
	// that a native sidecar starts before all init containers.
	First Position = "First"
	// Last appends the sidecar.
	Last Position = "Last"
	// Before puts the sidecar just before the container named by
	// Placement.Name.
	Before Position = "Before"
	// After puts the sidecar just after the container named by
	// Placement.Name, for example after an "istio-proxy" or a network
	// setup init container.
	After Position = "After"
)

// Placement says where a sidecar goes. With Before or After, a missing
// named container makes the sidecar go first, with a warning.
type Placement struct {
	Position Position `json:"position,omitempty"`
	Name     string   `json:"name,omitempty"`
}

// Validate checks the Spec on its own: a valid container name, an image,
// volumes and mounts that make sense. Errors carry field paths rooted at
// "sidecar" (for example "sidecar.container.image").
func (s *Spec) Validate() error {
	return s.validate().ToAggregate()
}

func (s *Spec) validate() field.ErrorList {
	root := field.NewPath("sidecar")
	cp := root.Child("container")
	var errs field.ErrorList
	if s.Container.Name == "" {
		errs = append(errs, field.Required(cp.Child("name"), "the sidecar needs a name"))
	} else {
		for _, msg := range validation.IsDNS1123Label(s.Container.Name) {
			errs = append(errs, field.Invalid(cp.Child("name"), s.Container.Name, msg))
		}
	}
	if s.Container.Image == "" {
		errs = append(errs, field.Required(cp.Child("image"), "the sidecar needs an image"))
	}
	names := map[string]int{}
	for i, v := range s.Volumes {
		vp := root.Child("volumes").Index(i)
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vp.Child("name"), ""))
		case len(validation.IsDNS1123Label(v.Name)) > 0:
			errs = append(errs, field.Invalid(vp.Child("name"), v.Name, validation.IsDNS1123Label(v.Name)[0]))
		default:
			if j, dup := names[v.Name]; dup {
				errs = append(errs, field.Duplicate(vp.Child("name"), fmt.Sprintf("%s (also sidecar.volumes[%d])", v.Name, j)))
			}
			names[v.Name] = i
		}
	}
	seen := map[string]bool{}
	for i, m := range s.AppMounts {
		mp := root.Child("appMounts").Index(i)
		if m.MountPath == "" {
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		} else if seen[m.MountPath] {
			errs = append(errs, field.Duplicate(mp.Child("mountPath"), m.MountPath))
		}
		seen[m.MountPath] = true
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if _, ok := names[m.Name]; !ok {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
	}
	envSeen := map[string]bool{}
	for i, e := range s.AppEnv {
		ep := root.Child("appEnv").Index(i).Child("name")
		if e.Name == "" {
			errs = append(errs, field.Required(ep, ""))
		} else if envSeen[e.Name] {
			errs = append(errs, field.Duplicate(ep, e.Name))
		}
		envSeen[e.Name] = true
	}
	pp := root.Child("placement")
	switch s.Placement.Position {
	case "", First, Last:
		if s.Placement.Name != "" {
			errs = append(errs, field.Invalid(pp.Child("name"), s.Placement.Name, "only Before and After name a container"))
		}
	case Before, After:
		if s.Placement.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), fmt.Sprintf("%s needs the name of a container", s.Placement.Position)))
		} else if s.Placement.Name == s.Container.Name {
			errs = append(errs, field.Invalid(pp.Child("name"), s.Placement.Name, "the sidecar cannot be placed relative to itself"))
		}
	default:
		errs = append(errs, field.NotSupported(pp.Child("position"), string(s.Placement.Position), []string{string(First), string(Last), string(Before), string(After)}))
	}
	return errs
}

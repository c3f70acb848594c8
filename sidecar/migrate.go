package sidecar

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/annotation"
	"github.com/sidecarkit/sidecarkit/internal/podview"
	"github.com/sidecarkit/sidecarkit/patch"
)

// Migrate plans moving an existing sidecar, the container named name,
// between the legacy form (a regular container) and the native form (an
// init container with restartPolicy Always): to Native it moves the
// container from containers to initContainers at the placement index and
// sets restartPolicy Always; to Legacy it clears restartPolicy and moves
// the container to containers. The move renders as an RFC 6902 "move", so
// every field of the raw container, unknown ones included, survives. The
// container need not have been injected by sidecarkit: this is how an
// operator flips a hand-written legacy sidecar to native. A container that
// is already in the wanted form gives an empty mutation.
//
// The result is checked with [ValidatePod]: for example a native sidecar
// moved to containers may keep its probes, but an init container cannot be
// moved to containers under a name that is used there.
func Migrate(meta *metav1.ObjectMeta, spec *corev1.PodSpec, name string, to Mode, p Placement) (*patch.Mutation, error) {
	return migrate(meta, spec, name, to, p, nil)
}

// migrate is Migrate, editing through wrap's editor (see editor).
func migrate(meta *metav1.ObjectMeta, spec *corev1.PodSpec, name string, to Mode, p Placement, wrap wrapEditor) (*patch.Mutation, error) {
	if spec == nil {
		return nil, errors.New("sidecar: migrate: nil pod spec")
	}
	pm := patch.New(meta, spec)
	m := wrap.of(pm)
	init, regular := indexOf(spec.InitContainers, name), indexOf(spec.Containers, name)
	switch {
	case init < 0 && regular < 0:
		return nil, fmt.Errorf("sidecar: migrate: no container named %q in spec.initContainers or spec.containers", name)
	case to == Native && regular >= 0:
		idx, _ := placeIndex(containerNames(spec.InitContainers), p, patch.InitContainers)
		if err := m.MoveContainer(patch.Containers, name, patch.InitContainers, idx); err != nil {
			return nil, fmt.Errorf("sidecar: migrate: %w", err)
		}
		if err := m.SetContainerField(patch.InitContainers, name, "restartPolicy", corev1.ContainerRestartPolicyAlways); err != nil {
			return nil, fmt.Errorf("sidecar: migrate: %w", err)
		}
	case to == Native:
		if err := m.SetContainerField(patch.InitContainers, name, "restartPolicy", corev1.ContainerRestartPolicyAlways); err != nil {
			return nil, fmt.Errorf("sidecar: migrate: %w", err)
		}
	case to == Legacy && init >= 0:
		if err := m.ClearContainerField(patch.InitContainers, name, "restartPolicy"); err != nil {
			return nil, fmt.Errorf("sidecar: migrate: %w", err)
		}
		idx, _ := placeIndex(containerNames(spec.Containers), p, patch.Containers)
		if err := m.MoveContainer(patch.InitContainers, name, patch.Containers, idx); err != nil {
			return nil, fmt.Errorf("sidecar: migrate: %w", err)
		}
	case to == Legacy:
	default:
		return nil, fmt.Errorf("sidecar: migrate: mode %q: want %q or %q", to, Native, Legacy)
	}
	after := m.Spec()
	if errs := validatePod(podview.Of(&after), map[string]bool{name: true}, nil); len(errs) > 0 {
		return nil, fmt.Errorf("sidecar: migrate %q would make an invalid pod: %w", name, errs.ToAggregate())
	}
	if rec, has, err := ReadRecord(meta, name); err == nil && has && rec.Mode != to && rec.Mode != Universal {
		// The record follows the container: a container it verified keeps
		// being verified in its new form; one it did not stays unverified.
		d, _ := rec.claims(name)
		f := factsOf(spec)
		var before *corev1.Container
		if init >= 0 {
			before = &spec.InitContainers[init]
		} else {
			before = &spec.Containers[regular]
		}
		if d == containerDigest(before, &f) {
			if i := indexOf(after.InitContainers, name); i >= 0 {
				d = containerDigest(&after.InitContainers[i], &f)
			} else if i := indexOf(after.Containers, name); i >= 0 {
				d = containerDigest(&after.Containers[i], &f)
			}
		}
		delete(rec.InitContainers, name)
		delete(rec.Containers, name)
		if to == Native {
			rec.InitContainers = addKey(rec.InitContainers, name, d)
		} else {
			rec.Containers = addKey(rec.Containers, name, d)
		}
		rec.Mode, rec.Reason = to, reasonRequested
		rec.Spec = "" // the next Inject brings the sidecar up to its spec
		if err := migrateDefault(m, meta, &after, name, &rec); err != nil {
			return nil, err
		}
		if err := m.SetAnnotation(Annotation(name), rec.encode()); err != nil {
			return nil, fmt.Errorf("sidecar: migrate: %w", err)
		}
	}
	return pm, nil
}

// migrateDefault keeps kubectl's default container an application
// container after a migration, as Inject does: it names the first
// application container when the sidecar became the first regular
// container and the Pod names none, and removes the value rec says an
// injection set once the sidecar is no longer first.
func migrateDefault(m editor, meta *metav1.ObjectMeta, after *corev1.PodSpec, name string, rec *Record) error {
	cur := meta.Annotations[annotation.DefaultContainer]
	ours := cur != "" && rec.DefaultContainer != "" && cur == rec.DefaultContainer
	app := ""
	for i := range after.Containers {
		if after.Containers[i].Name != name {
			app = after.Containers[i].Name
			break
		}
	}
	switch first := len(after.Containers) > 0 && after.Containers[0].Name == name; {
	case first && app != "" && (cur == "" || ours):
		if cur != app {
			if err := m.SetAnnotation(annotation.DefaultContainer, app); err != nil {
				return fmt.Errorf("sidecar: migrate: %w", err)
			}
		}
		rec.DefaultContainer = app
	case ours:
		if err := m.RemoveAnnotation(annotation.DefaultContainer); err != nil {
			return fmt.Errorf("sidecar: migrate: %w", err)
		}
		rec.DefaultContainer = ""
	default:
		rec.DefaultContainer = ""
	}
	return nil
}

func containerNames(l []corev1.Container) []string {
	out := make([]string, len(l))
	for i := range l {
		out[i] = l[i].Name
	}
	return out
}

// addKey returns m with k set to v, making m when it is nil.
func addKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

package sidecar

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/compat"
)

// Plan is the concrete set of objects one injection adds to a Pod: the
// containers in each list (placed together, in order), the volumes, what
// application containers get, and an optional node-affinity requirement.
// Inject builds it from a Spec and a Mode; a [Planner] builds it for the
// universal pair.
type Plan struct {
	Mode            Mode
	InitContainers  []corev1.Container
	Containers      []corev1.Container
	Volumes         []corev1.Volume
	AppMounts       []corev1.VolumeMount
	AppEnv          []corev1.EnvVar
	NodeRequirement *corev1.NodeSelectorRequirement
	// Placement says where InitContainers go among the pod's init
	// containers; ContainerPlacement where Containers go among its regular
	// containers (the zero value: first). See [LegacyPlacement].
	Placement          Placement
	ContainerPlacement Placement
	// Warnings are passed on to the Result.
	Warnings []compat.Finding
}

// Planner builds the Plan of a mode that package sidecar does not build
// itself: the universal pair. Package universal provides one; see
// Options.Universal.
type Planner interface {
	Plan(s Spec, pod *corev1.PodSpec) (Plan, error)
}

func planFor(mode Mode, s *Spec, pod *corev1.PodSpec, o *Options) (Plan, error) {
	if mode == Universal {
		if o.Universal == nil {
			return Plan{}, fmt.Errorf("sidecar: universal mode needs Options.Universal (a universal.Planner from package universal)")
		}
		p, err := o.Universal.Plan(*s, pod)
		if err != nil {
			return Plan{}, err
		}
		p.Mode = Universal
		return p, nil
	}
	c := *s.Container.DeepCopy()
	p := Plan{Mode: mode, Volumes: s.Volumes, AppMounts: s.AppMounts, AppEnv: s.AppEnv, Placement: s.Placement}
	switch mode {
	case Native, Pinned:
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		p.InitContainers = []corev1.Container{c}
		if mode == Pinned {
			req := compat.NativeNodeSelectorRequirement()
			p.NodeRequirement = &req
		}
	case Legacy:
		c.RestartPolicy = nil
		p.Containers = []corev1.Container{c}
		p.Placement, p.ContainerPlacement = Placement{}, LegacyPlacement(s.Placement, pod)
	default:
		return Plan{}, fmt.Errorf("sidecar: no plan for mode %q", mode)
	}
	return p, nil
}

// hash identifies everything the plan injects.
func (p *Plan) hash() string {
	b, _ := json.Marshal(struct {
		Mode            Mode                            `json:"mode"`
		InitContainers  []corev1.Container              `json:"initContainers,omitempty"`
		Containers      []corev1.Container              `json:"containers,omitempty"`
		Volumes         []corev1.Volume                 `json:"volumes,omitempty"`
		AppMounts       []corev1.VolumeMount            `json:"appMounts,omitempty"`
		AppEnv          []corev1.EnvVar                 `json:"appEnv,omitempty"`
		NodeRequirement *corev1.NodeSelectorRequirement `json:"nodeRequirement,omitempty"`
	}{p.Mode, p.InitContainers, p.Containers, p.Volumes, p.AppMounts, p.AppEnv, p.NodeRequirement})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// checkNames requires every container of the plan to be named after the
// sidecar named name (name itself, or name-<suffix>): what a record may
// claim is limited to those names (see ReadRecord), so a forged record can
// never make the library treat another container as its own.
func (p *Plan) checkNames(name string) error {
	for _, l := range []struct {
		list string
		cs   []corev1.Container
	}{{"initContainers", p.InitContainers}, {"containers", p.Containers}} {
		for i := range l.cs {
			if n := l.cs[i].Name; !ownName(name, n) {
				return fmt.Errorf("sidecar: the %s plan's %s[%d] is named %q; the containers of sidecar %q must be named %q or %q", p.Mode, l.list, i, excerpt(n), name, name, name+"-<suffix>")
			}
		}
	}
	return nil
}

// names returns the names of the plan's containers.
func (p *Plan) names() map[string]bool {
	n := make(map[string]bool, len(p.InitContainers)+len(p.Containers))
	for _, c := range p.InitContainers {
		n[c.Name] = true
	}
	for _, c := range p.Containers {
		n[c.Name] = true
	}
	return n
}

// LegacyPlacement turns a Spec's placement, meant for init containers, into
// one for a legacy sidecar among the regular containers: First and Last are
// kept, and so are Before and After when they name a regular container (or
// no container at all, so that the usual warning names the typo). When they
// name an init container, which has no place among regular containers, the
// sidecar goes first.
func LegacyPlacement(p Placement, pod *corev1.PodSpec) Placement {
	if p.Position != Before && p.Position != After || pod == nil {
		return p
	}
	for i := range pod.Containers {
		if pod.Containers[i].Name == p.Name {
			return p
		}
	}
	for i := range pod.InitContainers {
		if pod.InitContainers[i].Name == p.Name {
			return Placement{}
		}
	}
	return p
}

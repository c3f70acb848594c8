package sidecar

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Resources are a Pod's effective requests and limits, the amounts the
// scheduler, kubelet admission and ResourceQuota use.
type Resources struct {
	Requests corev1.ResourceList `json:"requests,omitempty"`
	Limits   corev1.ResourceList `json:"limits,omitempty"`
}

// PodResources computes a Pod's effective requests and limits exactly as
// k8s.io/component-helpers/resource PodRequests and PodLimits do from the
// spec (docs/native-sidecars.md#resource-accounting): regular containers and every
// restartable init container add up; each ordinary init container needs its
// own request plus the sidecars started before it; the larger of the two
// wins, per resource. Pod-level requests or limits (spec.resources, which
// the compiled API types may not know: see [patch.Object]) then replace the
// aggregate for cpu, memory and hugepages-*; the overhead comes last (for
// limits, only where a limit is set).
func PodResources(spec *corev1.PodSpec, podLevel *corev1.ResourceRequirements) Resources {
	reqs := aggregate(spec, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests })
	lims := aggregate(spec, func(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits })
	if podLevel != nil {
		if hasPodLevel(podLevel.Requests) {
			applyPodLevel(reqs, podLevel.Requests)
		}
		if hasPodLevel(podLevel.Requests) || hasPodLevel(podLevel.Limits) {
			applyPodLevel(lims, podLevel.Limits)
		}
	}
	for name, q := range spec.Overhead {
		addQuantity(reqs, name, q)
		if v, ok := lims[name]; ok && !v.IsZero() {
			v.Add(q)
			lims[name] = v
		}
	}
	return Resources{Requests: reqs, Limits: lims}
}

func aggregate(spec *corev1.PodSpec, get func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	result := corev1.ResourceList{}
	for i := range spec.Containers {
		addList(result, get(&spec.Containers[i]))
	}
	sidecars := corev1.ResourceList{}
	initMax := corev1.ResourceList{}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		use := get(c)
		if isSidecar(c) {
			addList(result, use)
			addList(sidecars, use)
			use = sidecars
		} else {
			combined := corev1.ResourceList{}
			addList(combined, use)
			addList(combined, sidecars)
			use = combined
		}
		maxList(initMax, use)
	}
	maxList(result, initMax)
	return result
}

// isSidecar reports whether an init container is a native sidecar. Only
// restartPolicy Always makes one (docs/native-sidecars.md#what-a-native-sidecar-is).
func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func podLevelResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory || strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

func hasPodLevel(l corev1.ResourceList) bool {
	for name := range l {
		if podLevelResource(name) {
			return true
		}
	}
	return false
}

func applyPodLevel(result, podLevel corev1.ResourceList) {
	for name, q := range podLevel {
		if podLevelResource(name) {
			result[name] = q.DeepCopy()
		}
	}
}

func addList(list, add corev1.ResourceList) {
	for name, q := range add {
		addQuantity(list, name, q)
	}
}

func addQuantity(list corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	if v, ok := list[name]; ok {
		v.Add(q)
		list[name] = v
		return
	}
	list[name] = q.DeepCopy()
}

func maxList(list, other corev1.ResourceList) {
	for name, q := range other {
		if v, ok := list[name]; !ok || q.Cmp(v) > 0 {
			list[name] = q.DeepCopy()
		}
	}
}

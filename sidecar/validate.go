package sidecar

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/sidecarkit/sidecarkit/internal/podview"
)

// ValidatePod checks a PodSpec against the API server's rules that
// injecting or moving a sidecar can break (docs/native-sidecars.md#validation,
// from k8s.io/kubernetes pkg/apis/core/validation): container names are
// DNS-1123 labels unique across containers, initContainers and
// ephemeralContainers; volumeMounts name existing volumes and have unique
// mountPaths; probes and lifecycle only on init containers with
// restartPolicy Always; container restartPolicy values Always, OnFailure or
// Never (anything but Always on an init container, and any value on a
// regular container, also needs the ContainerRestartRules feature, on by
// default from 1.35, which the library cannot see: it leaves that to the
// API server); valid and unique port names;
// no hostPort clashes (across all regular containers together, within each
// init container alone). Errors have the API server's paths and texts, for
// example `spec.initContainers[0].name: Duplicate value: "proxy"`.
//
// The rules are a pre-flight subset, not the whole of Pod validation.
func ValidatePod(spec *corev1.PodSpec) field.ErrorList {
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	return validatePod(podview.Of(spec), nil, nil)
}

var restartPolicies = []string{string(corev1.ContainerRestartPolicyAlways), "OnFailure", "Never"}

func knownRestartPolicy(p corev1.ContainerRestartPolicy) bool {
	for _, v := range restartPolicies {
		if string(p) == v {
			return true
		}
	}
	return false
}

// validatePod returns the errors of the containers whose names are in
// touched, or of every container when touched is nil; and, for the regular
// containers in mounted (application containers that only got volume
// mounts), the errors of those mounts alone (by mountPath): what a
// container already had is not the injection's to judge.
func validatePod(spec podview.View, touched map[string]bool, mounted map[string][]string) field.ErrorList {
	var errs field.ErrorList
	keep := func(name string, e field.ErrorList) {
		if touched == nil || touched[name] {
			errs = append(errs, e...)
		}
	}
	vols := make(map[string]bool, len(spec.Volumes)+len(spec.AddedVolumes))
	for _, l := range [2][]corev1.Volume{spec.Volumes, spec.AddedVolumes} {
		for i := range l {
			vols[l[i].Name] = true
		}
	}
	// The paths are built only for an error (see lazyPath).
	cp := lazyPath(func() *field.Path { return field.NewPath("spec", "containers") })
	names := map[string]bool{}
	for i := range spec.Containers {
		i := i
		c := spec.Containers[i]
		p := lazyPath(func() *field.Path { return cp().Index(i) })
		var e field.ErrorList
		if touched == nil || touched[c.Name] {
			e = validateCommon(c, podview.Added(spec.ContainerMounts, i), vols, p)
		} else if paths := mounted[c.Name]; len(paths) > 0 {
			errs = append(errs, validateMounts(podview.Mounts{Base: c.VolumeMounts, Added: podview.Added(spec.ContainerMounts, i)}, vols, p, paths)...)
		}
		if names[c.Name] {
			e = append(e, field.Duplicate(p.Child("name"), c.Name))
		} else {
			names[c.Name] = true
		}
		if c.RestartPolicy != nil && !knownRestartPolicy(*c.RestartPolicy) {
			// Without the ContainerRestartRules feature any value is
			// forbidden here, with it (beta, on by default, from 1.35;
			// docs/native-sidecars.md#validation) Always, OnFailure and Never are allowed. The
			// library never sets it on a regular container and cannot
			// know the gate, so it refuses only what no API server takes.
			e = append(e, field.NotSupported(p.Child("restartPolicy"), *c.RestartPolicy, restartPolicies))
		}
		keep(c.Name, e)
	}
	keepHostPorts(spec.Containers, cp, touched, &errs)

	ip := lazyPath(func() *field.Path { return field.NewPath("spec", "initContainers") })
	for i := range spec.InitContainers {
		i := i
		c := spec.InitContainers[i]
		p := lazyPath(func() *field.Path { return ip().Index(i) })
		var e field.ErrorList
		if touched == nil || touched[c.Name] {
			e = validateCommon(c, podview.Added(spec.InitMounts, i), vols, p)
		}
		always := false
		if c.RestartPolicy != nil {
			always = *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
			// OnFailure and Never need ContainerRestartRules
			// (docs/native-sidecars.md#validation); they do not make a sidecar.
			if !knownRestartPolicy(*c.RestartPolicy) {
				e = append(e, field.NotSupported(p.Child("restartPolicy"), *c.RestartPolicy, restartPolicies))
			}
		}
		if names[c.Name] {
			e = append(e, field.Duplicate(p.Child("name"), c.Name))
		} else if c.Name != "" {
			names[c.Name] = true
		}
		if hasHostPort(c) {
			keepHostPorts([]*corev1.Container{c}, ip, nil, &e)
		}
		if !always {
			const msg = "may not be set for init containers without restartPolicy=Always"
			if c.Lifecycle != nil {
				e = append(e, field.Forbidden(p.Child("lifecycle"), msg))
			}
			if c.LivenessProbe != nil {
				e = append(e, field.Forbidden(p.Child("livenessProbe"), msg))
			}
			if c.ReadinessProbe != nil {
				e = append(e, field.Forbidden(p.Child("readinessProbe"), msg))
			}
			if c.StartupProbe != nil {
				e = append(e, field.Forbidden(p.Child("startupProbe"), msg))
			}
		}
		keep(c.Name, e)
	}

	ep := lazyPath(func() *field.Path { return field.NewPath("spec", "ephemeralContainers") })
	for i := range spec.Ephemeral {
		c := &spec.Ephemeral[i]
		if names[c.Name] {
			keep(c.Name, field.ErrorList{field.Duplicate(ep().Index(i).Child("name"), c.Name)})
		} else {
			// Unique across all three lists, ephemeral containers among
			// themselves too (validateEphemeralContainers).
			names[c.Name] = true
		}
	}
	return errs
}

// validateCommon checks the rules common to all containers: the name, the
// ports and the volume mounts (c's, followed by added).
func validateCommon(c *corev1.Container, added []corev1.VolumeMount, vols map[string]bool, p lazyPath) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if !isDNS1123Label(c.Name) {
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
		}
	}
	portNames := map[string]bool{} // a few ports: on the stack
	for i, port := range c.Ports {
		i := i
		pp := lazyPath(func() *field.Path { return p().Child("ports").Index(i) })
		if port.Name != "" {
			if msgs := portNameErrors(port.Name); len(msgs) > 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
				}
			} else if portNames[port.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			} else {
				portNames[port.Name] = true
			}
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(pp.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(pp.Child("hostPort"), port.HostPort, msg))
			}
		}
	}
	return append(errs, validateMounts(podview.Mounts{Base: c.VolumeMounts, Added: added}, vols, p, nil)...)
}

// validateMounts checks a container's volume mounts, or only those at the
// mountPaths in only when it is not nil: each names an existing volume and
// has a mountPath unique in the container.
func validateMounts(mounts podview.Mounts, vols map[string]bool, p lazyPath, only []string) field.ErrorList {
	var errs field.ErrorList
	paths := map[string]bool{} // the mountPaths seen (with only, those in only)
	for i := 0; i < mounts.Len(); i++ {
		m := mounts.At(i)
		if only != nil && !containsString(only, m.MountPath) { // only: the Spec's few appMounts
			continue
		}
		i := i
		mp := lazyPath(func() *field.Path { return p().Child("volumeMounts").Index(i) })
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		}
		if !vols[m.Name] {
			errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mp.Child("mountPath"), ""))
		}
		if paths[m.MountPath] {
			errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths[m.MountPath] = true
	}
	return errs
}

func containsString(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// keepHostPorts appends the hostPort clashes among containers (numbered
// from fldPath) that involve a touched container, on either side: the API
// server reports a clash at the later port, which may belong to a
// container the injection did not touch (an application container after a
// legacy sidecar placed first).
func keepHostPorts(containers []*corev1.Container, fldPath lazyPath, touched map[string]bool, errs *field.ErrorList) {
	var seen map[string]string // key → the container that has it first
	for ci, c := range containers {
		for pi, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			proto := port.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP // defaulted before validation
			}
			key := fmt.Sprintf("%s/%s/%d", proto, port.HostIP, port.HostPort)
			if first, dup := seen[key]; dup {
				if touched == nil || touched[c.Name] || touched[first] {
					*errs = append(*errs, field.Duplicate(fldPath().Index(ci).Child("ports").Index(pi).Child("hostPort"), key))
				}
				continue
			}
			if seen == nil {
				seen = map[string]string{}
			}
			seen[key] = c.Name
		}
	}
}

func hasHostPort(c *corev1.Container) bool {
	for i := range c.Ports {
		if c.Ports[i].HostPort != 0 {
			return true
		}
	}
	return false
}

// lazyPath builds a field path only when an error needs it: validating a
// valid container allocates no path.
type lazyPath func() *field.Path

func (l lazyPath) Child(name string) *field.Path { return l().Child(name) }

// isDNS1123Label reports whether validation.IsDNS1123Label accepts s
// without running its regular expressions: at most 63 characters of
// [a-z0-9-], beginning and ending with [a-z0-9].
func isDNS1123Label(s string) bool {
	if len(s) == 0 || len(s) > validation.DNS1123LabelMaxLength || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// portNameErrors is validation.IsValidPortName, which runs only when the
// quick check (at most 15 characters of [a-z0-9-], one letter at least, no
// leading, trailing or doubled hyphen) fails.
func portNameErrors(s string) []string {
	ok := len(s) > 0 && len(s) <= 15 && s[0] != '-' && s[len(s)-1] != '-'
	letter := false
	for i := 0; ok && i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z':
			letter = true
		case c >= '0' && c <= '9':
		case c == '-' && s[i-1] != '-':
		default:
			ok = false
		}
	}
	if ok && letter {
		return nil
	}
	return validation.IsValidPortName(s)
}

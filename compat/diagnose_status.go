package compat

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// reasonRestartPolicyForbidden is the Pod status reason a 1.28–1.32 kubelet
// with the gate off sets when it rejects a Pod with sidecars
// (pkg/kubelet/lifecycle/predicate.go; docs/native-sidecars.md#kubelet-with-the-gate-off).
const reasonRestartPolicyForbidden = "InitContainerRestartPolicyForbidden"

// status reads the Pod status: a kubelet rejection, or the init container
// that blocks a Pod in Init.
func (d *diagnosis) status() {
	st := &d.pod.Status
	if st.Reason == reasonRestartPolicyForbidden {
		d.add(Finding{Code: CodeKubeletRejected, Severity: SeverityError, Path: "status.reason",
			Message: fmt.Sprintf("the kubelet of node %q refused the Pod (%s): it knows restartPolicy on init containers but has SidecarContainers off (1.28–1.32); the Pod is Failed: %s", d.pod.Spec.NodeName, st.Reason, st.Message),
			Fix:     "Turn SidecarContainers on in that kubelet or upgrade the node to 1.29+, or keep such Pods off it (pinned mode, nodes labelled " + NodeLabel + ")."})
		return
	}
	if st.Phase != corev1.PodPending || d.pod.Spec.NodeName == "" || len(d.pod.Spec.InitContainers) == 0 {
		return
	}
	statuses := make(map[string]*corev1.ContainerStatus, len(st.InitContainerStatuses))
	for i := range st.InitContainerStatuses {
		statuses[st.InitContainerStatuses[i].Name] = &st.InitContainerStatuses[i]
	}
	inits := d.pod.Spec.InitContainers
	for i := range inits {
		c := &inits[i]
		s := statuses[c.Name]
		if isSidecar(c) {
			if s != nil && s.State.Running != nil {
				if c.StartupProbe != nil && (s.Started == nil || !*s.Started) {
					d.blocked(i, "is running but its startupProbe has not passed yet; the next container waits for it (docs/native-sidecars.md#startup)", SeverityWarning, true)
					return
				}
				continue // started: the kubelet moves on
			}
			if d.startedAfter(i, statuses) {
				continue // restarting, but the kubelet already moved on
			}
		} else if s != nil && s.State.Terminated != nil && s.State.Terminated.ExitCode == 0 {
			continue
		}
		if i > 0 && notStarted(s) && d.runningSidecar(i-1, statuses) {
			d.sidecarNotRunAsSidecar(i - 1)
			return
		}
		switch {
		case isSidecar(c):
			d.blocked(i, "is a sidecar that is not running ("+stateText(s)+"); the kubelet restarts it and starts nothing after it until it runs (docs/native-sidecars.md#startup)", severityOf(s), false)
		case s != nil && s.State.Running != nil:
			d.blocked(i, "is running; an init container without restartPolicy: Always must exit 0 before the next one starts", SeverityWarning, true)
		case s != nil && s.State.Terminated != nil:
			d.blocked(i, fmt.Sprintf("failed with exit code %d (%s)", s.State.Terminated.ExitCode, s.State.Terminated.Reason), SeverityError, false)
		default:
			d.blocked(i, "has not started ("+stateText(s)+")", severityOf(s), false)
		}
		return
	}
	// Every init container is done or a running sidecar: the regular
	// containers should start. If the last one is a running sidecar and
	// they have not, an old kubelet treats it as an ordinary init container.
	last := len(inits) - 1
	if d.runningSidecar(last, statuses) && !anyStarted(st.ContainerStatuses) && !conditionTrue(st, corev1.PodInitialized) {
		d.sidecarNotRunAsSidecar(last)
	}
}

// startedAfter reports whether any container after init container i has
// started.
func (d *diagnosis) startedAfter(i int, statuses map[string]*corev1.ContainerStatus) bool {
	for _, c := range d.pod.Spec.InitContainers[i+1:] {
		if s := statuses[c.Name]; s != nil && !notStarted(s) {
			return true
		}
	}
	return anyStarted(d.pod.Status.ContainerStatuses)
}

// runningSidecar reports whether init container i is a sidecar in the
// stored spec and running.
func (d *diagnosis) runningSidecar(i int, statuses map[string]*corev1.ContainerStatus) bool {
	c := &d.pod.Spec.InitContainers[i]
	s := statuses[c.Name]
	return isSidecar(c) && s != nil && s.State.Running != nil
}

// sidecarNotRunAsSidecar reports a running sidecar that the kubelet does
// not move past: it runs it as an ordinary init container.
func (d *diagnosis) sidecarNotRunAsSidecar(i int) {
	c := &d.pod.Spec.InitContainers[i]
	sev := SeverityWarning
	why := "nothing after it has started: if that lasts, the kubelet runs it as an ordinary init container, as kubelets ≤1.27 do (they ignore restartPolicy; docs/native-sidecars.md#kubelet-127-or-older)"
	switch d.facts.Capability.Kubelet {
	case KubeletStrips:
		sev = SeverityError
		why = "nothing after it has started, and the node's kubelet ignores restartPolicy (≤1.27; docs/native-sidecars.md#kubelet-127-or-older): it waits for the sidecar to exit"
	case KubeletNative:
		sev = SeverityInfo
		why = "nothing after it has started yet; the node's kubelet runs native sidecars, so this should resolve within a sync period"
	}
	d.add(Finding{Code: CodeSidecarBlocksInit, Severity: sev, Path: initPath(i).String(),
		Message: fmt.Sprintf("sidecar %q is running but %s", c.Name, why),
		Fix:     "Upgrade the node to 1.29+, or inject the universal pair, or pin the Pod to native-capable nodes."})
}

// blocked reports init container i as the blocker. If it looks like a
// sidecar that lost restartPolicy, the finding says so.
func (d *diagnosis) blocked(i int, what string, sev Severity, running bool) {
	c := &d.pod.Spec.InitContainers[i]
	msg := fmt.Sprintf("the Pod is stuck in Init at init container %q (%d of %d): it %s", c.Name, i+1, len(d.pod.Spec.InitContainers), what)
	if isSidecar(c) {
		d.add(Finding{Code: CodeStuckInInit, Severity: sev, Path: initPath(i).String(), Message: msg,
			Fix: "Look at the container's logs and events; a sidecar must keep running (or pass its startupProbe) for the Pod to proceed."})
		return
	}
	var ev []string
	strong := false
	if d.intended[i] {
		ev, strong = append(ev, "the intended spec makes it a sidecar"), true
	}
	if len(d.managers[i]) > 0 {
		ev, strong = append(ev, "managedFields show "+quoteList(d.managers[i])+" set its restartPolicy"), true
	}
	if d.recorded[i] != "" {
		ev, strong = append(ev, "sidecarkit's record ("+d.recorded[i]+") says it injected it as a sidecar"), true
	}
	if f := probeFields(c); len(f) > 0 {
		ev = append(ev, "it has "+strings.Join(f, ", ")+", which only sidecars may have")
	}
	if h := sidecarNameHint(c.Name); h != "" {
		ev = append(ev, fmt.Sprintf("its name contains %q", h))
	}
	if len(ev) == 0 || (!strong && !running) {
		d.add(Finding{Code: CodeStuckInInit, Severity: sev, Path: initPath(i).String(), Message: msg,
			Fix: "If it is meant to keep running, make it a sidecar (restartPolicy: Always) on a cluster that supports them; otherwise it must exit 0."})
		return
	}
	if strong {
		sev = SeverityError
	}
	d.add(Finding{Code: CodeSidecarBlocksInit, Severity: sev, Path: initPath(i).String(),
		Message: msg + "; it looks like a sidecar that lost restartPolicy: Always (" + strings.Join(ev, "; ") + ")",
		Fix:     "Restore restartPolicy: Always (see the field-dropped finding, if any), or inject the sidecar as a legacy container."})
}

// sidecarNameHint returns the part of a container name that suggests a
// sidecar (a weak hint), or "".
func sidecarNameHint(name string) string {
	n := strings.ToLower(name)
	for _, h := range []string{"sidecar", "proxy", "envoy", "agent", "istio", "linkerd", "vault", "fluent", "collector", "otel", "dapr", "consul", "exporter"} {
		if strings.Contains(n, h) {
			return h
		}
	}
	return ""
}

func stateText(s *corev1.ContainerStatus) string {
	switch {
	case s == nil:
		return "no status yet"
	case s.State.Waiting != nil:
		return "waiting: " + s.State.Waiting.Reason
	case s.State.Terminated != nil:
		return fmt.Sprintf("terminated with exit code %d, restarted %d times", s.State.Terminated.ExitCode, s.RestartCount)
	case s.State.Running != nil:
		return "running"
	}
	return "no state"
}

// severityOf ranks a not-running container: failures are errors, waiting
// for a start is a warning.
func severityOf(s *corev1.ContainerStatus) Severity {
	if s == nil {
		return SeverityWarning
	}
	if w := s.State.Waiting; w != nil {
		switch w.Reason {
		case "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CreateContainerError", "InvalidImageName", "RunContainerError":
			return SeverityError
		}
	}
	if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
		return SeverityError
	}
	return SeverityWarning
}

// notStarted reports a container the kubelet has not tried to start.
func notStarted(s *corev1.ContainerStatus) bool {
	if s == nil {
		return true
	}
	if s.State.Running != nil || s.State.Terminated != nil || s.RestartCount > 0 {
		return false
	}
	return s.State.Waiting == nil || s.State.Waiting.Reason == "PodInitializing"
}

func anyStarted(statuses []corev1.ContainerStatus) bool {
	for i := range statuses {
		if statuses[i].State.Running != nil || statuses[i].State.Terminated != nil {
			return true
		}
	}
	return false
}

func conditionTrue(st *corev1.PodStatus, t corev1.PodConditionType) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

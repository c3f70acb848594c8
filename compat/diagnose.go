package compat

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Facts is what [Diagnose] knows about a Pod and where it runs.
type Facts struct {
	// Pod is the Pod as stored by the API server (kubectl get pod -o json
	// --show-managed-fields), with metadata.managedFields and status when
	// available. Nil means nothing to diagnose.
	Pod *corev1.Pod
	// Intended is the Pod spec as its author or injector meant it, before
	// admission, when known. It reveals fields that were dropped on the way.
	Intended *corev1.PodSpec
	// Capability is what is known about the API server and the Pod's node
	// (or the weakest node it may land on); the zero value knows nothing.
	Capability Capability
}

// Diagnose explains why native sidecars in a Pod may not work, from the
// stored Pod, optionally the intended spec, and the known capability. It
// reports:
//   - restartPolicy dropped: an init container that the intended spec, a
//     field manager in metadata.managedFields, or sidecarkit's record
//     annotation (see [recordAnnotationPrefix]; managedFields never record
//     what a mutating webhook adds) gave restartPolicy while the stored spec
//     lacks it; and intended sidecars missing altogether;
//   - the init container that blocks a Pod stuck in Init, and whether it
//     looks like a sidecar not run as one (restartPolicy lost, or a kubelet
//     ≤1.27 that ignores it), and a kubelet's admission rejection;
//   - probes or lifecycle on an init container without Always (invalid), or
//     on a sidecar where the API server drops the field (the Pod would be
//     rejected; docs/field-stripping.md#probes-turn-a-drop-into-a-rejection);
//   - from the capability, when the Pod uses sidecars: the gate off on the
//     API server or the node, a node that strips the field, and unordered
//     termination on 1.28 nodes;
//   - sidecars placed after blocking init containers, which therefore run
//     without them;
//   - a sidecar that kubectl logs and exec use by default: named by the
//     [DefaultContainerAnnotation], or an injected legacy sidecar placed
//     first without it.
//
// Findings come errors first, then in the order above; the output is
// deterministic.
func Diagnose(f Facts) []Finding {
	if f.Pod == nil {
		return nil
	}
	d := diagnosis{facts: f, pod: f.Pod}
	d.intent()
	d.dropped()
	d.status()
	d.probes()
	d.capability()
	d.ordering()
	d.defaultContainer()
	sort.SliceStable(d.out, func(i, j int) bool { return d.out[i].Severity > d.out[j].Severity })
	return d.out
}

type diagnosis struct {
	facts Facts
	pod   *corev1.Pod
	out   []Finding

	// Per stored init container, by index.
	managers  [][]string // field managers that set restartPolicy
	intended  []bool     // the intended spec gives it restartPolicy: Always
	recorded  []string   // sidecarkit's record annotation that made it a sidecar
	hasFields bool       // the Pod carries managedFields at all
}

func (d *diagnosis) add(f Finding) { d.out = append(d.out, f) }

// initPath is the path of init container i.
func initPath(i int) *field.Path { return field.NewPath("spec", "initContainers").Index(i) }

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// intent gathers, per stored init container, the evidence that it was
// meant to be a sidecar.
func (d *diagnosis) intent() {
	inits := d.pod.Spec.InitContainers
	d.managers = make([][]string, len(inits))
	d.intended = make([]bool, len(inits))
	d.recorded = make([]string, len(inits))
	d.hasFields = len(d.pod.ManagedFields) > 0
	byName, errs := restartPolicyManagers(d.pod.ManagedFields)
	for _, err := range errs {
		d.add(Finding{Code: CodeManagedFieldsInvalid, Severity: SeverityInfo, Path: "metadata.managedFields",
			Message: "cannot read a managed-fields entry: " + err.Error()})
	}
	records := nativeRecords(d.pod.Annotations)
	for i := range inits {
		d.managers[i] = byName[inits[i].Name]
		d.recorded[i] = records[inits[i].Name]
		if d.facts.Intended != nil {
			if c := findContainer(d.facts.Intended.InitContainers, inits[i].Name); c != nil {
				d.intended[i] = isSidecar(c)
			}
		}
	}
}

// meantAsSidecar reports whether stored init container i is, or was meant
// to be, a sidecar.
func (d *diagnosis) meantAsSidecar(i int) bool {
	return isSidecar(&d.pod.Spec.InitContainers[i]) || d.intended[i] || len(d.managers[i]) > 0 || d.recorded[i] != ""
}

func (d *diagnosis) usesSidecars() bool {
	for i := range d.pod.Spec.InitContainers {
		if d.meantAsSidecar(i) {
			return true
		}
	}
	if d.facts.Intended != nil {
		for i := range d.facts.Intended.InitContainers {
			if isSidecar(&d.facts.Intended.InitContainers[i]) {
				return true
			}
		}
	}
	return false
}

func findContainer(list []corev1.Container, name string) *corev1.Container {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

// dropped reports restartPolicy lost between intent and storage.
func (d *diagnosis) dropped() {
	for i := range d.pod.Spec.InitContainers {
		c := &d.pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil || (!d.intended[i] && len(d.managers[i]) == 0 && d.recorded[i] == "") {
			continue
		}
		var ev []string
		if d.intended[i] {
			ev = append(ev, "the intended spec sets restartPolicy: Always")
		}
		if d.recorded[i] != "" {
			ev = append(ev, fmt.Sprintf("annotation %s records that sidecarkit injected it as a native sidecar", d.recorded[i]))
		}
		if len(d.managers[i]) > 0 {
			ev = append(ev, fmt.Sprintf("metadata.managedFields show manager %s set restartPolicy", quoteList(d.managers[i])))
		}
		cause, fix := d.dropCause(i)
		d.add(Finding{Code: CodeFieldDropped, Severity: SeverityError,
			Path:    initPath(i).Child("restartPolicy").String(),
			Message: fmt.Sprintf("init container %q lacks restartPolicy in the stored Pod although %s: %s; it now runs as an ordinary init container that must exit before the next one starts", c.Name, strings.Join(ev, " and "), cause),
			Fix:     fix})
	}
	if d.facts.Intended == nil {
		return
	}
	for j := range d.facts.Intended.InitContainers {
		c := &d.facts.Intended.InitContainers[j]
		if !isSidecar(c) || findContainer(d.pod.Spec.InitContainers, c.Name) != nil {
			continue
		}
		where := "is in neither list"
		if findContainer(d.pod.Spec.Containers, c.Name) != nil {
			where = "is a regular container instead"
		}
		d.add(Finding{Code: CodeSidecarMissing, Severity: SeverityWarning, Path: "spec.initContainers",
			Message: fmt.Sprintf("intended sidecar %q is not among the stored Pod's init containers: it %s", c.Name, where),
			Fix:     "Check the mutating webhooks that touch this Pod (their order and reinvocation); one of them removed or moved the sidecar."})
	}
}

const (
	fixGateAPIServer = "Turn SidecarContainers on in every API server (1.28: --feature-gates=SidecarContainers=true; 1.29–1.32: drop SidecarContainers=false) or upgrade to 1.29+; until then inject sidecars as legacy containers."
	fixWebhook       = "Find the mutating webhook or controller that rewrites the Pod with k8s.io/api older than v0.28 (it drops fields it does not know): upgrade it, or have it send JSON patches of its own changes instead of diffing a re-encoded Pod."
)

// dropCause says who most likely dropped restartPolicy of init container i.
func (d *diagnosis) dropCause(i int) (string, string) {
	api := d.facts.Capability.APIServer
	switch {
	case len(d.managers[i]) > 0 && api == APIServerStores:
		// The field manager is recorded before the mutating webhooks run
		// (docs/field-stripping.md#who-dropped-it-the-managedfields-evidence):
		// with an API server that stores the field, only a webhook is left.
		return "the field reached the API server, which stores it, so a mutating webhook removed it after the API server recorded the field manager (docs/field-stripping.md#who-dropped-it-the-managedfields-evidence)", fixWebhook
	case len(d.managers[i]) > 0 && api == APIServerUnknown:
		return "the field reached the API server and was dropped there: either the SidecarContainers gate is off on the API server or a mutating webhook removed it after the API server recorded the field manager; the API server's metrics tell which (docs/field-stripping.md#who-dropped-it-the-managedfields-evidence)", fixGateAPIServer + " " + fixWebhook
	case len(d.managers[i]) > 0:
		return "the field reached the API server and was dropped there, the sign of the SidecarContainers gate being off on the API server (docs/field-stripping.md#api-server-with-the-gate-off)", fixGateAPIServer
	case api == APIServerUnknownField:
		return "the API server (≤1.27) does not know the field", "Upgrade the control plane to 1.29+; until then inject sidecars as legacy containers."
	case api == APIServerDrops:
		return "the API server drops it (SidecarContainers gate off)", fixGateAPIServer
	case d.recorded[i] != "" && !d.intended[i]:
		// A field a mutating webhook adds gets no managedFields entry
		// (seen on 1.32 and 1.37), so their absence says nothing here.
		return "a webhook injected it, and managed fields do not record what webhooks add, so either the API server dropped it (gate off) or a later webhook removed it; check the gate with the API server's metrics", fixGateAPIServer + " " + fixWebhook
	case d.hasFields:
		return "no field manager recorded it, so it was removed before storage, most likely by a mutating webhook", fixWebhook
	case api == APIServerStores:
		return "the API server stores the field, so a mutating webhook or controller most likely removed it", fixWebhook
	}
	return "either the API server dropped it (gate off) or a mutating webhook removed it; the Pod's managedFields (kubectl get --show-managed-fields) can tell", fixGateAPIServer + " " + fixWebhook
}

// probes reports probes and lifecycle that get a Pod rejected, in the
// intended spec if given (that is what will be sent again), else in the
// stored one.
func (d *diagnosis) probes() {
	spec, which := &d.pod.Spec, "stored"
	if d.facts.Intended != nil {
		spec, which = d.facts.Intended, "intended"
	}
	api := d.facts.Capability.APIServer
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		fields := probeFields(c)
		if len(fields) == 0 {
			continue
		}
		path := initPath(i).Child(fields[0]).String()
		switch {
		case !isSidecar(c):
			d.add(Finding{Code: CodeProbeOnInit, Severity: SeverityError, Path: path,
				Message: fmt.Sprintf("%s init container %q has %s without restartPolicy: Always: the API server rejects the Pod (\"may not be set for init containers without restartPolicy=Always\")", which, c.Name, strings.Join(fields, " and ")),
				Fix:     "Remove the probes and lifecycle hooks, or make the container a sidecar (restartPolicy: Always) on a cluster that stores the field."})
		case api == APIServerDrops || api == APIServerUnknownField:
			d.add(Finding{Code: CodeProbeRejectionRisk, Severity: SeverityError, Path: path,
				Message: fmt.Sprintf("%s sidecar %q has %s, but the API server %s (docs/field-stripping.md#probes-turn-a-drop-into-a-rejection)", which, c.Name, strings.Join(fields, " and "), api.Description()),
				Fix:     fixGateAPIServer})
		}
	}
}

func probeFields(c *corev1.Container) []string {
	var out []string
	if c.StartupProbe != nil {
		out = append(out, "startupProbe")
	}
	if c.LivenessProbe != nil {
		out = append(out, "livenessProbe")
	}
	if c.ReadinessProbe != nil {
		out = append(out, "readinessProbe")
	}
	if c.Lifecycle != nil {
		out = append(out, "lifecycle")
	}
	return out
}

// capability reports what the API server and the node do with the Pod's
// sidecars.
func (d *diagnosis) capability() {
	if !d.usesSidecars() {
		return
	}
	nodePath := ""
	if d.pod.Spec.NodeName != "" {
		nodePath = "spec.nodeName"
	}
	d.out = append(d.out, capabilityFindings(d.facts.Capability, nodePath)...)
}

// DiagnoseCapability reports what stands in the way of native sidecars in a
// capability alone, without a Pod: the API server dropping or not knowing
// restartPolicy, a kubelet that rejects or strips it, and unordered
// termination (1.28). Use it for a cluster or node check (the findings
// have no path); [Diagnose] reports the same for a Pod that uses sidecars.
// A capability that is native everywhere, or Unknown, gives no findings.
func DiagnoseCapability(c Capability) []Finding {
	return capabilityFindings(c, "")
}

func capabilityFindings(c Capability, nodePath string) []Finding {
	var out []Finding
	switch c.APIServer {
	case APIServerDrops, APIServerUnknownField:
		code := CodeAPIServerDrops
		if c.APIServer == APIServerUnknownField {
			code = CodeAPIServerUnknownField
		}
		out = append(out, Finding{Code: code, Severity: SeverityError,
			Message: "the API server " + c.APIServer.Description() + evidenceNote(c, true),
			Fix:     fixGateAPIServer})
	}
	switch {
	case c.Kubelet == KubeletRejects:
		out = append(out, Finding{Code: CodeNodeRejects, Severity: SeverityError, Path: nodePath,
			Message: "the node's kubelet " + KubeletRejects.Description() + evidenceNote(c, false),
			Fix:     "Turn SidecarContainers on in the node's kubelet or upgrade it to 1.29+, or keep such Pods off the node (pinned mode, nodes labelled " + NodeLabel + ")."})
	case c.Kubelet == KubeletStrips:
		out = append(out, Finding{Code: CodeNodeStrips, Severity: SeverityError, Path: nodePath,
			Message: "the node's kubelet " + KubeletStrips.Description() + evidenceNote(c, false),
			Fix:     "Upgrade the node to 1.29+, or inject the universal pair, or pin the Pod to native-capable nodes."})
	case c.Kubelet == KubeletNative && c.OrderedTermination == Unsupported:
		out = append(out, Finding{Code: CodeUnorderedTermination, Severity: SeverityWarning, Path: nodePath,
			Message: "native sidecars start in order on this node but are terminated together with the app containers (1.28; docs/native-sidecars.md#termination)" + evidenceNote(c, false),
			Fix:     "Upgrade the node to 1.29+; until then do not rely on the sidecar outliving the app."})
	}
	return out
}

// evidenceNote summarises the evidence about the API server (api) or the
// kubelets, when there is little of it.
func evidenceNote(c Capability, api bool) string {
	var parts []string
	for _, e := range c.Evidence {
		if (e.Subject == subjectAPIServer) == api && e.Source != sourceNodeSelection {
			parts = append(parts, e.String())
		}
	}
	if len(parts) == 0 || len(parts) > 3 {
		return ""
	}
	return " (evidence: " + strings.Join(parts, "; ") + ")"
}

// ordering reports sidecars that start after blocking init containers.
func (d *diagnosis) ordering() {
	var before []string
	for i := range d.pod.Spec.InitContainers {
		c := &d.pod.Spec.InitContainers[i]
		if !d.meantAsSidecar(i) {
			before = append(before, c.Name)
			continue
		}
		if len(before) == 0 {
			continue
		}
		d.add(Finding{Code: CodeSidecarAfterInit, Severity: SeverityInfo, Path: initPath(i).String(),
			Message: fmt.Sprintf("init container(s) %s run to completion before sidecar %q starts, so they cannot use it (docs/native-sidecars.md#startup)", quoteList(before), c.Name),
			Fix:     "If they need the sidecar (network, credentials), place the sidecar before them."})
	}
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

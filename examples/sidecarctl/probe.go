package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/compat"
)

// The probe Pod: what the doctor sends as a server-side dry run
// (?dryRun=All: admitted, mutated, validated, never stored) to see whether
// restartPolicy: Always on an init container survives admission.
const (
	probeGenerateName = "sidecarctl-doctor-native-sidecar-probe-"
	probeSidecar      = "native-sidecar-probe"
	probeApp          = "app"
	probeImage        = "registry.k8s.io/pause:3.10"
	probeAnnotation   = "sidecarkit.io/doctor-probe"
)

// The probe's outcomes (probeReport.Result).
const (
	probeKept     = "kept"     // restartPolicy: Always survived admission
	probeLost     = "lost"     // the init container lost it
	probeMissing  = "missing"  // the init container is gone or moved
	probeRejected = "rejected" // the API server refused the dry run
	probeSkipped  = "skipped"  // --probe=false
)

// probeReport is what the dry-run probe showed.
type probeReport struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
	// Name is the name the API server generated for the dry-run result.
	Name string `json:"name,omitempty"`
	// Result is kept, lost, missing, rejected or skipped.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	// Proven are facts the probe and the API server's answers establish;
	// Inferred are conclusions that rest on something not proven (each
	// says what).
	Proven   []string `json:"proven"`
	Inferred []string `json:"inferred"`
	// Culprit is who removed the field, when exactly one candidate is
	// left: a webhook's name, or "kube-apiserver".
	Culprit string `json:"culprit,omitempty"`
	// Candidates are the mutating webhooks that may have removed it.
	Candidates []string `json:"candidates,omitempty"`
	// AddedInitContainers are init containers that webhooks added to the
	// probe: injectors active in this namespace.
	AddedInitContainers []string `json:"addedInitContainers,omitempty"`
}

// probePod is the Pod the doctor sends: a native sidecar before an app
// container, both the pause image, with a security context that the
// restricted Pod Security Standard admits, and no service account token.
func probePod(namespace string, extraLabels map[string]string) *corev1.Pod {
	labels := map[string]string{
		"app.kubernetes.io/name":       "sidecarctl-doctor-probe",
		"app.kubernetes.io/managed-by": "sidecarctl",
	}
	for k, v := range extraLabels {
		labels[k] = v
	}
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: probeGenerateName,
			Namespace:    namespace,
			Labels:       labels,
			Annotations: map[string]string{
				probeAnnotation: "a server-side dry run of sidecarctl doctor: does restartPolicy: Always on an init container survive admission? Never stored.",
			},
		},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To(int64(65535)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			InitContainers: []corev1.Container{{
				Name:            probeSidecar,
				Image:           probeImage,
				RestartPolicy:   ptr.To(corev1.ContainerRestartPolicyAlways),
				SecurityContext: sc,
			}},
			Containers: []corev1.Container{{
				Name:            probeApp,
				Image:           probeImage,
				SecurityContext: sc.DeepCopy(),
			}},
		},
	}
}

// apiServerFacts is what the doctor knows about the API server, for the
// probe's conclusions.
type apiServerFacts struct {
	capability compat.Capability
	// stores is proven: the gate's metric says on, or the version is 1.33
	// or later, where the gate is locked on or gone
	// (docs/capability.md#versions).
	storesProven bool
	why          string // the evidence, in words
}

// newAPIServerFacts decides whether the capability's "stores" is proven.
func newAPIServerFacts(c compat.Capability, gitVersion string, metricsRead bool) apiServerFacts {
	f := apiServerFacts{capability: c}
	if c.APIServer != compat.APIServerStores {
		return f
	}
	if metricsRead {
		for _, e := range c.Evidence {
			if e.Source == "metrics" && e.Subject == "kube-apiserver" {
				f.storesProven, f.why = true, "its /metrics: "+e.Detail
				return f
			}
		}
	}
	if v, err := version.ParseGeneric(gitVersion); err == nil && v.Major() == 1 && v.Minor() >= 33 {
		f.storesProven, f.why = true, fmt.Sprintf("its version %s: the SidecarContainers gate is locked on from 1.33", gitVersion)
		return f
	}
	f.why = fmt.Sprintf("its version %s, where the gate is on by default but can be turned off (its /metrics were not read)", gitVersion)
	return f
}

// analyzeProbe explains the dry-run result: whether the native sidecar
// survived, and if not, who removed it, separating what is proven from
// what is inferred. adm holds the webhooks covering Pod CREATE (with the
// calls observed in the API server's metrics, when they were) and the
// mutating admission policies that may apply.
func analyzeProbe(r *probeReport, result *corev1.Pod, api apiServerFacts, adm *admissionReport) {
	r.Name = result.Name
	r.Proven, r.Inferred = []string{}, []string{}
	for _, c := range result.Spec.InitContainers {
		if c.Name != probeSidecar {
			r.AddedInitContainers = append(r.AddedInitContainers, c.Name)
		}
	}
	var sidecar *corev1.Container
	for i := range result.Spec.InitContainers {
		if result.Spec.InitContainers[i].Name == probeSidecar {
			sidecar = &result.Spec.InitContainers[i]
		}
	}
	switch {
	case sidecar == nil:
		r.Result = probeMissing
		where := "is in neither list"
		for _, c := range result.Spec.Containers {
			if c.Name == probeSidecar {
				where = "is a regular container instead"
			}
		}
		r.Proven = append(r.Proven, fmt.Sprintf("init container %q of the probe %s in the dry-run result: admission removed or moved it", probeSidecar, where))
	case sidecar.RestartPolicy != nil && *sidecar.RestartPolicy == corev1.ContainerRestartPolicyAlways:
		r.Result = probeKept
		r.Proven = append(r.Proven, fmt.Sprintf("init container %q kept restartPolicy: Always through admission in namespace %q: the API server stores the field, and no mutating webhook or policy that applies to Pods labelled like the probe removes it", probeSidecar, r.Namespace))
		return
	default:
		r.Result = probeLost
		r.Proven = append(r.Proven, fmt.Sprintf("init container %q of the dry-run result lacks restartPolicy: Always, which the probe sent", probeSidecar))
	}
	received := managerListsRestartPolicy(result.ManagedFields, fieldManager, probeSidecar)
	if received {
		r.Proven = append(r.Proven, fmt.Sprintf("the API server received the field: metadata.managedFields of the result list f:spec.f:initContainers.k:{\"name\":%q}.f:restartPolicy for manager %q, recorded before the mutating webhooks run (docs/field-stripping.md#who-dropped-it-the-managedfields-evidence)", probeSidecar, fieldManager))
	} else if r.Result == probeLost {
		r.Inferred = append(r.Inferred, fmt.Sprintf("metadata.managedFields of the result do not list restartPolicy for manager %q: the API server did not record the field it received, the sign of an API server that does not know it (≤1.27)", fieldManager))
	}
	c := candidateNames(adm)
	r.Candidates = c.all()
	switch api.capability.APIServer {
	case compat.APIServerDrops, compat.APIServerUnknownField:
		r.Culprit = "kube-apiserver"
		also := "webhooks may remove it as well"
		if len(r.Candidates) > 0 {
			also = "the mutating webhooks and policies that select the probe (" + strings.Join(r.Candidates, ", ") + ") may remove it as well"
		}
		r.Inferred = append(r.Inferred, fmt.Sprintf("the API server %s (%s); %s, which cannot be told apart while the API server drops it", api.capability.APIServer.Description(), evidenceText(api.capability), also))
		return
	case compat.APIServerUnknown:
		r.Inferred = append(r.Inferred, "the API server's capability is unknown: it, or a mutating webhook, removed the field")
		return
	}
	if !api.storesProven {
		r.Inferred = append(r.Inferred, fmt.Sprintf("the API server probably stores the field (%s): if it does, a mutating webhook removed it; if its gate is off, the API server did", api.why))
	} else if received {
		r.Proven = append(r.Proven, fmt.Sprintf("the API server stores the field (%s), so admission removed it after the field manager was recorded: a mutating webhook or mutating admission policy", api.why))
	} else {
		r.Inferred = append(r.Inferred, fmt.Sprintf("the API server stores the field (%s), yet it did not record it: a mutating webhook or policy removed it, or the request never carried it", api.why))
	}
	switch {
	case !c.complete:
		r.Inferred = append(r.Inferred, fmt.Sprintf("sidecarctl cannot list every mutating webhook and policy (%s), so it cannot tell which one removed the field; the ones it sees that may have: %s", c.why, orNone(r.Candidates)))
	case len(r.Candidates) == 1 && len(c.yes) == 1:
		r.Culprit = c.yes[0]
		if c.hooksObserved && len(c.policiesYes)+len(c.policiesMaybe) == 0 {
			statement := fmt.Sprintf("%s removed restartPolicy: it is the only mutating webhook the API server called while the probe ran, and no mutating admission policy applies", r.Culprit)
			if api.storesProven && received {
				r.Proven = append(r.Proven, statement)
			} else {
				r.Inferred = append(r.Inferred, statement)
			}
		} else {
			how := "the API server's calls were not observed"
			if c.hooksObserved {
				how = "the webhooks' calls were observed, a policy's runs cannot be"
			}
			r.Inferred = append(r.Inferred, fmt.Sprintf("%s removed restartPolicy: it is the only mutating webhook or policy whose rules, selectors and bindings select the probe (as sidecarctl evaluates them; %s)", r.Culprit, how))
		}
	case len(r.Candidates) == 0:
		r.Inferred = append(r.Inferred, "no mutating webhook or policy that sidecarctl sees selects the probe: one whose objectSelector matches labels that another webhook adds is left")
	default:
		r.Inferred = append(r.Inferred, fmt.Sprintf("one of %s removed it; which one cannot be told from outside the API server: compare their versions (a webhook built with k8s.io/api older than v0.28 drops the field) or run the probe with --probe-label to select fewer of them", strings.Join(r.Candidates, ", ")))
	}
}

// candidates are the mutating webhooks and policies that may have
// removed the field.
type candidates struct {
	yes, maybe                 []string // in the order the API server runs them
	policiesYes, policiesMaybe []string
	// hooksObserved: the webhooks' calls were read from the API server
	// that served the probe.
	hooksObserved bool
	// complete: every webhook configuration and policy could be listed;
	// why says what could not.
	complete bool
	why      string
}

func (c candidates) all() []string {
	out := append(append([]string{}, c.yes...), c.maybe...)
	if len(out) == 0 {
		return nil
	}
	return out
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// candidateNames returns the webhooks and policies that select the probe
// (yes) and those that may (maybe), in the order the API server runs them
// (webhooks, then policies).
func candidateNames(adm *admissionReport) candidates {
	c := candidates{hooksObserved: adm.CallsObserved, complete: true}
	for _, m := range adm.Webhooks {
		switch m.Match {
		case matchYes:
			c.yes = append(c.yes, m.Name)
		case matchMaybe:
			c.maybe = append(c.maybe, m.Name)
		}
	}
	for _, p := range adm.Policies {
		name := "MutatingAdmissionPolicy " + p.Name
		switch p.Match {
		case matchYes:
			c.yes = append(c.yes, name)
			c.policiesYes = append(c.policiesYes, name)
		case matchMaybe:
			c.maybe = append(c.maybe, name)
			c.policiesMaybe = append(c.policiesMaybe, name)
		}
	}
	var missing []string
	if adm.WebhooksError != "" {
		missing = append(missing, "webhook configurations: "+adm.WebhooksError)
	}
	if adm.PoliciesError != "" && !adm.policiesNotServed {
		missing = append(missing, "mutating admission policies: "+adm.PoliciesError)
	}
	if len(missing) > 0 {
		c.complete, c.why = false, strings.Join(missing, "; ")
	}
	return c
}

func evidenceText(c compat.Capability) string {
	var parts []string
	for _, e := range c.Evidence {
		if e.Subject == "kube-apiserver" {
			parts = append(parts, e.String())
		}
	}
	if len(parts) == 0 {
		return "no evidence"
	}
	return strings.Join(parts, "; ")
}

// managerListsRestartPolicy reports whether a managedFields entry of the
// given manager lists restartPolicy of the named init container.
func managerListsRestartPolicy(entries []metav1.ManagedFieldsEntry, manager, container string) bool {
	key := fmt.Sprintf("k:{\"name\":%q}", container)
	for _, e := range entries {
		if e.Manager != manager || e.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Spec struct {
				InitContainers map[string]map[string]json.RawMessage `json:"f:initContainers"`
			} `json:"f:spec"`
		}
		if json.Unmarshal(e.FieldsV1.Raw, &fields) != nil {
			continue
		}
		if _, ok := fields.Spec.InitContainers[key]["f:restartPolicy"]; ok {
			return true
		}
	}
	return false
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

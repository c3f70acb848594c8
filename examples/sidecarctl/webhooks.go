package main

import (
	"fmt"
	"sort"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The answers of webhookMatch.Match.
const (
	matchYes   = "yes"   // the webhook's rules and selectors select the probe
	matchNo    = "no"    // they do not, or the API server did not call it
	matchMaybe = "maybe" // selectors or match conditions that could not be evaluated
)

// webhookMatch is one mutating webhook whose rules cover Pod CREATE, and
// whether it selects the doctor's probe Pod.
type webhookMatch struct {
	// Configuration is the MutatingWebhookConfiguration's name; Name the
	// webhook's within it.
	Configuration string `json:"configuration"`
	Name          string `json:"name"`
	// Match is "yes", "no" or "maybe" for the probe.
	Match string `json:"match"`
	// Reasons say why, in the order the API server checks: namespace
	// selector, object selector, match conditions, observed calls.
	Reasons []string `json:"reasons"`
	// Calls is how often the API server that answered /metrics called the
	// webhook for CREATE between the reads before and after the probe
	// (apiserver_admission_webhook_request_total); nil when not observed.
	Calls *int64 `json:"calls,omitempty"`
	// ReinvocationPolicy is IfNeeded or Never.
	ReinvocationPolicy string `json:"reinvocationPolicy"`
	// excludedByObject: only the object selector excluded the probe.
	excludedByObject bool
}

// podCreate is what the API server matches webhook rules against for the
// probe: CREATE of core v1 pods, namespaced, no subresource.
var podCreate = struct {
	operation, group, version, resource, subresource string
}{"CREATE", "", "v1", "pods", ""}

// rulesMatchPodCreate reports whether any rule covers CREATE of v1 Pods,
// with the API server's matching
// (docs/doctor.md#which-webhooks-the-api-server-calls-for-a-pod-create:
// "*" wildcards, "pods/*" also matching the resource itself, scope "*" or
// Namespaced).
func rulesMatchPodCreate(rules []admissionregistrationv1.RuleWithOperations) bool {
	for _, r := range rules {
		if r.Scope != nil && *r.Scope != admissionregistrationv1.AllScopes && *r.Scope != admissionregistrationv1.NamespacedScope {
			continue
		}
		if !anyOf(operations(r.Operations), podCreate.operation) || !anyOf(r.APIGroups, podCreate.group) || !anyOf(r.APIVersions, podCreate.version) {
			continue
		}
		for _, res := range r.Resources {
			name, sub, _ := strings.Cut(res, "/")
			if (name == "*" || name == podCreate.resource) && (sub == "*" || sub == podCreate.subresource) {
				return true
			}
		}
	}
	return false
}

func operations(ops []admissionregistrationv1.OperationType) []string {
	out := make([]string, len(ops))
	for i, o := range ops {
		out[i] = string(o)
	}
	return out
}

// anyOf reports whether items holds want or the "*" wildcard.
func anyOf(items []string, want string) bool {
	for _, it := range items {
		if it == "*" || it == want {
			return true
		}
	}
	return false
}

// probeTarget is what the webhooks' selectors are evaluated against.
type probeTarget struct {
	namespace string
	// nsLabels are the namespace's labels; nil when they could not be read
	// (nsError says why).
	nsLabels map[string]string
	nsError  string
	// labels are the probe Pod's labels as sent.
	labels map[string]string
}

// matchWebhooks returns the webhooks of the configurations whose rules
// cover Pod CREATE, sorted as the API server calls them (configurations by
// name, webhooks in order; k8s.io/apiserver pkg/admission/configuration),
// each with whether it selects the probe. The second result counts the
// webhooks whose rules do not cover Pod CREATE.
func matchWebhooks(configs []admissionregistrationv1.MutatingWebhookConfiguration, t probeTarget) ([]webhookMatch, int) {
	sorted := make([]*admissionregistrationv1.MutatingWebhookConfiguration, len(configs))
	for i := range configs {
		sorted[i] = &configs[i]
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var out []webhookMatch
	other := 0
	for _, cfg := range sorted {
		for i := range cfg.Webhooks {
			wh := &cfg.Webhooks[i]
			if !rulesMatchPodCreate(wh.Rules) {
				other++
				continue
			}
			out = append(out, matchWebhook(cfg.Name, wh, t))
		}
	}
	return out, other
}

func matchWebhook(config string, wh *admissionregistrationv1.MutatingWebhook, t probeTarget) webhookMatch {
	m := webhookMatch{Configuration: config, Name: wh.Name, ReinvocationPolicy: string(admissionregistrationv1.NeverReinvocationPolicy)}
	if wh.ReinvocationPolicy != nil {
		m.ReinvocationPolicy = string(*wh.ReinvocationPolicy)
	}
	var v verdictOf
	v.selectors(wh.NamespaceSelector, wh.ObjectSelector, t)
	v.conditions(wh.MatchConditions)
	m.Match, m.Reasons, m.excludedByObject = v.match(), v.reasons, v.excludedByObject
	return m
}

// verdictOf gathers whether a webhook or policy selects the probe. Each
// check can only lower the answer: no < maybe < yes.
type verdictOf struct {
	no, maybe bool
	reasons   []string
	// excludedByObject: only the object selector said no (an earlier
	// webhook may add the labels it wants).
	excludedByObject bool
}

func (v *verdictOf) match() string {
	switch {
	case v.no:
		return matchNo
	case v.maybe:
		return matchMaybe
	}
	return matchYes
}

func (v *verdictOf) say(format string, args ...any) {
	v.reasons = append(v.reasons, fmt.Sprintf(format, args...))
}

// selectors evaluates a namespace and an object selector as the API server
// does (k8s.io/apiserver pkg/admission/plugin/webhook/predicates): an
// empty selector selects everything; the namespace's labels, and the
// object's labels as sent.
func (v *verdictOf) selectors(nsSel, objSel *metav1.LabelSelector, t probeTarget) {
	switch sel, err := selector(nsSel); {
	case err != nil:
		v.maybe = true
		v.say("namespaceSelector cannot be read: %v", err)
	case sel.Empty():
		v.say("no namespaceSelector: every namespace")
	case t.nsLabels == nil:
		v.maybe = true
		v.say("namespaceSelector %s: the labels of namespace %q are unknown (%s)", sel, t.namespace, t.nsError)
	case sel.Matches(labels.Set(t.nsLabels)):
		v.say("namespaceSelector %s selects namespace %q", sel, t.namespace)
	default:
		v.no = true
		v.say("namespaceSelector %s does not select namespace %q", sel, t.namespace)
	}
	switch sel, err := selector(objSel); {
	case err != nil:
		v.maybe = true
		v.say("objectSelector cannot be read: %v", err)
	case sel.Empty():
		v.say("no objectSelector: every Pod")
	case sel.Matches(labels.Set(t.labels)):
		v.say("objectSelector %s selects the probe's labels", sel)
	default:
		v.excludedByObject = !v.no
		v.no = true
		v.say("objectSelector %s does not select the probe's labels (Pods labelled to match it may still be mutated: add --probe-label)", sel)
	}
}

// conditions notes CEL match conditions, which sidecarctl does not
// evaluate.
func (v *verdictOf) conditions(conds []admissionregistrationv1.MatchCondition) {
	if len(conds) == 0 {
		return
	}
	names := make([]string, len(conds))
	for i, c := range conds {
		names[i] = c.Name
	}
	v.maybe = true
	v.say("%d matchConditions (%s) are CEL expressions that sidecarctl does not evaluate", len(conds), strings.Join(names, ", "))
}

// selector parses a label selector; nil is the empty selector, which
// selects everything.
func selector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(s)
}

// observeCalls refines the matches with the calls the API server recorded
// while the probe ran. served says whether that API server served a
// dry-run Pod create in the window (else a zero proves nothing: another
// API server may have served the probe).
func observeCalls(matches []webhookMatch, before, after webhookCounters, served bool) {
	for i := range matches {
		m := &matches[i]
		n := after.calls[m.Name] - before.calls[m.Name]
		if n < 0 {
			continue // the API server restarted in between: nothing observed
		}
		m.Calls = &n
		switch {
		case n > 0:
			if m.Match == matchNo && !m.excludedByObject {
				// The namespace selector excludes the probe: the calls
				// were for other objects.
				m.Reasons = append(m.Reasons, fmt.Sprintf("the API server called it %d time(s) for CREATE during the probe, for other objects (its namespaceSelector excludes the probe)", n))
				continue
			}
			if m.Match == matchNo {
				// An earlier webhook may have added the labels its
				// objectSelector wants, or the calls were for others.
				m.Match = matchMaybe
				m.Reasons = append(m.Reasons, fmt.Sprintf("the API server called it %d time(s) for CREATE during the probe: for other objects, or for the probe after an earlier webhook added the labels its objectSelector wants", n))
				continue
			}
			if m.Match == matchMaybe {
				m.Reasons = append(m.Reasons, fmt.Sprintf("the API server called it %d time(s) for CREATE during the probe, for the probe or for other objects", n))
				continue
			}
			m.Reasons = append(m.Reasons, fmt.Sprintf("the API server called it %d time(s) for CREATE during the probe", n))
		case served:
			m.Match = matchNo
			m.Reasons = append(m.Reasons, "the API server that served the probe did not call it")
		default:
			m.Reasons = append(m.Reasons, "not called by the API server whose metrics were read, which did not serve the probe: another API server may have")
		}
	}
}

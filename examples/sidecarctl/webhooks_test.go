package main

import (
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestRulesMatchPodCreate follows the API server's rule matching
// (k8s.io/apiserver pkg/admission/plugin/webhook/predicates/rules).
func TestRulesMatchPodCreate(t *testing.T) {
	rule := func(ops []string, groups, versions, resources []string, scope *admissionregistrationv1.ScopeType) admissionregistrationv1.RuleWithOperations {
		var o []admissionregistrationv1.OperationType
		for _, op := range ops {
			o = append(o, admissionregistrationv1.OperationType(op))
		}
		return admissionregistrationv1.RuleWithOperations{Operations: o, Rule: admissionregistrationv1.Rule{APIGroups: groups, APIVersions: versions, Resources: resources, Scope: scope}}
	}
	core, v1 := []string{""}, []string{"v1"}
	for _, tc := range []struct {
		name string
		rule admissionregistrationv1.RuleWithOperations
		want bool
	}{
		{"pods create", rule([]string{"CREATE"}, core, v1, []string{"pods"}, nil), true},
		{"all operations", rule([]string{"*"}, core, v1, []string{"pods"}, nil), true},
		{"update only", rule([]string{"UPDATE"}, core, v1, []string{"pods"}, nil), false},
		{"wildcard group and version", rule([]string{"CREATE"}, []string{"*"}, []string{"*"}, []string{"pods"}, nil), true},
		{"apps group", rule([]string{"CREATE"}, []string{"apps"}, v1, []string{"pods"}, nil), false},
		{"v1beta1", rule([]string{"CREATE"}, core, []string{"v1beta1"}, []string{"pods"}, nil), false},
		{"every resource", rule([]string{"CREATE"}, core, v1, []string{"*"}, nil), true},
		{"every resource and subresource", rule([]string{"CREATE"}, core, v1, []string{"*/*"}, nil), true},
		{"pods/* also matches pods", rule([]string{"CREATE"}, core, v1, []string{"pods/*"}, nil), true},
		{"pods/binding only", rule([]string{"CREATE"}, core, v1, []string{"pods/binding"}, nil), false},
		{"*/status", rule([]string{"CREATE"}, core, v1, []string{"*/status"}, nil), false},
		{"deployments", rule([]string{"CREATE"}, core, v1, []string{"deployments"}, nil), false},
		{"namespaced scope", rule([]string{"CREATE"}, core, v1, []string{"pods"}, ptr.To(admissionregistrationv1.NamespacedScope)), true},
		{"cluster scope", rule([]string{"CREATE"}, core, v1, []string{"pods"}, ptr.To(admissionregistrationv1.ClusterScope)), false},
		{"all scopes", rule([]string{"CREATE"}, core, v1, []string{"pods"}, ptr.To(admissionregistrationv1.AllScopes)), true},
	} {
		if got := rulesMatchPodCreate([]admissionregistrationv1.RuleWithOperations{tc.rule}); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestMatchWebhooks evaluates selectors and match conditions against the
// probe, and keeps the API server's order: configurations by name.
func TestMatchWebhooks(t *testing.T) {
	target := probeTarget{namespace: "shop", nsLabels: map[string]string{"team": "shop"}, labels: probePod("shop", nil).Labels}
	sel := func(k, v string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	}
	withConditions := fakeWebhook("b-cel.example.com", podCreateRules(), nil, nil)
	withConditions.Webhooks[0].MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "not-system", Expression: "true"}}
	badSelector := fakeWebhook("c-bad.example.com", podCreateRules(), &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Sometimes"}}}, nil)
	configs := []admissionregistrationv1.MutatingWebhookConfiguration{
		fakeWebhook("z-team.example.com", podCreateRules(), sel("team", "shop"), nil),
		fakeWebhook("y-other-team.example.com", podCreateRules(), sel("team", "infra"), nil),
		fakeWebhook("x-object.example.com", podCreateRules(), nil, sel("inject", "true")),
		fakeWebhook("w-probe-labels.example.com", podCreateRules(), nil, sel("app.kubernetes.io/managed-by", "sidecarctl")),
		withConditions,
		badSelector,
		fakeWebhook("a-deployments.example.com", []admissionregistrationv1.RuleWithOperations{{
			Operations: []admissionregistrationv1.OperationType{"CREATE"},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}}}, nil, nil),
	}
	got, other := matchWebhooks(configs, target)
	if other != 1 {
		t.Errorf("other webhooks %d, want 1 (the Deployment one)", other)
	}
	want := []struct{ name, match, reason string }{
		{"b-cel.example.com", matchMaybe, "1 matchConditions (not-system)"},
		{"c-bad.example.com", matchMaybe, "namespaceSelector cannot be read"},
		{"w-probe-labels.example.com", matchYes, "selects the probe's labels"},
		{"x-object.example.com", matchNo, "does not select the probe's labels"},
		{"y-other-team.example.com", matchNo, `does not select namespace "shop"`},
		{"z-team.example.com", matchYes, `selects namespace "shop"`},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d webhooks, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Match != w.match || !strings.Contains(strings.Join(g.Reasons, "; "), w.reason) {
			t.Errorf("webhook %d: %s %s %q; want %s %s mentioning %q", i, g.Name, g.Match, g.Reasons, w.name, w.match, w.reason)
		}
	}

	// Namespace labels unknown (RBAC): a namespace selector cannot be decided.
	unknown := target
	unknown.nsLabels, unknown.nsError = nil, "forbidden"
	got, _ = matchWebhooks(configs[:1], unknown)
	if got[0].Match != matchMaybe {
		t.Errorf("unknown namespace labels: %s, want maybe", got[0].Match)
	}
}

// TestObserveCalls refines static matches with the API server's counters.
func TestObserveCalls(t *testing.T) {
	matches := func() []webhookMatch {
		return []webhookMatch{
			{Name: "called", Match: matchYes},
			{Name: "silent", Match: matchYes},
			{Name: "ns-excluded", Match: matchNo},
			{Name: "obj-excluded", Match: matchNo, excludedByObject: true},
			{Name: "cel", Match: matchMaybe},
		}
	}
	before := webhookCounters{calls: map[string]int64{"called": 4, "ns-excluded": 1, "obj-excluded": 0, "cel": 2}}
	after := webhookCounters{calls: map[string]int64{"called": 5, "ns-excluded": 2, "obj-excluded": 1, "cel": 3}}
	m := matches()
	observeCalls(m, before, after, true)
	want := []string{matchYes, matchNo, matchNo, matchMaybe, matchMaybe}
	for i, w := range want {
		if m[i].Match != w || m[i].Calls == nil {
			t.Errorf("served: %s: %s (calls %v), want %s", m[i].Name, m[i].Match, m[i].Calls, w)
		}
	}
	// Not served by the API server whose metrics were read: a zero
	// proves nothing.
	m = matches()
	observeCalls(m, before, after, false)
	if m[1].Match != matchYes {
		t.Errorf("not served: silent webhook %s, want yes kept", m[1].Match)
	}
	// A restart in between (counters went down): nothing observed.
	m = matches()
	observeCalls(m, after, before, true)
	if m[0].Calls != nil {
		t.Errorf("counters went down: calls %v, want none", *m[0].Calls)
	}
}

func TestParseWebhookCounters(t *testing.T) {
	text := `# HELP apiserver_admission_webhook_request_total [ALPHA] Admission webhook request total.
# TYPE apiserver_admission_webhook_request_total counter
apiserver_admission_webhook_request_total{code="200",name="a.example.com",operation="CREATE",rejected="false",type="admit"} 3
apiserver_admission_webhook_request_total{code="500",name="a.example.com",operation="CREATE",rejected="true",type="admit"} 1
apiserver_admission_webhook_request_total{code="200",name="a.example.com",operation="UPDATE",rejected="false",type="admit"} 7
apiserver_admission_webhook_request_total{code="200",name="v.example.com",operation="CREATE",rejected="false",type="validating"} 9
# HELP apiserver_admission_webhook_request_total_other a family whose name extends the one read
# TYPE apiserver_admission_webhook_request_total_other counter
apiserver_admission_webhook_request_total_other{name="a.example.com"} 100
# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="All",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 2
apiserver_request_total{code="403",component="apiserver",dry_run="All",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 1
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 50
apiserver_request_total{code="201",component="apiserver",dry_run="All",group="apps",resource="deployments",scope="resource",subresource="",verb="POST",version="v1"} 5
`
	c, err := parseWebhookCounters([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !c.found || c.calls["a.example.com"] != 4 || c.calls["v.example.com"] != 0 || c.dryRunPodCreates != 3 {
		t.Errorf("counters %+v: want a.example.com 4 (admit CREATE), no validating, 3 dry-run Pod creates", c)
	}
	if _, err := parseWebhookCounters([]byte("apiserver_request_total{verb=\"POST\" 1\n")); err == nil {
		t.Errorf("a malformed sample: no error")
	}
	if c, err := parseWebhookCounters([]byte("up 1\n")); err != nil || c.found {
		t.Errorf("no request counter: found %v, %v; want not found, no error", c.found, err)
	}
}

// TestAnalyzeProbe covers the probe's conclusions beyond the golden
// scenarios: a sidecar moved to the regular containers, and a result
// whose managedFields do not list the field.
func TestAnalyzeProbe(t *testing.T) {
	stores := newAPIServerFacts(compatStores(), "v1.35.0", false)
	adm := &admissionReport{Webhooks: []webhookMatch{{Name: "only.example.com", Match: matchYes}}}

	moved := probePod("shop", nil)
	moved.Spec.Containers = append(moved.Spec.Containers, moved.Spec.InitContainers[0])
	moved.Spec.InitContainers = nil
	r := &probeReport{Namespace: "shop"}
	analyzeProbe(r, moved, stores, adm)
	if r.Result != probeMissing || !strings.Contains(strings.Join(r.Proven, " "), "is a regular container instead") {
		t.Errorf("moved sidecar: %s %q", r.Result, r.Proven)
	}

	lost := probePod("shop", nil)
	lost.Spec.InitContainers[0].RestartPolicy = nil
	lost.Spec.InitContainers = append(lost.Spec.InitContainers, corev1.Container{Name: "istio-proxy"})
	r = &probeReport{Namespace: "shop"}
	analyzeProbe(r, lost, stores, adm)
	if r.Result != probeLost || r.Culprit != "only.example.com" {
		t.Errorf("lost: %s, culprit %q", r.Result, r.Culprit)
	}
	if !strings.Contains(strings.Join(r.Inferred, " "), "did not record the field") {
		t.Errorf("no managedFields entry: inferred %q, want the API server not recording it", r.Inferred)
	}
	if len(r.AddedInitContainers) != 1 || r.AddedInitContainers[0] != "istio-proxy" {
		t.Errorf("added init containers %v, want istio-proxy", r.AddedInitContainers)
	}
	// Without calls observed, naming the only candidate is inferred.
	for _, s := range r.Proven {
		if strings.Contains(s, "only.example.com") {
			t.Errorf("culprit proven without observed calls: %q", s)
		}
	}
}

func compatStores() compat.Capability {
	c, err := compat.ParseAPIServerVersion("v1.35.0")
	if err != nil {
		panic(err)
	}
	return c
}

// TestMatchPolicies: a policy applies only through a binding, whose match
// resources narrow the policy's constraints.
func TestMatchPolicies(t *testing.T) {
	target := probeTarget{namespace: "shop", nsLabels: map[string]string{"team": "shop"}, labels: probePod("shop", nil).Labels}
	podRule := admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: podCreateRules()[0]}
	policy := func(name string, mc admissionregistrationv1.MatchResources) admissionregistrationv1.MutatingAdmissionPolicy {
		return admissionregistrationv1.MutatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{MatchConstraints: &mc}}
	}
	binding := func(name, policy string, mr *admissionregistrationv1.MatchResources) admissionregistrationv1.MutatingAdmissionPolicyBinding {
		return admissionregistrationv1.MutatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: policy, MatchResources: mr}}
	}
	deployments := admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{"CREATE"},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}}}}
	named := podRule
	named.ResourceNames = []string{"web"}
	policies := []admissionregistrationv1.MutatingAdmissionPolicy{
		policy("bound", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{podRule}}),
		policy("unbound", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{podRule}}),
		policy("narrowed-away", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{podRule}}),
		policy("excluded", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{podRule},
			ExcludeResourceRules: []admissionregistrationv1.NamedRuleWithOperations{podRule}}),
		policy("by-name", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{named}}),
		policy("deployments", admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{deployments}}),
	}
	bindings := []admissionregistrationv1.MutatingAdmissionPolicyBinding{
		binding("bound-everywhere", "bound", nil),
		binding("other-team", "narrowed-away", &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "infra"}}}),
		binding("excluded", "excluded", nil),
		binding("by-name", "by-name", nil),
	}
	want := map[string]string{"bound": matchYes, "unbound": matchNo, "narrowed-away": matchNo, "excluded": matchNo, "by-name": matchMaybe}
	got := map[string]string{}
	for _, p := range matchPolicies(policies, bindings, true, target) {
		got[p.Name] = p.Match
	}
	if !equalMaps(got, want) {
		t.Errorf("policies %v, want %v (deployments-only omitted)", got, want)
	}
	for _, p := range matchPolicies(policies, nil, false, target) {
		if p.Name == "unbound" && p.Match != matchMaybe {
			t.Errorf("bindings unknown: %s %s, want maybe", p.Name, p.Match)
		}
	}
}

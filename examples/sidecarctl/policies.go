package main

import (
	"fmt"
	"sort"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// policyMatch is one MutatingAdmissionPolicy (admissionregistration.k8s.io/v1,
// served from Kubernetes 1.36) whose match constraints cover Pod CREATE: its
// CEL mutations can remove a field as a webhook can.
type policyMatch struct {
	Name string `json:"name"`
	// Bindings are the names of the bindings that apply the policy.
	Bindings []string `json:"bindings"`
	// Match is "yes", "no" or "maybe" for the probe.
	Match   string   `json:"match"`
	Reasons []string `json:"reasons"`
	// Sidecarkit, for a policy `sidecarctl policy` (package policy)
	// compiled, says which sidecar it injects and how.
	Sidecarkit string `json:"sidecarkit,omitempty"`
}

// sidecarkitPolicy describes a policy compiled by package policy, from
// the labels it sets (policy.Compile): "" for any other policy. Labels
// are the policy author's word: this names what the policy claims to be.
func sidecarkitPolicy(labels map[string]string) string {
	if labels["app.kubernetes.io/managed-by"] != "sidecarkit" || labels["sidecar.sidecarkit.io/sidecar"] == "" {
		return ""
	}
	mode := labels["sidecar.sidecarkit.io/mode"]
	if mode == "" {
		mode = "unknown"
	}
	return fmt.Sprintf("sidecarkit injection without a webhook (sidecarctl policy): sidecar %q, %s mode", labels["sidecar.sidecarkit.io/sidecar"], mode)
}

// namedRulesCover reports whether rules cover Pod CREATE; named says
// whether a covering rule is restricted to resource names (the probe's
// name is generated, so that cannot be decided).
func namedRulesCover(rules []admissionregistrationv1.NamedRuleWithOperations) (covers, named bool) {
	for _, r := range rules {
		if rulesMatchPodCreate([]admissionregistrationv1.RuleWithOperations{r.RuleWithOperations}) {
			if len(r.ResourceNames) == 0 {
				return true, false
			}
			covers, named = true, true
		}
	}
	return covers, named
}

// matchPolicies returns the policies whose match constraints cover Pod
// CREATE, sorted by name, each with whether it applies to the probe
// through its bindings; bindingsKnown is false when the bindings could not
// be listed (then every such policy may apply).
func matchPolicies(policies []admissionregistrationv1.MutatingAdmissionPolicy, bindings []admissionregistrationv1.MutatingAdmissionPolicyBinding, bindingsKnown bool, t probeTarget) []policyMatch {
	byPolicy := map[string][]*admissionregistrationv1.MutatingAdmissionPolicyBinding{}
	for i := range bindings {
		b := &bindings[i]
		byPolicy[b.Spec.PolicyName] = append(byPolicy[b.Spec.PolicyName], b)
	}
	var out []policyMatch
	for i := range policies {
		p := &policies[i]
		mc := p.Spec.MatchConstraints
		if mc == nil {
			continue // invalid: the API server requires it
		}
		covers, named := namedRulesCover(mc.ResourceRules)
		if !covers {
			continue
		}
		pm := policyMatch{Name: p.Name, Bindings: []string{}, Sidecarkit: sidecarkitPolicy(p.Labels)}
		var v verdictOf
		if named {
			v.maybe = true
			v.say("its rule for Pods names resources, and the probe's name is generated")
		}
		if excluded, _ := namedRulesCover(mc.ExcludeResourceRules); excluded {
			v.no = true
			v.say("excludeResourceRules cover Pod CREATE")
		}
		v.selectors(mc.NamespaceSelector, mc.ObjectSelector, t)
		v.conditions(p.Spec.MatchConditions)
		// The bindings: none applies nothing; one without matchResources
		// applies the policy's own constraints; others narrow them.
		bound := byPolicy[p.Name]
		sort.Slice(bound, func(a, b int) bool { return bound[a].Name < bound[b].Name })
		best := matchNo
		for _, b := range bound {
			pm.Bindings = append(pm.Bindings, b.Name)
			var bv verdictOf
			if mr := b.Spec.MatchResources; mr != nil {
				if len(mr.ResourceRules) > 0 {
					if c, named := namedRulesCover(mr.ResourceRules); !c {
						bv.no = true
					} else if named {
						bv.maybe = true
					}
				}
				if ex, _ := namedRulesCover(mr.ExcludeResourceRules); ex {
					bv.no = true
				}
				bv.selectors(mr.NamespaceSelector, mr.ObjectSelector, t)
			}
			if b.Spec.ParamRef != nil {
				bv.maybe = true // a missing parameter may deny or skip
			}
			if m := bv.match(); rank(m) > rank(best) {
				best = m
			}
			v.say("binding %s: %s", b.Name, bv.match())
		}
		switch {
		case !bindingsKnown:
			v.maybe = true
			v.say("its bindings cannot be listed")
		case len(bound) == 0:
			v.no = true
			v.say("no MutatingAdmissionPolicyBinding applies it")
		case best == matchNo:
			v.no = true
		case best == matchMaybe:
			v.maybe = true
		}
		pm.Match, pm.Reasons = v.match(), v.reasons
		out = append(out, pm)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

func rank(m string) int {
	switch m {
	case matchYes:
		return 2
	case matchMaybe:
		return 1
	}
	return 0
}

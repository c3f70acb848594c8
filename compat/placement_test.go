package compat

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPlacementMatches checks the small node-selection matcher against the
// rules of k8s.io/component-helpers scheduling/corev1/nodeaffinity.
func TestPlacementMatches(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{
		"zone": "z1", "gen": "5", "gpu": "", "bad-int": "x5"}}}
	req := func(key string, op corev1.NodeSelectorOperator, vals ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: vals}
	}
	term := func(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: exprs}
	}
	fields := func(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchFields: exprs}
	}
	spec := func(terms ...corev1.NodeSelectorTerm) *corev1.PodSpec {
		return &corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}}
	}
	tests := []struct {
		name    string
		spec    *corev1.PodSpec
		want    bool
		wantErr string
		reason  string
	}{
		{name: "nil-spec", spec: nil, want: true},
		{name: "empty-spec", spec: &corev1.PodSpec{}, want: true},
		{name: "node-name-match", spec: &corev1.PodSpec{NodeName: "n1"}, want: true},
		{name: "node-name-other", spec: &corev1.PodSpec{NodeName: "n2"}, want: false},
		{name: "selector-match", spec: &corev1.PodSpec{NodeSelector: map[string]string{"zone": "z1", "gpu": ""}}, want: true},
		{name: "selector-value", spec: &corev1.PodSpec{NodeSelector: map[string]string{"zone": "z2"}}, want: false},
		{name: "selector-missing", spec: &corev1.PodSpec{NodeSelector: map[string]string{"rack": ""}}, want: false,
			reason: "an empty value still needs the label"},
		{name: "in", spec: spec(term(req("zone", corev1.NodeSelectorOpIn, "z0", "z1"))), want: true},
		{name: "in-miss", spec: spec(term(req("zone", corev1.NodeSelectorOpIn, "z0"))), want: false},
		{name: "in-absent", spec: spec(term(req("rack", corev1.NodeSelectorOpIn, "r1"))), want: false},
		{name: "notin", spec: spec(term(req("zone", corev1.NodeSelectorOpNotIn, "z0"))), want: true},
		{name: "notin-hit", spec: spec(term(req("zone", corev1.NodeSelectorOpNotIn, "z1"))), want: false},
		{name: "notin-absent", spec: spec(term(req("rack", corev1.NodeSelectorOpNotIn, "r1"))), want: true, reason: "NotIn matches a missing label"},
		{name: "in-many", spec: spec(term(req("zone", corev1.NodeSelectorOpIn, "z0", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "z1"))), want: true,
			reason: "more than 8 values are matched by set"},
		{name: "in-many-miss", spec: spec(term(req("zone", corev1.NodeSelectorOpIn, "z0", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "z10"))), want: false},
		{name: "notin-many", spec: spec(term(req("zone", corev1.NodeSelectorOpNotIn, "z0", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "z10"))), want: true},
		{name: "notin-many-hit", spec: spec(term(req("zone", corev1.NodeSelectorOpNotIn, "z0", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "z1"))), want: false},
		{name: "exists", spec: spec(term(req("gpu", corev1.NodeSelectorOpExists))), want: true},
		{name: "exists-absent", spec: spec(term(req("rack", corev1.NodeSelectorOpExists))), want: false},
		{name: "doesnotexist", spec: spec(term(req("rack", corev1.NodeSelectorOpDoesNotExist))), want: true},
		{name: "doesnotexist-present", spec: spec(term(req("gpu", corev1.NodeSelectorOpDoesNotExist))), want: false},
		{name: "gt", spec: spec(term(req("gen", corev1.NodeSelectorOpGt, "4"))), want: true},
		{name: "gt-equal", spec: spec(term(req("gen", corev1.NodeSelectorOpGt, "5"))), want: false},
		{name: "lt", spec: spec(term(req("gen", corev1.NodeSelectorOpLt, "6"))), want: true},
		{name: "lt-negative", spec: spec(term(req("gen", corev1.NodeSelectorOpLt, "-1"))), want: false},
		{name: "gt-absent", spec: spec(term(req("rack", corev1.NodeSelectorOpGt, "0"))), want: false},
		{name: "gt-label-not-int", spec: spec(term(req("bad-int", corev1.NodeSelectorOpGt, "0"))), want: false},
		{name: "and-within-term", spec: spec(term(req("zone", corev1.NodeSelectorOpIn, "z1"), req("gen", corev1.NodeSelectorOpGt, "9"))), want: false},
		{name: "or-across-terms", spec: spec(term(req("zone", corev1.NodeSelectorOpIn, "z9")), term(req("gen", corev1.NodeSelectorOpGt, "1"))), want: true},
		{name: "selector-and-affinity", spec: func() *corev1.PodSpec {
			s := spec(term(req("gen", corev1.NodeSelectorOpGt, "1")))
			s.NodeSelector = map[string]string{"zone": "z2"}
			return s
		}(), want: false, reason: "nodeSelector and affinity must both match"},
		{name: "no-terms", spec: spec(), want: false, reason: "a required selector without terms selects nothing"},
		{name: "empty-term", spec: spec(corev1.NodeSelectorTerm{}), want: false, reason: "an empty term selects nothing"},
		{name: "field-in", spec: spec(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n1"))), want: true},
		{name: "field-in-miss", spec: spec(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n2"))), want: false},
		{name: "field-notin", spec: spec(fields(req("metadata.name", corev1.NodeSelectorOpNotIn, "n2"))), want: true},
		{name: "field-other-key", spec: spec(fields(req("spec.unschedulable", corev1.NodeSelectorOpIn, "true"))), want: false},
		{name: "field-and-label", spec: spec(corev1.NodeSelectorTerm{
			MatchExpressions: []corev1.NodeSelectorRequirement{req("zone", corev1.NodeSelectorOpIn, "z1")},
			MatchFields:      []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "n1")}}), want: true},
		{name: "bad-operator", spec: spec(term(req("zone", "Equals", "z1"))), want: false, wantErr: `operator "Equals" on key "zone" is not supported`},
		{name: "in-no-values", spec: spec(term(req("zone", corev1.NodeSelectorOpIn))), want: false, wantErr: "needs at least one value"},
		{name: "exists-with-values", spec: spec(term(req("zone", corev1.NodeSelectorOpExists, "z1"))), want: false, wantErr: "takes no values"},
		{name: "gt-two-values", spec: spec(term(req("gen", corev1.NodeSelectorOpGt, "1", "2"))), want: false, wantErr: "exactly one value"},
		{name: "gt-not-int", spec: spec(term(req("gen", corev1.NodeSelectorOpGt, "one"))), want: false, wantErr: `needs an integer, got "one"`},
		{name: "field-two-values", spec: spec(fields(req("metadata.name", corev1.NodeSelectorOpIn, "n1", "n2"))), want: false,
			wantErr: "matchFields[0]: field operator In"},
		{name: "field-exists", spec: spec(fields(req("metadata.name", corev1.NodeSelectorOpExists))), want: false,
			wantErr: "(In or NotIn only)"},
		{name: "invalid-and-valid-term", spec: spec(term(req("zone", corev1.NodeSelectorOpGt, "z")), term(req("zone", corev1.NodeSelectorOpIn, "z1"))),
			want: true, wantErr: "nodeSelectorTerms[0]", reason: "like the scheduler's lazy-error selector: the valid term still matches"},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			p, errs := newPlacement(tc.spec)
			if tc.wantErr == "" && len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			if tc.wantErr != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.wantErr)) {
				t.Fatalf("errors %v, want one containing %q", errs, tc.wantErr)
			}
			if got := p.matches(n); got != tc.want {
				t.Errorf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlacementUnnamedNode checks that field requirements are skipped for a
// node without a name, as the scheduler does.
func TestPlacementUnnamedNode(t *testing.T) {
	p, _ := newPlacement(&corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}}}}})
	if !p.matches(&corev1.Node{}) {
		t.Error("an unnamed node should pass field requirements")
	}
}

package patch_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// TestRemoveNodeRequirementRepeated: a requirement that a term holds more
// than once is removed every time, from the last index first, so that the
// patch applied to the Pod gives the spec Result gives.
func TestRemoveNodeRequirementRepeated(t *testing.T) {
	req := corev1.NodeSelectorRequirement{Key: "sidecarkit.io/native", Operator: corev1.NodeSelectorOpExists}
	other := corev1.NodeSelectorRequirement{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}
	for _, tc := range []struct {
		name  string
		exprs []corev1.NodeSelectorRequirement
		want  []corev1.NodeSelectorRequirement
	}{
		{"twice around another", []corev1.NodeSelectorRequirement{req, other, req}, []corev1.NodeSelectorRequirement{other}},
		{"twice in a row, first", []corev1.NodeSelectorRequirement{req, req, other}, []corev1.NodeSelectorRequirement{other}},
		{"three times, last", []corev1.NodeSelectorRequirement{other, req, req, req}, []corev1.NodeSelectorRequirement{other}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app"}},
				Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: tc.exprs}},
				}}},
			}
			pod, err := json.Marshal(map[string]interface{}{"apiVersion": "v1", "kind": "Pod", "spec": spec})
			if err != nil {
				t.Fatal(err)
			}
			m := patch.New(nil, spec)
			if err := m.RemoveNodeRequirement(req); err != nil {
				t.Fatal(err)
			}
			_, res := m.Result()
			got := res.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Result (-want +got):\n%s", d)
			}
			ops, err := m.JSONPatch()
			if err != nil {
				t.Fatal(err)
			}
			out, err := applyPatch(pod, ops)
			if err != nil {
				t.Fatalf("apply %s: %v", mustMarshal(t, ops), err)
			}
			obj, err := patch.Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(res, obj.Spec); d != "" {
				t.Errorf("patched Pod differs from Result (-Result +patched):\n%s", d)
			}
		})
	}
}

// TestNodeRequirementShapes: RequireNode and RemoveNodeRequirement on each
// shape of a Pod's required node affinity (absent at every level, empty,
// terms with and without the requirement). The patch applied to the Pod
// gives the spec Result gives, which holds the requirement in every term
// (RequireNode) or in none (RemoveNodeRequirement); a Pod already so has no
// op at all.
func TestNodeRequirementShapes(t *testing.T) {
	req := corev1.NodeSelectorRequirement{Key: "sidecarkit.io/native", Operator: corev1.NodeSelectorOpExists}
	other := corev1.NodeSelectorRequirement{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}
	field := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}
	required := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	term := func(exprs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: exprs}
	}
	preferred := []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: term(other)}}
	for _, tc := range []struct {
		name   string
		remove bool
		aff    *corev1.Affinity
		ops    int // the patch's length
	}{
		{"require, no affinity", false, nil, 1},
		{"require, no node affinity", false, &corev1.Affinity{PodAffinity: &corev1.PodAffinity{}}, 1},
		{"require, only preferred", false, &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: preferred}}, 1},
		{"require, no terms", false, required(), 1},
		{"require, a term without", false, required(term(other)), 1},
		{"require, two terms, one with", false, required(term(other), term(req, other)), 1},
		{"require, every term with", false, required(term(req), term(other, req)), 0},
		{"remove, no affinity", true, nil, 0},
		{"remove, no node affinity", true, &corev1.Affinity{PodAffinity: &corev1.PodAffinity{}}, 0},
		{"remove, only preferred", true, &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: preferred}}, 0},
		{"remove, no term with", true, required(term(other), term(other)), 0},
		{"remove, a term of it alone and one without", true, required(term(other), term(req)), 1},
		{"remove, the only term", true, required(term(req)), 1},
		{"remove, no terms", true, required(), 0},
		{"remove, a term of field selectors only and one of it alone", true, required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{field}}, term(req)), 1},
		{"remove, an empty term and one of it alone", true, required(corev1.NodeSelectorTerm{}, term(req)), 1},
		{"remove, a term with field selectors", true, required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{req}, MatchFields: []corev1.NodeSelectorRequirement{field}}), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}, Affinity: tc.aff}
			pod, err := json.Marshal(map[string]interface{}{"apiVersion": "v1", "kind": "Pod", "spec": spec})
			if err != nil {
				t.Fatal(err)
			}
			m := patch.New(nil, spec)
			if tc.remove {
				err = m.RemoveNodeRequirement(req)
			} else {
				err = m.RequireNode(req)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, res := m.Result()
			var terms []corev1.NodeSelectorTerm
			if a := res.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
				terms = a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			}
			if !tc.remove && len(terms) == 0 {
				t.Errorf("Result has no required term: %+v", res.Affinity)
			}
			for i, tm := range terms {
				n := 0
				for _, r := range tm.MatchExpressions {
					if cmp.Equal(r, req) {
						n++
					}
				}
				if tc.remove && n != 0 || !tc.remove && n != 1 {
					t.Errorf("Result's term %d holds the requirement %d times: %+v", i, n, tm)
				}
			}
			ops, err := m.JSONPatch()
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) != tc.ops {
				t.Errorf("%d ops, want %d: %s", len(ops), tc.ops, mustMarshal(t, ops))
			}
			out, err := applyPatch(pod, ops)
			if err != nil {
				t.Fatalf("apply %s: %v", mustMarshal(t, ops), err)
			}
			obj, err := patch.Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(res, obj.Spec); d != "" {
				t.Errorf("patched Pod differs from Result (-Result +patched):\n%s", d)
			}
		})
	}
}

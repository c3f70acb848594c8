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

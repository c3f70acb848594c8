package patch

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// StrategicMerge renders the mutation as a strategic merge patch for a
// document whose PodSpec is at root, for operators that patch workload
// templates (SMP is not a valid admission webhook response). The patch is
// made by apimachinery's strategicpatch from the typed spec before and after
// the mutation, so lists with a merge key carry "$setElementOrder"
// directives whenever they change, and the result keeps the order the
// mutation chose. An empty mutation gives "{}".
//
// Unlike [Mutation.JSONPatch], a strategic merge patch cannot express an
// RFC 6902 move: a container moved between lists is deleted from one and
// added, from its typed form, to the other, which loses its fields unknown to
// the compiled API types. Use JSONPatch for migrations when that matters.
func (m *Mutation) StrategicMerge(root Root) ([]byte, error) {
	if m.Empty() {
		return []byte("{}"), nil
	}
	tokens := strings.Split(strings.TrimPrefix(string(root), "/"), "/")
	if root == "" || tokens[len(tokens)-1] != "spec" {
		return nil, fmt.Errorf("patch: strategic merge: root %q does not end in /spec", string(root))
	}
	_, after := m.Result()
	specPatch, err := twoWay(m.baseSpec, after, corev1.PodSpec{})
	if err != nil {
		return nil, fmt.Errorf("patch: strategic merge: spec: %w", err)
	}
	parent := map[string]interface{}{}
	if len(specPatch) > 0 {
		parent["spec"] = specPatch
	}
	if m.s.metaKnown {
		beforeMeta := metav1.ObjectMeta{}
		if m.baseMeta != nil {
			beforeMeta = *m.baseMeta
		}
		afterMeta := m.s.meta
		metaPatch, err := twoWay(&beforeMeta, &afterMeta, metav1.ObjectMeta{})
		if err != nil {
			return nil, fmt.Errorf("patch: strategic merge: metadata: %w", err)
		}
		if len(metaPatch) > 0 {
			parent["metadata"] = metaPatch
		}
	}
	var doc interface{} = parent
	for i := len(tokens) - 2; i >= 0; i-- {
		doc = map[string]interface{}{tokens[i]: doc}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("patch: strategic merge: %w", err)
	}
	return b, nil
}

func twoWay(before, after interface{}, schema interface{}) (map[string]interface{}, error) {
	a, err := json.Marshal(before)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(after)
	if err != nil {
		return nil, err
	}
	p, err := strategicpatch.CreateTwoWayMergePatch(a, b, schema)
	if err != nil {
		return nil, err
	}
	var out map[string]interface{}
	if err := json.Unmarshal(p, &out); err != nil {
		return nil, err
	}
	return out, nil
}

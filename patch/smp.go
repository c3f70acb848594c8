package patch

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// StrategicMerge renders the mutation as a strategic merge patch for a
// document whose PodSpec is at root, for operators that patch workload
// templates (SMP is not a valid admission webhook response). The patch is
// made by apimachinery's strategicpatch from the typed spec before and after
// the mutation, so lists with a merge key carry "$setElementOrder"
// directives whenever they change, and the result keeps the order the
// mutation chose. Such lists are diffed element by element, with the
// result strategicpatch gives, in time linear in their length (its own
// ordering of a list patch is quadratic). An empty mutation gives "{}".
//
// A strategic merge patch cannot express an RFC 6902 move between lists: a
// container moved from containers to initContainers (or back) would be
// deleted from one and added, from its typed form, to the other, losing its
// fields unknown to the compiled API types. StrategicMerge refuses such a
// mutation with an error that names the move; render it with
// [Mutation.JSONPatch] ([Mutation.HasMoves] tells beforehand). Moves within
// a list are kept by "$setElementOrder". Of the options, [ResourceVersion]
// adds metadata.resourceVersion; [Guarded] does not apply (elements are
// addressed by key).
func (m *Mutation) StrategicMerge(opts ...RenderOption) ([]byte, error) {
	c := m.renderConfigOf(opts)
	root := c.root
	if from, to, ok := m.crossListMove(); ok {
		return nil, fmt.Errorf("patch: strategic merge: the mutation moves %s to %s, which a strategic merge patch cannot express without losing the element's unknown fields; render a JSON patch", string(root)+from, string(root)+to)
	}
	if m.Empty() && !c.hasRV {
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
		afterMeta := m.s.metaResult()
		metaPatch, err := twoWay(&beforeMeta, &afterMeta, metav1.ObjectMeta{})
		if err != nil {
			return nil, fmt.Errorf("patch: strategic merge: metadata: %w", err)
		}
		if len(metaPatch) > 0 {
			parent["metadata"] = metaPatch
		}
	}
	var doc interface{} = parent
	for i := len(tokens) - 2; i >= 0 && len(parent) > 0; i-- {
		doc = map[string]interface{}{tokens[i]: doc}
	}
	if c.hasRV {
		top := doc.(map[string]interface{})
		md, _ := top["metadata"].(map[string]interface{})
		if md == nil {
			md = map[string]interface{}{}
			top["metadata"] = md
		}
		md["resourceVersion"] = c.rv
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("patch: strategic merge: %w", err)
	}
	return b, nil
}

// twoWay is strategicpatch.CreateTwoWayMergePatch of before and after with
// schema's patch metadata, decoded: the documents are decoded as it decodes
// them, and its lists with a merge key are diffed in linear time (see
// keyLists). Numbers keep their decoded types (integers are int64), so
// that integers beyond 2^53 are written exactly.
func twoWay(before, after interface{}, schema interface{}) (map[string]interface{}, error) {
	meta, err := strategicpatch.NewPatchMetaFromStruct(schema)
	if err != nil {
		return nil, err
	}
	orig, err := decodeMap(before)
	if err != nil {
		return nil, err
	}
	mod, err := decodeMap(after)
	if err != nil {
		return nil, err
	}
	if _, ok := after.(*corev1.PodSpec); ok {
		dropEmptyContainerResources(orig)
		dropEmptyContainerResources(mod)
	}
	var lookup strategicpatch.LookupPatchMeta = meta
	lv := keyLists(orig, mod, meta)
	if lv != nil {
		lookup = keyedSchema{meta, lv}
	}
	p, err := strategicpatch.CreateTwoWayMergeMapPatchUsingLookupPatchMeta(orig, mod, lookup)
	if err != nil {
		return nil, err
	}
	unkeyPatch(p, lv)
	return p, nil
}

// decodeMap encodes v and decodes it as a JSON object, as strategicpatch
// decodes its documents.
func decodeMap(v interface{}) (map[string]interface{}, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := utiljson.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// dropEmptyContainerResources removes the empty resources member from the
// containers of a decoded PodSpec, as the JSON patch does
// (dropEmptyResources), from both documents a strategic merge patch
// compares, so that it neither adds nor removes one.
func dropEmptyContainerResources(spec map[string]interface{}) {
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		l, _ := spec[list].([]interface{})
		for _, e := range l {
			c, _ := e.(map[string]interface{})
			if r, ok := c["resources"].(map[string]interface{}); ok && len(r) == 0 {
				delete(c, "resources")
			}
		}
	}
}

package patch_test

import (
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

const deploymentRV = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","resourceVersion":"41"},
"spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"a","x-future":1}]}}}}`

// ResourceVersion is the object's precondition in both patch types: a JSON
// patch that tests /metadata/resourceVersion first (applying only at that
// version), a strategic merge patch that carries metadata.resourceVersion
// at the top, not in the pod template's metadata.
func TestResourceVersion(t *testing.T) {
	obj, err := patch.DecodeAs([]byte(deploymentRV), "Deployment")
	if err != nil {
		t.Fatal(err)
	}
	m := obj.Mutation()
	if err := m.SetAnnotation("a", "1"); err != nil {
		t.Fatal(err)
	}
	if err := m.AppendContainer(patch.Containers, corev1.Container{Name: "proxy", Image: "p"}); err != nil {
		t.Fatal(err)
	}
	for _, rv := range []string{"41", "40"} {
		b, err := m.MarshalJSONPatch(obj.Root, patch.ResourceVersion(rv), patch.Guarded())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), `[{"op":"test","path":"/metadata/resourceVersion","value":"`+rv+`"},`) {
			t.Errorf("patch %s does not start with the resourceVersion test", b)
		}
		jp, err := jsonpatch.DecodePatch(b)
		if err != nil {
			t.Fatal(err)
		}
		_, err = jp.Apply([]byte(deploymentRV))
		if (err == nil) != (rv == "41") {
			t.Errorf("resourceVersion %s: apply error %v", rv, err)
		}
	}
	smp, err := m.StrategicMerge(obj.Root, patch.ResourceVersion("41"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Metadata map[string]interface{} `json:"metadata"`
		Spec     struct {
			Template struct {
				Metadata map[string]interface{} `json:"metadata"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(smp, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Metadata["resourceVersion"] != "41" || doc.Spec.Template.Metadata["resourceVersion"] != nil || doc.Spec.Template.Metadata["annotations"] == nil {
		t.Errorf("strategic merge patch %s: want metadata.resourceVersion 41 at the top and the annotation in the template", smp)
	}
	// An empty mutation renders only the precondition.
	empty := obj.Mutation()
	if b, err := empty.MarshalJSONPatch(obj.Root, patch.ResourceVersion("41")); err != nil || string(b) != `[{"op":"test","path":"/metadata/resourceVersion","value":"41"}]` {
		t.Errorf("empty JSON patch = %s, %v", b, err)
	}
	if b, err := empty.StrategicMerge(obj.Root, patch.ResourceVersion("41")); err != nil || string(b) != `{"metadata":{"resourceVersion":"41"}}` {
		t.Errorf("empty strategic merge patch = %s, %v", b, err)
	}
	if b, err := empty.StrategicMerge(obj.Root); err != nil || string(b) != `{}` {
		t.Errorf("empty strategic merge patch = %s, %v", b, err)
	}
}

// HasMoves reports a move within or between lists; StrategicMerge refuses
// only a move between lists (it keeps a reordering with
// $setElementOrder), naming it.
func TestHasMovesAndStrategicMerge(t *testing.T) {
	spec := func() *corev1.PodSpec {
		return &corev1.PodSpec{InitContainers: []corev1.Container{{Name: "setup"}}, Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}
	}
	for _, tc := range []struct {
		name    string
		edit    func(*patch.Mutation) error
		moves   bool
		refused string
	}{
		{"append", func(m *patch.Mutation) error { return m.AppendContainer(patch.Containers, corev1.Container{Name: "c"}) }, false, ""},
		{"reorder", func(m *patch.Mutation) error { return m.MoveContainer(patch.Containers, "b", patch.Containers, 0) }, true, ""},
		{"between lists", func(m *patch.Mutation) error { return m.MoveContainer(patch.Containers, "b", patch.InitContainers, 0) }, true,
			"patch: strategic merge: the mutation moves /spec/containers/1 to /spec/initContainers/0, which a strategic merge patch cannot express"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := patch.New(nil, spec())
			if err := tc.edit(m); err != nil {
				t.Fatal(err)
			}
			if m.HasMoves() != tc.moves {
				t.Errorf("HasMoves = %v, want %v", m.HasMoves(), tc.moves)
			}
			smp, err := m.StrategicMerge(patch.PodRoot)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("StrategicMerge: %v", err)
			case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("StrategicMerge = %s, %v; want an error containing %q", smp, err, tc.refused)
			}
		})
	}
}

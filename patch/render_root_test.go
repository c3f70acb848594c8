package patch_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// TestRenderRoot: without a Root option a mutation renders for its own
// root: a Pod's spec for New, the object's pod spec for Object.Mutation; a
// Root option renders for another document, and of two the last counts.
// Every renderer agrees.
func TestRenderRoot(t *testing.T) {
	deployment, err := patch.DecodeAs([]byte(deploymentRV), "Deployment")
	if err != nil {
		t.Fatal(err)
	}
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}}}
	for _, tc := range []struct {
		name string
		m    func() *patch.Mutation
		opts []patch.RenderOption
		want patch.Root
	}{
		{"New, no option", func() *patch.Mutation { return patch.New(nil, spec) }, nil, patch.PodRoot},
		{"New, a template root", func() *patch.Mutation { return patch.New(nil, spec) }, []patch.RenderOption{patch.TemplateRoot}, patch.TemplateRoot},
		{"a Deployment, no option", deployment.Mutation, nil, patch.TemplateRoot},
		{"a Deployment, nil options", deployment.Mutation, []patch.RenderOption{nil, nil}, patch.TemplateRoot},
		{"a Deployment rendered for a Pod", deployment.Mutation, []patch.RenderOption{patch.PodRoot}, patch.PodRoot},
		{"two roots: the last counts", deployment.Mutation, []patch.RenderOption{patch.PodRoot, patch.Root("/spec/jobTemplate/spec/template/spec")}, patch.Root("/spec/jobTemplate/spec/template/spec")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m()
			if err := m.AppendContainer(patch.Containers, corev1.Container{Name: "proxy", Image: "p"}); err != nil {
				t.Fatal(err)
			}
			ops, err := m.JSONPatch(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if want := string(tc.want) + "/containers/-"; len(ops) != 1 || ops[0].Path != want {
				t.Errorf("JSONPatch = %s, want one add at %s", mustMarshal(t, ops), want)
			}
			b, err := m.MarshalJSONPatch(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != string(mustMarshal(t, ops)) {
				t.Errorf("MarshalJSONPatch = %s, want %s", b, mustMarshal(t, ops))
			}
			smp, err := m.StrategicMerge(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"spec":{"$setElementOrder/containers":[{"name":"app"},{"name":"proxy"}],"containers":[{"image":"p","name":"proxy"}]}}`
			// The tokens of the root above its final "spec", innermost first.
			toks := strings.Split(strings.TrimPrefix(string(tc.want), "/"), "/")
			for i := len(toks) - 2; i >= 0; i-- {
				want = `{"` + toks[i] + `":` + want + `}`
			}
			if string(smp) != want {
				t.Errorf("StrategicMerge = %s, want %s", smp, want)
			}
		})
	}
}

// TestStrategicMergeNamesFirstMove: a mutation that moves containers
// between lists has no strategic merge patch; the error names the first
// such move.
func TestStrategicMergeNamesFirstMove(t *testing.T) {
	m := patch.New(nil, &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "a"}, {Name: "b"}},
		Containers:     []corev1.Container{{Name: "app"}},
	})
	if err := m.MoveContainer(patch.Containers, "app", patch.Containers, 0); err != nil { // records nothing
		t.Fatal(err)
	}
	if err := m.MoveContainer(patch.InitContainers, "b", patch.InitContainers, 0); err != nil { // within a list
		t.Fatal(err)
	}
	if err := m.MoveContainer(patch.InitContainers, "a", patch.Containers, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.MoveContainer(patch.InitContainers, "b", patch.Containers, 2); err != nil {
		t.Fatal(err)
	}
	_, err := m.StrategicMerge()
	want := "patch: strategic merge: the mutation moves /spec/initContainers/1 to /spec/containers/1, "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("StrategicMerge = %v, want an error starting %q", err, want)
	}
	if !m.HasMoves() {
		t.Error("HasMoves = false")
	}
}

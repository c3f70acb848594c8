package patch_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/sidecarkit/sidecarkit/internal/golden"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGolden runs every testdata/golden/<case>.in.json with the edits of
// <case>.edits.json and compares the JSON patch (.patch.json), the patched
// document (.out.json) and the strategic merge patch (.smp.json) with golden
// files. It also checks that the JSON patch, the strategic merge patch and
// the typed Apply agree.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/golden/*.in.json")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		in := in
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			base := strings.TrimSuffix(in, ".in.json")
			raw := readFile(t, in)
			var steps []step
			if err := json.Unmarshal(readFile(t, base+".edits.json"), &steps); err != nil {
				t.Fatalf("edits: %v", err)
			}
			obj, err := patch.Decode(raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			m := obj.Mutation()
			for i, s := range steps {
				if err := s.run(m); err != nil {
					t.Fatalf("step %d (%s): %v", i, s.Op, err)
				}
			}
			ops, err := m.JSONPatch(obj.Root)
			if err != nil {
				t.Fatalf("JSONPatch: %v", err)
			}
			checkMarshalJSONPatch(t, m, obj.Root)
			if err := patchtest.Verify(raw, ops); err != nil {
				t.Errorf("Verify: %v", err)
			}
			opsJSON := mustIndent(t, mustMarshal(t, ops))
			golden.Check(t, *update, base+".patch.json", opsJSON)

			out := applyOps(t, raw, ops)
			golden.Check(t, *update, base+".out.json", mustIndent(t, out))

			smp, err := m.StrategicMerge(obj.Root)
			if movesBetweenLists(ops) {
				// A strategic merge patch cannot move: refused, and no
				// .smp.json.
				if !isMoveRefusal(err) {
					t.Errorf("StrategicMerge of a move between lists = %s, %v; want the refusal", smp, err)
				}
				if !m.HasMoves() {
					t.Errorf("HasMoves = false for %s", mustMarshal(t, ops))
				}
				smp = nil
			} else if err != nil {
				t.Fatalf("StrategicMerge: %v", err)
			} else {
				golden.Check(t, *update, base+".smp.json", mustIndent(t, smp))
			}

			// The typed Apply, the JSON patch and the SMP agree.
			want := obj
			meta, spec := want.Meta.DeepCopy(), want.Spec.DeepCopy()
			if meta == nil && hasMetaEdit(steps) {
				meta = &metav1.ObjectMeta{}
			}
			if err := m.Apply(meta, spec); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			checkTyped(t, "JSON patch", out, spec, meta)
			if smp == nil {
				return
			}
			smpOut, err := strategicpatch.StrategicMergePatch(raw, smp, schemaFor(t, obj.Kind))
			if err != nil {
				t.Fatalf("apply SMP: %v", err)
			}
			checkTyped(t, "strategic merge patch", smpOut, spec, meta)
		})
	}
}

func checkTyped(t *testing.T, what string, doc []byte, spec *corev1.PodSpec, meta *metav1.ObjectMeta) {
	t.Helper()
	got, err := patch.Decode(doc)
	if err != nil {
		t.Fatalf("%s: decode result: %v", what, err)
	}
	opts := cmpopts.EquateEmpty()
	if diff := cmp.Diff(spec, got.Spec, opts); diff != "" {
		t.Errorf("%s: spec differs from typed Apply (-apply +patched):\n%s", what, diff)
	}
	if meta != nil {
		if diff := cmp.Diff(meta.Annotations, got.Meta.Annotations, opts); diff != "" {
			t.Errorf("%s: annotations differ from typed Apply (-apply +patched):\n%s", what, diff)
		}
		if diff := cmp.Diff(meta.Labels, got.Meta.Labels, opts); diff != "" {
			t.Errorf("%s: labels differ from typed Apply (-apply +patched):\n%s", what, diff)
		}
	}
}

func hasMetaEdit(steps []step) bool {
	for _, s := range steps {
		if strings.Contains(s.Op, "Annotation") || strings.Contains(s.Op, "Label") {
			return true
		}
	}
	return false
}

func schemaFor(t *testing.T, kind string) interface{} {
	t.Helper()
	switch kind {
	case "Pod":
		return corev1.Pod{}
	case "Deployment":
		return appsv1.Deployment{}
	case "StatefulSet":
		return appsv1.StatefulSet{}
	case "DaemonSet":
		return appsv1.DaemonSet{}
	case "ReplicaSet":
		return appsv1.ReplicaSet{}
	case "Job":
		return batchv1.Job{}
	case "CronJob":
		return batchv1.CronJob{}
	case "ReplicationController":
		return corev1.ReplicationController{}
	case "PodTemplate":
		return corev1.PodTemplate{}
	}
	t.Fatalf("no schema for kind %q", kind)
	return nil
}

// applyOps applies ops to doc with evanphx/json-patch/v5 under the strict
// options a careful caller uses.
func applyOps(t *testing.T, doc []byte, ops patch.Ops) []byte {
	t.Helper()
	out, err := applyRaw(doc, mustMarshal(t, ops))
	if err != nil {
		t.Fatalf("apply patch %s: %v", mustMarshal(t, ops), err)
	}
	return out
}

func applyRaw(doc, ops []byte) ([]byte, error) {
	p, err := jsonpatch.DecodePatch(ops)
	if err != nil {
		return nil, err
	}
	o := jsonpatch.NewApplyOptions()
	o.SupportNegativeIndices = false
	return p.ApplyWithOptions(doc, o)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustMarshal(t testing.TB, v interface{}) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustIndent(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("indent %s: %v", b, err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// movesBetweenLists reports whether ops move an element from one list of
// the pod spec to another.
func movesBetweenLists(ops patch.Ops) bool {
	first := func(p string) string { // the pod spec's list the pointer is in
		for _, tok := range strings.Split(p, "/") {
			switch tok {
			case "containers", "initContainers", "ephemeralContainers", "volumes":
				return tok
			}
		}
		return p
	}
	for _, op := range ops {
		if op.Op == "move" && first(op.From) != first(op.Path) {
			return true
		}
	}
	return false
}

// isMoveRefusal reports whether err is StrategicMerge's refusal of a move
// between lists.
func isMoveRefusal(err error) bool {
	return err != nil && strings.Contains(err.Error(), "which a strategic merge patch cannot express")
}

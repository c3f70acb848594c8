package bench

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/sidecarkit/sidecarkit/bench/fixture"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

//go:embed testdata/*.json
var testdata embed.FS

// Inputs returns the committed fixtures (testdata/<name>.json, see package
// fixture), smallest first.
func Inputs() ([]*Input, error) {
	var out []*Input
	for _, s := range fixture.Shapes() {
		raw, err := testdata.ReadFile("testdata/" + s.Name + ".json")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		in, err := NewInput(s.Name, raw)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// Quality is what a path's output does to the Pod.
type Quality struct {
	// PatchBytes is the size of the patch (for a review response, of the
	// patch it carries).
	PatchBytes int
	// Ops is the number of RFC 6902 operations, -1 for a merge patch.
	Ops int
	// MinOps is the fewest operations that make the mutation: one for the
	// sidecar, one for the volume, one mount per regular container, one
	// for the record annotation.
	MinOps int
	// UnknownKept of UnknownTotal fields unknown to k8s.io/api are still in
	// their own element after the patch is applied (patchtest.UnknownFieldsKept).
	UnknownKept, UnknownTotal int
	// Lost names the unknown fields not kept.
	Lost []string
	// SameMutation is set when the patched Pod, decoded, equals the
	// decoded Pod mutated in memory: the path made the benchmark's
	// mutation and nothing else that the typed Pod can see.
	SameMutation bool
}

// Assess runs p on in and applies its output to the Pod.
func Assess(p Path, in *Input) (Quality, error) {
	out, err := p.Run(in)
	if err != nil {
		return Quality{}, fmt.Errorf("%s/%s: %w", p.Key, in.Name, err)
	}
	q := Quality{Ops: -1, MinOps: 3 + len(in.Spec.Containers)}
	var patched []byte
	switch p.Output {
	case Nothing:
		return q, nil
	case ReviewResponse:
		var ar admissionv1.AdmissionReview
		if err := json.Unmarshal(out, &ar); err != nil {
			return Quality{}, fmt.Errorf("%s/%s: response: %w", p.Key, in.Name, err)
		}
		if ar.Response == nil || !ar.Response.Allowed {
			return Quality{}, fmt.Errorf("%s/%s: response does not allow: %s", p.Key, in.Name, out)
		}
		out = ar.Response.Patch
		fallthrough
	case JSONPatch:
		var ops []json.RawMessage
		if err := json.Unmarshal(out, &ops); err != nil {
			return Quality{}, fmt.Errorf("%s/%s: patch: %w", p.Key, in.Name, err)
		}
		q.Ops = len(ops)
		jp, err := jsonpatch.DecodePatch(out)
		if err != nil {
			return Quality{}, fmt.Errorf("%s/%s: patch: %w", p.Key, in.Name, err)
		}
		if patched, err = jp.Apply(in.Raw); err != nil {
			return Quality{}, fmt.Errorf("%s/%s: apply: %w", p.Key, in.Name, err)
		}
	case MergePatch:
		if patched, err = strategicpatch.StrategicMergePatch(in.Raw, out, corev1.Pod{}); err != nil {
			return Quality{}, fmt.Errorf("%s/%s: apply: %w", p.Key, in.Name, err)
		}
	}
	q.PatchBytes = len(out)
	if q.UnknownKept, q.UnknownTotal, q.Lost, err = patchtest.UnknownFieldsKept(in.Raw, patched); err != nil {
		return Quality{}, fmt.Errorf("%s/%s: %w", p.Key, in.Name, err)
	}
	if q.SameMutation, err = sameMutation(in, patched, p.Key == "AdmissionLean"); err != nil {
		return Quality{}, fmt.Errorf("%s/%s: %w", p.Key, in.Name, err)
	}
	return q, nil
}

// sameMutation compares the typed forms of patched and of the Pod mutated
// in memory; requested: the record says the mode was requested, not
// chosen from the capability (AdmissionLean).
func sameMutation(in *Input, patched []byte, requested bool) (bool, error) {
	var want, got corev1.Pod
	if err := json.Unmarshal(in.Raw, &want); err != nil {
		return false, err
	}
	mutateTyped(&want.ObjectMeta, &want.Spec, &in.Sidecar)
	if requested {
		want.Annotations[sidecar.Annotation(SidecarName)] = requestedRecord
	}
	if err := json.Unmarshal(patched, &got); err != nil {
		return false, err
	}
	a, err := json.Marshal(&want)
	if err != nil {
		return false, err
	}
	b, err := json.Marshal(&got)
	if err != nil {
		return false, err
	}
	return bytes.Equal(a, b), nil
}

package admission_test

import (
	"context"
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/optioncases"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestOptionsThroughReview: every mode-choice option of Config.Options
// (Mode, AllowPinned, Fallback, AvoidUnorderedTermination, a Universal
// planner or none), with the capability Config.Capability reports,
// reaches the choice of mode through Webhook.Review: the Outcome's mode,
// code and warnings, and the sidecar's place in the Pod once the
// response's patch is applied to the request's object.
func TestOptionsThroughReview(t *testing.T) {
	const pod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"shop"},"spec":{"containers":[{"name":"app","image":"nginx","x-future":true}]}}`
	for _, tc := range optioncases.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			capability := tc.Capability
			inj, err := admission.New(admission.Config{
				Spec:    sidecar.Spec{Container: optioncases.Sidecar()},
				Options: tc.Options,
				Capability: func(context.Context, *admission.Request) (compat.Capability, error) {
					return capability, nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			body, out, err := inj.Review(context.Background(), optionsReview(t, pod))
			if err != nil {
				t.Fatal(err)
			}
			if !out.Allowed || out.Err != nil {
				t.Fatalf("denied: %v", out.Err)
			}
			if out.Reason == "" {
				t.Error("no reason")
			}
			if out.Mode != tc.Mode || out.Code != tc.Code {
				t.Errorf("mode %s, code %q; want %s, %q (reason: %s)", out.Mode, out.Code, tc.Mode, tc.Code, out.Reason)
			}
			if err := optioncases.CheckWarnings(tc, out.Warnings); err != nil {
				t.Error(err)
			}
			var resp admissionv1.AdmissionReview
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Response == nil || len(resp.Response.Patch) == 0 {
				t.Fatalf("no patch in %s", body)
			}
			if resp.Response.Warnings == nil && len(out.Warnings) > 0 {
				t.Errorf("the response carries none of the warnings %q", out.Warnings)
			}
			p, err := jsonpatch.DecodePatch(resp.Response.Patch)
			if err != nil {
				t.Fatal(err)
			}
			patched, err := p.Apply([]byte(pod))
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			obj, err := patch.Decode(patched)
			if err != nil {
				t.Fatal(err)
			}
			if err := optioncases.CheckPlacement(obj.Spec, optioncases.Sidecar().Name, tc.Mode); err != nil {
				t.Error(err)
			}
			if err := patchtest.Verify([]byte(pod), decodeOps(t, resp.Response.Patch)); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// optionsReview is an AdmissionReview v1 CREATE request of the Pod pod.
func optionsReview(t *testing.T, pod string) []byte {
	t.Helper()
	kind := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("6a1e1f0e-52a1-4c4b-9d43-2f7f3c0f0b11"),
			Kind:      kind,
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: "shop",
			Name:      "web",
			Operation: admissionv1.Create,
		},
	}
	ar.Request.Object.Raw = []byte(pod)
	b, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeOps(t *testing.T, b []byte) patch.Ops {
	t.Helper()
	var ops patch.Ops
	if err := json.Unmarshal(b, &ops); err != nil {
		t.Fatal(err)
	}
	return ops
}

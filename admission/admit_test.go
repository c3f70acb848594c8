package admission_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/sidecarkit/sidecarkit/admission"
)

// Admit decides a decoded request exactly as Review decides its review:
// the same response (patch, denial, warnings), the same Outcome, the same
// errors.
func TestAdmitIsReview(t *testing.T) {
	w := newWebhook(t, admission.Config{Capability: staticCap(nativeCap), Workloads: true, ExcludeNamespaces: []string{"kube-system"}})
	clash := strings.Replace(podJSON, `"containers":[`, `"containers":[{"name":"proxy","image":"evil"},`, 1)
	for _, tc := range []struct {
		name string
		r    req
	}{
		{"pod", req{}},
		{"dry run", req{dryRun: true}},
		{"update", req{op: "UPDATE"}},
		{"subresource", req{sub: "ephemeralcontainers"}},
		{"excluded namespace", req{ns: "kube-system"}},
		{"deployment", req{kind: deploymentKind, object: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"app","image":"a","x-new":1}]}}}}`}},
		{"denied", req{object: clash}},
		{"no object", req{object: "null"}},
		{"not an object", req{object: `[1]`}},
		{"no uid", req{uid: "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := review(t, tc.r)
			if tc.r.uid == "-" {
				body = []byte(strings.Replace(string(body), `"uid":"-"`, `"uid":""`, 1))
			}
			var in admissionv1.AdmissionReview
			if err := json.Unmarshal(body, &in); err != nil {
				t.Fatal(err)
			}
			// The object's name, as the API server sends it for all
			// but generateName creations: Admit passes it on too.
			in.Request.Name = "web"
			body, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			wantBytes, wantOut, wantErr := w.Review(context.Background(), body)
			resp, out, err := w.Admit(context.Background(), in.Request)
			if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
				t.Fatalf("Admit error %v, Review error %v", err, wantErr)
			}
			var ae *admission.Error
			if err != nil && !errors.As(err, &ae) {
				t.Errorf("Admit error %T, want *admission.Error", err)
			}
			if err != nil {
				return
			}
			var want admissionv1.AdmissionReview
			if err := json.Unmarshal(wantBytes, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(resp, want.Response) {
				t.Errorf("Admit response %+v\nReview response %+v", resp, want.Response)
			}
			if out.Err != nil && wantOut.Err != nil && out.Err.Error() == wantOut.Err.Error() {
				out.Err, wantOut.Err = nil, nil
			}
			if !reflect.DeepEqual(out, wantOut) {
				t.Errorf("Admit outcome %+v\nReview outcome %+v", out, wantOut)
			}
		})
	}
	if _, _, err := w.Admit(context.Background(), nil); err == nil {
		t.Error("Admit(nil): no error")
	}
}

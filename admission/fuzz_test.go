package admission_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// FuzzReview feeds arbitrary bodies to Review. Properties: no panic; an
// error is an *admission.Error with status 400 or 500 and no body; a
// response is an AdmissionReview v1 that echoes the uid, and its patch (if
// any) applies to the request's object, changes only what it names, and
// injects nothing more when the patched object is reviewed again.
func FuzzReview(f *testing.F) {
	f.Add(review(f, req{}))
	f.Add(review(f, req{kind: deploymentKind, object: deploymentJSON}))
	f.Add(review(f, req{op: "UPDATE"}))
	f.Add(review(f, req{object: `{"spec":{"containers":null,"initContainers":[{"name":"a"}]}}`}))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"spec":{}}}}`))
	f.Add([]byte(`{}`))
	i := newWebhook(f, admission.Config{Capability: staticCap(nativeCap), Workloads: true})
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, _, err := i.Review(context.Background(), body)
		if err != nil {
			var e *admission.Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 500) || resp != nil {
				t.Fatalf("error %v (%T), response %q", err, err, resp)
			}
			return
		}
		var in struct {
			Request struct {
				UID    string          `json:"uid"`
				Kind   json.RawMessage `json:"kind"`
				Object json.RawMessage `json:"object"`
			} `json:"request"`
		}
		if err := utiljson.Unmarshal(body, &in); err != nil {
			// Review reads JSON case-sensitively, as this decoder does,
			// but tolerates what it may not (and vice versa); nothing to
			// compare. (encoding/json would match "OBjeCt" to object.)
			return
		}
		r, ops := decodeResponse(t, resp, in.Request.UID)
		if len(ops) == 0 {
			return
		}
		if !r.Allowed {
			t.Fatalf("a patch in a denial: %s", resp)
		}
		var kind struct {
			Kind string `json:"kind"`
		}
		if err := utiljson.Unmarshal(in.Request.Kind, &kind); err != nil {
			t.Fatalf("a patch for a request whose kind does not decode: %s", in.Request.Kind)
		}
		obj := in.Request.Object
		if err := patchtest.VerifyAs(obj, kind.Kind, ops); err != nil {
			if errors.Is(err, patchtest.ErrInvalidDocument) && strings.Contains(err.Error(), "duplicate object key") {
				// JSON allows duplicate keys (the API server takes the
				// last, like Review); Verify refuses to judge such a
				// document, whose unknown fields are ambiguous.
				return
			}
			t.Fatalf("patch does not verify: %v\nobject %s\nops %s", err, obj, mustJSON(ops))
		}
	})
}

func mustJSON(v interface{}) []byte {
	b, _ := json.Marshal(v)
	return b
}

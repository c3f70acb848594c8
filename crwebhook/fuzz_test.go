package crwebhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	sidecaradmission "github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/crwebhook"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// groups are the API groups of the kinds the fuzzer names.
var groups = map[string]string{"Deployment": "apps", "StatefulSet": "apps", "Job": "batch", "CronJob": "batch"}

// FuzzHandle feeds hostile objects of any kind to the handler: it must
// never panic, answer allowed with a patch that changes only what it
// names and keeps every unknown field (patchtest.VerifyAs; for an object
// that is not valid JSON only inside parts the lean decode skips, there
// is nothing to verify), or deny or error with a bounded message;
// warnings stay bounded.
func FuzzHandle(f *testing.F) {
	f.Add("Pod", readFile(f, "testdata/pod.json"))
	f.Add("Deployment", readFile(f, "testdata/deployment.json"))
	f.Add("Pod", []byte(`{"spec":{"containers":[{"name":"proxy","image":"x"}]}}`))
	f.Add("Pod", []byte(`{"spec":{"containers":null,"initContainers":[{"name":"a"}]}}`))
	f.Add("CronJob", []byte(`{"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","x-f":[1]}]}}}}}}`))
	f.Add("Pod", []byte(`{"kind":"Pod","spec":`))
	h := newHandler(f, crwebhook.Config{Capability: fixed(capability(f, "v1.33.1", "v1.33.1")), Workloads: true})
	f.Fuzz(func(t *testing.T, kind string, raw []byte) {
		req := request(admissionv1.Create, groups[kind], kind, raw)
		resp := h.Handle(context.Background(), req)
		if len(resp.Warnings) > sidecaradmission.MaxWarnings {
			t.Fatalf("%d warnings", len(resp.Warnings))
		}
		for _, w := range resp.Warnings {
			if len([]rune(w)) > sidecaradmission.MaxWarningLength {
				t.Fatalf("warning of %d runes", len([]rune(w)))
			}
		}
		if !resp.Allowed {
			if resp.Result == nil || len(resp.Result.Message) > sidecaradmission.MaxMessageBytes || len(resp.Patch) > 0 {
				t.Fatalf("denial %+v with patch %q", resp.Result, resp.Patch)
			}
			switch resp.Result.Code {
			case http.StatusUnprocessableEntity, http.StatusBadRequest:
			default:
				t.Fatalf("denial code %d: %s", resp.Result.Code, resp.Result.Message)
			}
			return
		}
		if len(resp.Patch) == 0 {
			return
		}
		var ops patch.Ops
		if err := json.Unmarshal(resp.Patch, &ops); err != nil {
			t.Fatalf("patch %q: %v", resp.Patch, err)
		}
		if err := patchtest.VerifyAs(raw, kind, ops); err != nil {
			if errors.Is(err, patchtest.ErrInvalidDocument) && strings.Contains(err.Error(), "duplicate object key") {
				return
			}
			if errors.Is(err, patchtest.ErrInvalidDocument) && !json.Valid(raw) {
				// A Pod is decoded only as far as the injection reads it,
				// and the parts it skips are checked for structure only
				// (package admission's decode): an API server sends no
				// such object, and there is no document to verify against.
				return
			}
			t.Fatalf("patch does not verify: %v\nobject %s\nops %s", err, raw, resp.Patch)
		}
	})
}

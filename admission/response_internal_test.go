package admission

import (
	"encoding/json"
	"math/rand"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestAppendReview: appendReview encodes every response it takes exactly
// as json.Marshal encodes the AdmissionReview holding it, on responses
// with and without a patch, patch type and warnings, whose strings carry
// HTML characters, escapes, control characters, non-ASCII and invalid
// UTF-8; and it leaves denials and audit annotations to json.Marshal.
func TestAppendReview(t *testing.T) {
	pieces := []string{"", "a", "uid-0f6d", "<>&", `"\`, "\x00\x01\x1f", "\u2028\u2029", "é", "\xff\xfe", "sidecar \"proxy\": ok", "\t\n"}
	rng := rand.New(rand.NewSource(20))
	str := func() string {
		s := ""
		for i := rng.Intn(4); i > 0; i-- {
			s += pieces[rng.Intn(len(pieces))]
		}
		return s
	}
	jp := admissionv1.PatchTypeJSONPatch
	for n := 0; n < 2000; n++ {
		resp := &admissionv1.AdmissionResponse{UID: types.UID(str()), Allowed: rng.Intn(2) == 0}
		if rng.Intn(2) == 0 {
			resp.Patch = []byte(str())
		}
		if rng.Intn(2) == 0 {
			pt := admissionv1.PatchType(str())
			if rng.Intn(2) == 0 {
				pt = jp
			}
			resp.PatchType = &pt
		}
		for i := rng.Intn(3); i > 0; i-- {
			resp.Warnings = append(resp.Warnings, str())
		}
		if rng.Intn(4) == 0 {
			resp.Warnings = []string{}
		}
		want, err := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: reviewKind}, Response: resp})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendReview(nil, resp)
		if !ok || string(got) != string(want) {
			t.Fatalf("appendReview(%+v) = %s, %v\njson.Marshal %s", resp, got, ok, want)
		}
	}
	for _, resp := range []*admissionv1.AdmissionResponse{
		{UID: "u", Result: &metav1.Status{Message: "no"}},
		{UID: "u", Allowed: true, AuditAnnotations: map[string]string{"a": "b"}},
	} {
		if _, ok := appendReview(nil, resp); ok {
			t.Errorf("appendReview took %+v", resp)
		}
	}
}

// TestAppendReviewOneAllocation: a response whose strings need no escapes
// is written into the one buffer appendReview sizes for it, whatever
// members it has (a buffer that grows at its last member copies the
// whole patch again).
func TestAppendReviewOneAllocation(t *testing.T) {
	jp := admissionv1.PatchTypeJSONPatch
	for _, resp := range []*admissionv1.AdmissionResponse{
		{UID: "705ab4f5-6393-11e8-b7cc-42010a800002", Allowed: true},
		{UID: "u", Allowed: false},
		{UID: "705ab4f5-6393-11e8-b7cc-42010a800002", Allowed: true, Patch: []byte(strings.Repeat("p", 1612)), PatchType: &jp},
		{UID: "u", Allowed: true, Patch: []byte("[]"), PatchType: &jp, Warnings: []string{"one warning", "another one"}},
		{UID: "u", Allowed: true, Warnings: []string{}},
	} {
		var out []byte
		allocs := testing.AllocsPerRun(1, func() { out, _ = appendReview(nil, resp) })
		if allocs != 1 {
			t.Errorf("%d bytes of review: %v allocations, want 1", len(out), allocs)
		}
	}
}

package admission

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/sidecarkit/sidecarkit/internal/leanpod"
	"github.com/sidecarkit/sidecarkit/patch"
)

// TestReadReviewLean: readReviewLean reads every review as readReview does
// (the same fields, the same object bytes, the same error), and decodes
// the object in place exactly when the request says before it that it is
// a Pod being created: the decode equals leanpod.Decode of the object; a
// Pod the lean decode gives way on is marked, and read as readReview
// reads it.
func TestReadReviewLean(t *testing.T) {
	const pod = `{"kind":"Pod","metadata":{"name":"web","annotations":{"a":"b"}},"spec":{"containers":[{"name":"app","image":"nginx","x-future":[1,{"y":2}]}]}}`
	const other = `{"kind":"Pod","spec":{"containers":[{"name":"other"}]}}`
	const refused = `{"kind":"Pod","spec":{"containers":[]},"spec":{"containers":[{"name":"app"}]}}` // a repeated spec: DecodeAs merges
	podKind := `"kind":{"group":"","version":"v1","kind":"Pod"}`
	review := func(request string) []byte {
		return []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u",` + request + `}}`)
	}
	for _, tc := range []struct {
		name               string
		body               []byte
		wantLean, wantFail bool
	}{
		{"the API server's order", review(podKind + `,"operation":"CREATE","object":` + pod), true, false},
		{"white space before the object", review(podKind + `,"operation":"CREATE","object":  ` + pod + ` `), true, false},
		{"the object before the kind", review(`"operation":"CREATE","object":` + pod + `,` + podKind), false, false},
		{"the object before the operation", review(podKind + `,"object":` + pod + `,"operation":"CREATE"`), false, false},
		{"an update", review(podKind + `,"operation":"UPDATE","object":` + pod), false, false},
		{"a subresource", review(podKind + `,"subResource":"status","operation":"CREATE","object":` + pod), false, false},
		{"another group", review(`"kind":{"group":"x.io","version":"v1","kind":"Pod"},"operation":"CREATE","object":` + pod), false, false},
		{"a Deployment", review(`"kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE","object":` + pod), false, false},
		{"a null object", review(podKind + `,"operation":"CREATE","object":null`), false, false},
		{"a Pod the lean decode gives way on", review(podKind + `,"operation":"CREATE","object":` + refused), false, true},
		{"a repeated object: the last one", review(podKind + `,"operation":"CREATE","object":` + other + `,"object":` + pod), true, false},
		{"a repeated object, the last one given way on", review(podKind + `,"operation":"CREATE","object":` + pod + `,"object":` + refused), false, true},
		{"a repeated request", []byte(`{"request":{"uid":"u",` + podKind + `,"operation":"CREATE","object":` + pod + `},"request":{"name":"n"}}`), true, false},
		{"a broken object", review(podKind + `,"operation":"CREATE","object":{"spec":{"containers":[}}`), false, false},
		{"a truncated object", []byte(`{"request":{"uid":"u",` + podKind + `,"operation":"CREATE","object":{"spec":{"containers":[{"name":"a"`), false, false},
		{"data after the review", append(review(podKind+`,"operation":"CREATE","object":`+pod), '}'), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := readReview(tc.body)
			got, err := readReviewLean(tc.body, &leanpod.Reads{})
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("error %v, readReview's %v", err, wantErr)
			}
			if err != nil {
				return
			}
			r := got.Request
			lean, failed := r.lean, r.leanFailed
			r.lean, r.leanFailed = nil, false
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read %+v\nreadReview's %+v", r, want.Request)
			}
			if (lean != nil) != tc.wantLean || failed != tc.wantFail {
				t.Fatalf("decoded in place %v, gave way %v; want %v, %v", lean != nil, failed, tc.wantLean, tc.wantFail)
			}
			if lean == nil {
				return
			}
			d, ok := leanpod.Decode(want.Request.Object, &leanpod.Reads{})
			if !ok {
				t.Fatal("leanpod.Decode gives way on the object decoded in place")
			}
			if !reflect.DeepEqual(lean, d.(*patch.Object)) {
				t.Errorf("decoded in place %+v\nleanpod.Decode %+v", lean, d)
			}
		})
	}
}

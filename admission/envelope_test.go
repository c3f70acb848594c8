package admission

import (
	"reflect"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// FuzzReadReview: on valid JSON, readReview reads exactly what a full
// decode with k8s.io/apimachinery's decoder reads, and fails exactly when
// it fails; on any input it never panics.
func FuzzReadReview(f *testing.F) {
	for _, s := range []string{
		`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":{"name":"a"},"spec":{}},"dryRun":false,"userInfo":{"username":"x","groups":["a","b"]},"options":null}}`,
		`{"request":null}`, `null`, `[]`, `5`, `{"request":[]}`, `{"request":{"uid":5}}`,
		`{"request":{"object":5,"object":{"a":"\u00e9\"}"}}}`, `{"request":{"uid":"a"},"request":{"name":"b"}}`,
		`{"re\u0071uest":{"uid":"esc"}}`, `{"Request":{"uid":"case"}}`, `{"request":{"kind":{"KIND":"Pod"}}}`,
		`{"a":[1,-2.5e3,true,false,null,{"b":[]}]}`, ` { } `, `{"a":1}x`, `{"a":[}`, `{"a":"`, `{"a":tru}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readReview(b)
		if !utiljsonValid(b) {
			return // lenient in skipped parts; refusing or reading is fine
		}
		var want reviewIn
		werr := utiljson.Unmarshal(b, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("readReview error %v, full decode error %v, for %q", err, werr, b)
		}
		if err != nil {
			return
		}
		if want.Request != nil && want.Request.Object != nil && got.Request != nil && string(got.Request.Object) == string(want.Request.Object) {
			got.Request.Object = want.Request.Object
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("readReview %+v\nfull decode %+v\nfor %q", got, want, b)
		}
	})
}

func utiljsonValid(b []byte) bool {
	var v interface{}
	return utiljson.Unmarshal(b, &v) == nil
}

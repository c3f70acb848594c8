package admission

import (
	"fmt"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/sidecarkit/sidecarkit/internal/jsonscan"
)

// readReview reads the fields of an AdmissionReview that Review needs
// without decoding, validating or copying the rest: the object stays a
// sub-slice of body (patch.DecodeAs validates and decodes it once), and
// userInfo, oldObject and options are skipped by a structural scan. The
// fields read are decoded with k8s.io/apimachinery's case-sensitive decoder,
// so their types are checked as strictly as before; keys match
// case-sensitively and the last of duplicate keys wins, as there. This is the admission
// path's fast path: a full decode of the review scans the object twice more
// (validation, then the copy of a json.RawMessage).
//
// The skipped parts are checked for structure (balanced brackets, complete
// strings, literals and number characters), not for every rule of JSON:
// the API server sends valid JSON, and anything malformed in the parts
// Review reads is still refused.
func readReview(body []byte) (reviewIn, error) {
	var in reviewIn
	err := jsonscan.Object(body, func(key []byte, v []byte) error {
		switch string(key) {
		case "apiVersion":
			return decodeField("apiVersion", v, &in.APIVersion)
		case "kind":
			return decodeField("kind", v, &in.Kind)
		case "request":
			if isNull(v) {
				in.Request = nil
				return nil
			}
			if in.Request == nil { // a repeated key merges, as encoding/json does
				in.Request = &requestIn{}
			}
			r := in.Request
			return jsonscan.Object(v, func(key []byte, v []byte) error {
				switch string(key) {
				case "uid":
					return decodeField("request.uid", v, &r.UID)
				case "kind":
					return decodeField("request.kind", v, &r.Kind)
				case "subResource":
					return decodeField("request.subResource", v, &r.SubResource)
				case "name":
					return decodeField("request.name", v, &r.Name)
				case "namespace":
					return decodeField("request.namespace", v, &r.Namespace)
				case "operation":
					return decodeField("request.operation", v, &r.Operation)
				case "dryRun":
					return decodeField("request.dryRun", v, &r.DryRun)
				case "object":
					r.Object = v
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return reviewIn{}, err
	}
	return in, nil
}

func decodeField(name string, v []byte, into interface{}) error {
	if p, ok := into.(*string); ok {
		if s, ok := jsonscan.PlainString(v); ok { // most are: no decoder
			*p = s
			return nil
		}
	}
	if err := utiljson.Unmarshal(v, into); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func isNull(v []byte) bool { return string(v) == "null" }

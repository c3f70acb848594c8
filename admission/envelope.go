package admission

import (
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/sidecarkit/sidecarkit/internal/jsonscan"
	"github.com/sidecarkit/sidecarkit/internal/leanpod"
	"github.com/sidecarkit/sidecarkit/patch"
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
func readReview(body []byte) (reviewIn, error) { return readReviewLean(body, nil) }

// readReviewLean is readReview that, when reads is not nil, also decodes
// request.object leanly in place (leanpod.DecodeAt) when what came before
// it in the request says it is a Pod being created (the API server writes
// uid, kind, subResource and operation before object), so that the object
// is scanned once instead of once here and once by the decode. The result
// is in request.lean; when the lean decode gives way, request.leanFailed
// is set and the object is read as readReview reads it. Which fields came
// first only decides whether to try: Webhook.decode uses request.lean only
// for a request whose kind is Pod, as it uses leanpod.Decode.
func readReviewLean(body []byte, reads *leanpod.Reads) (reviewIn, error) {
	var in reviewIn
	rd := jsonscan.NewReader(body)
	err := rd.Object(func(key []byte) error {
		switch string(key) {
		case "apiVersion", "kind":
			v, err := rd.Value()
			if err != nil {
				return err
			}
			if string(key) == "kind" {
				return decodeField("kind", v, &in.Kind)
			}
			return decodeField("apiVersion", v, &in.APIVersion)
		case "request":
			if rd.Next() == 'n' {
				in.Request = nil
				return nil // skipped: checked to be null
			}
			if in.Request == nil { // a repeated key merges, as encoding/json does
				in.Request = &requestIn{}
			}
			r := in.Request
			// Read in place, not as a value scanned again: the object is
			// most of the review.
			return rd.Object(func(key []byte) error {
				switch string(key) {
				case "object":
					r.lean, r.leanFailed = nil, false
					if reads != nil && r.Kind.Kind == "Pod" && r.Kind.Group == "" && r.Operation == "CREATE" && r.SubResource == "" && rd.Next() == '{' {
						start := rd.Offset()
						if o, ok := leanpod.DecodeAt(rd, reads); ok {
							r.Object, r.lean = rd.Since(start), o.(*patch.Object)
							return nil
						}
						rd.Seek(start)
						r.leanFailed = true
					}
				case "uid", "kind", "subResource", "name", "namespace", "operation", "dryRun":
				default:
					return nil
				}
				v, err := rd.Value()
				if err != nil {
					return err
				}
				switch string(key) {
				case "uid":
					return decodeField("request.uid", v, &r.UID)
				case "kind":
					if plainKind(v, &r.Kind) {
						return nil
					}
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
					if b := string(v); b == "true" || b == "false" { // most are: no decoder
						dry := b == "true"
						r.DryRun = &dry
						return nil
					}
					return decodeField("request.dryRun", v, &r.DryRun)
				case "object":
					r.Object = v
				}
				return nil
			})
		}
		return nil
	})
	if err == nil {
		err = rd.End()
	}
	if err != nil {
		return reviewIn{}, err
	}
	return in, nil
}

// plainKind sets into the members of the group/version/kind object v, as
// encoding/json does, when every member is a plain string
// (jsonscan.PlainString), and reports whether it did; it changes nothing
// otherwise.
func plainKind(v []byte, into *metav1.GroupVersionKind) bool {
	k := *into
	err := jsonscan.Object(v, func(key, v []byte) error {
		var at *string
		switch string(key) {
		case "group":
			at = &k.Group
		case "version":
			at = &k.Version
		case "kind":
			at = &k.Kind
		default:
			return errNotPlain
		}
		s, ok := jsonscan.PlainString(v)
		if !ok {
			return errNotPlain
		}
		*at = s
		return nil
	})
	if err != nil || isNull(v) {
		return false
	}
	*into = k
	return true
}

var errNotPlain = errors.New("not plain")

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

package admission

import (
	"encoding/json"
	"errors"
	"fmt"

	utiljson "k8s.io/apimachinery/pkg/util/json"
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
	s := scanner{b: body}
	err := s.object(func(key []byte, v []byte) error {
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
			rs := scanner{b: v}
			return rs.object(func(key []byte, v []byte) error {
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
	if err := utiljson.Unmarshal(v, into); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func isNull(v []byte) bool { return string(v) == "null" }

// scanner walks one JSON value in b.
type scanner struct {
	b []byte
	i int
}

var errTruncated = errors.New("unexpected end of JSON input")

func (s *scanner) errorf(format string, args ...interface{}) error {
	return fmt.Errorf("offset %d: %s", s.i, fmt.Sprintf(format, args...))
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object requires b to hold exactly one JSON object (or null, which calls
// nothing) and calls f with each member's raw key (between the quotes,
// escapes resolved) and raw value.
func (s *scanner) object(f func(key, value []byte) error) error {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		if err := s.value(); err != nil {
			return err
		}
		return s.end()
	}
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.errorf("want an object")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return s.end()
	}
	for {
		s.ws()
		start := s.i
		if err := s.str(); err != nil {
			return err
		}
		key := s.b[start+1 : s.i-1]
		for _, c := range key {
			if c == '\\' {
				var k string
				if err := json.Unmarshal(s.b[start:s.i], &k); err != nil {
					return s.errorf("key: %v", err)
				}
				key = []byte(k)
				break
			}
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.errorf("want ':' after an object key")
		}
		s.i++
		s.ws()
		vs := s.i
		if err := s.value(); err != nil {
			return err
		}
		if err := f(key, s.b[vs:s.i]); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return errTruncated
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return s.end()
		default:
			return s.errorf("want ',' or '}' after an object member")
		}
	}
}

// end requires nothing but white space after the value.
func (s *scanner) end() error {
	s.ws()
	if s.i != len(s.b) {
		return s.errorf("data after the top-level value")
	}
	return nil
}

// value skips one value, whose first byte is at s.i.
func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return errTruncated
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{' || c == '[':
		return s.nested()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.i
		for s.i < len(s.b) && isNumberByte(s.b[s.i]) {
			s.i++
		}
		if !json.Valid(s.b[start:s.i]) {
			return s.errorf("invalid number %q", s.b[start:s.i])
		}
		return nil
	default:
		return s.errorf("invalid character %q looking for a value", c)
	}
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.errorf("invalid literal, want %s", lit)
	}
	s.i += len(lit)
	return nil
}

// str skips a string; s.b[s.i] is its opening quote.
func (s *scanner) str() error {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return s.errorf("want a string")
	}
	s.i++
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			s.i += 2
		case c < 0x20:
			return s.errorf("control character in a string")
		default:
			s.i++
		}
	}
	return errTruncated
}

// nested skips an object or array, tracking the brackets on a stack so
// that a mismatched closer is an error.
func (s *scanner) nested() error {
	var stack []byte
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '{', '[':
			stack = append(stack, c)
			s.i++
		case '}', ']':
			open := byte('{')
			if c == ']' {
				open = '['
			}
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return s.errorf("mismatched %q", c)
			}
			stack = stack[:len(stack)-1]
			s.i++
			if len(stack) == 0 {
				return nil
			}
		case '"':
			if err := s.str(); err != nil {
				return err
			}
		case ' ', '\t', '\n', '\r', ',', ':':
			s.i++
		case 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			if err := s.value(); err != nil {
				return err
			}
		default:
			return s.errorf("invalid character %q", c)
		}
	}
	return errTruncated
}

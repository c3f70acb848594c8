// Package jsonscan reads JSON without decoding it: it walks the members
// of an object or the elements of an array and hands out their raw bytes,
// checking the structure (balanced brackets, complete strings, literals
// and number characters) but not every rule of JSON in what it skips. It
// is for reading a few members of a large document, such as an
// AdmissionReview's envelope or one container of a Pod, in time linear in
// the bytes it scans and without copying them.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Object requires b to hold exactly one JSON object (or null, for which f
// is not called) and calls f with each member's key (escapes resolved) and
// raw value, in document order. An error from f stops the walk and is
// returned.
func Object(b []byte, f func(key, value []byte) error) error {
	s := scanner{b: b}
	return s.object(f)
}

// Array requires b to hold exactly one JSON array (or null, for which f is
// not called) and calls f with each element's index and raw value. An
// error from f stops the walk and is returned.
func Array(b []byte, f func(i int, value []byte) error) error {
	s := scanner{b: b}
	return s.array(f)
}

// errStop ends a walk early.
var errStop = errors.New("stop")

// Find returns the raw value at the position named by tokens (object
// member names and array indices, unescaped JSON Pointer reference
// tokens) in the JSON value b, and whether there is one. Where an object
// repeats a key, Find reads it as encoding/json decodes into Go structs:
// a later array or scalar replaces what came before, and objects merge
// member by member.
func Find(b []byte, tokens []string) ([]byte, bool, error) {
	return find([][]byte{b}, tokens)
}

// find resolves tokens in the occurrences cands of one position, in
// document order.
func find(cands [][]byte, tokens []string) ([]byte, bool, error) {
	last := cands[len(cands)-1]
	if len(tokens) == 0 {
		return last, true, nil
	}
	if !isObject(last) {
		want, err := strconv.Atoi(tokens[0])
		if err != nil || want < 0 || strconv.Itoa(want) != tokens[0] || !isArray(last) {
			return nil, false, nil
		}
		var found []byte
		err = Array(last, func(i int, v []byte) error {
			if i == want {
				found = v
				return errStop
			}
			return nil
		})
		if err != nil && err != errStop {
			return nil, false, err
		}
		if found == nil {
			return nil, false, nil
		}
		return find([][]byte{found}, tokens[1:])
	}
	// The objects since the last value that was not one merge.
	first := len(cands) - 1
	for first > 0 && isObject(cands[first-1]) {
		first--
	}
	var next [][]byte
	for _, c := range cands[first:] {
		err := Object(c, func(key, v []byte) error {
			if string(key) == tokens[0] {
				next = append(next, v)
			}
			return nil
		})
		if err != nil {
			return nil, false, err
		}
	}
	if len(next) == 0 {
		return nil, false, nil
	}
	return find(next, tokens[1:])
}

func isArray(v []byte) bool { return firstByte(v) == '[' }

func isObject(v []byte) bool { return firstByte(v) == '{' }

func firstByte(v []byte) byte {
	for _, c := range v {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

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

// array requires b to hold exactly one JSON array (or null, which calls
// nothing) and calls f with each element's index and raw value.
func (s *scanner) array(f func(i int, value []byte) error) error {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		if err := s.value(); err != nil {
			return err
		}
		return s.end()
	}
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return s.errorf("want an array")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return s.end()
	}
	for i := 0; ; i++ {
		s.ws()
		vs := s.i
		if err := s.value(); err != nil {
			return err
		}
		if err := f(i, s.b[vs:s.i]); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return errTruncated
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return s.end()
		default:
			return s.errorf("want ',' or ']' after an array element")
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
		if bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key) {
			// Escapes resolved, and invalid UTF-8 replaced by U+FFFD, as
			// encoding/json reads keys.
			var k string
			if err := json.Unmarshal(s.b[start:s.i], &k); err != nil {
				return s.errorf("key: %v", err)
			}
			key = []byte(k)
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

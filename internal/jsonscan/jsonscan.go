// Package jsonscan reads JSON without decoding it: it walks the members
// of an object or the elements of an array and hands out their raw bytes,
// checking the structure (balanced brackets, complete strings, literals
// and number characters) but not every rule of JSON in what it skips. It
// is for reading a few members of a large document, such as an
// AdmissionReview's envelope or one container of a Pod, in time linear in
// the bytes it scans and without copying them. Object and Array hand out
// raw values; a Reader descends into the values its caller reads instead,
// so that nested reads scan each byte once.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
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

// A Reader walks one JSON value in document order, descending into the
// members and elements its caller reads and skipping the rest, so that
// each byte is scanned once however deep the caller reads (Object and
// Array hand out raw values, which a caller that descends scans again).
// It checks what Object and Array check.
type Reader struct{ s scanner }

// NewReader returns a Reader at the start of b, which must hold exactly
// one JSON value (see End).
func NewReader(b []byte) *Reader { return &Reader{s: scanner{b: b}} }

// Object requires the value at the reader's position to be an object (or
// null, for which f is not called) and calls f with each member's key
// (escapes resolved), in document order, the reader at the member's
// value. f reads the value with one call of Object, Array or Value, or
// does not read it, and then it is skipped. An error from f stops the walk
// and is returned.
func (r *Reader) Object(f func(key []byte) error) error { return r.s.members(f) }

// Array is Object for an array: f gets each element's index.
func (r *Reader) Array(f func(i int) error) error { return r.s.elements(f) }

// Value skips the value at the reader's position and returns its raw
// bytes.
func (r *Reader) Value() ([]byte, error) {
	r.s.ws()
	vs := r.s.i
	if err := r.s.value(); err != nil {
		return nil, err
	}
	return r.s.b[vs:r.s.i], nil
}

// Next returns the first byte of the value at the reader's position
// ('{', '[', '"', 'n', ...), or 0 at the end of the input, and moves the
// reader past the white space before it.
func (r *Reader) Next() byte {
	r.s.ws()
	if r.s.i >= len(r.s.b) {
		return 0
	}
	return r.s.b[r.s.i]
}

// Offset is the reader's position in its input; Since(Offset()) taken
// before a value is read gives the value's raw bytes after.
func (r *Reader) Offset() int { return r.s.i }

// Since returns the input from offset to the reader's position.
func (r *Reader) Since(offset int) []byte { return r.s.b[offset:r.s.i] }

// End requires nothing but white space after what was read.
func (r *Reader) End() error { return r.s.end() }

// Seek moves the reader to offset, a position Offset returned: a caller
// that read part of a value and gave up reads it again from its start.
func (r *Reader) Seek(offset int) { r.s.i = offset }

// Rest returns the number of bytes of the input after the current offset.
func (r *Reader) Rest() int { return len(r.s.b) - r.s.i }

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
	err := s.elements(func(i int) error {
		vs := s.i
		if err := s.value(); err != nil {
			return err
		}
		return f(i, s.b[vs:s.i])
	})
	if err != nil {
		return err
	}
	return s.end()
}

// elements walks the array (or null) at s.i, up to its closing bracket,
// and calls f with each element's index, s.i at the element. f reads the
// element (exactly one value, through s) or leaves s.i where it was, and
// then elements skips it.
func (s *scanner) elements(f func(i int) error) error {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		return s.value()
	}
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return s.errorf("want an array")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for i := 0; ; i++ {
		s.ws()
		vs := s.i
		if err := f(i); err != nil {
			return err
		}
		if s.i == vs {
			if err := s.value(); err != nil {
				return err
			}
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
			return nil
		default:
			return s.errorf("want ',' or ']' after an array element")
		}
	}
}

// object requires b to hold exactly one JSON object (or null, which calls
// nothing) and calls f with each member's raw key (between the quotes,
// escapes resolved) and raw value.
func (s *scanner) object(f func(key, value []byte) error) error {
	err := s.members(func(key []byte) error {
		vs := s.i
		if err := s.value(); err != nil {
			return err
		}
		return f(key, s.b[vs:s.i])
	})
	if err != nil {
		return err
	}
	return s.end()
}

// members walks the object (or null) at s.i, up to its closing brace, and
// calls f with each member's key (escapes resolved), s.i at the member's
// value. f reads the value (exactly one, through s) or leaves s.i where it
// was, and then members skips the value.
func (s *scanner) members(f func(key []byte) error) error {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == 'n' {
		return s.value()
	}
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return s.errorf("want an object")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		start := s.i
		plain, err := s.strPlain()
		if err != nil {
			return err
		}
		key := s.b[start+1 : s.i-1]
		if !plain && (bytes.IndexByte(key, '\\') >= 0 || !utf8.Valid(key)) {
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
		if err := f(key); err != nil {
			return err
		}
		if s.i == vs {
			if err := s.value(); err != nil {
				return err
			}
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
			return nil
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
		if !validNumber(s.b[start:s.i]) {
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
	_, err := s.strPlain()
	return err
}

// strPlain is str that also reports whether the string is plain ASCII
// without escapes (no backslash, no byte of 0x80 or above), whose content
// is exactly its bytes: an object key that is needs neither unescaping
// nor a UTF-8 check. Runs of plain bytes are skipped by a table lookup:
// strings are most of a Pod's bytes.
func (s *scanner) strPlain() (bool, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false, s.errorf("want a string")
	}
	b := s.b
	i := s.i + 1
	var high byte   // the bytes seen one at a time, or-ed: non-ASCII sets its high bit
	var wide uint64 // the same for the bytes seen eight at a time
	escaped := false
	for {
		// Eight bytes at a time up to the first special one (SWAR: a
		// byte below 0x20 or equal to a quote or backslash sets its high
		// bit in the mask; bytes of 0x80 and above are excluded by
		// "&^ x"). A borrow runs only upwards, so the mask's lowest bit
		// is the first special byte: the scan goes straight to it.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			const ones, highs = 0x0101010101010101, 0x8080808080808080
			q, bs := x^(ones*'"'), x^(ones*'\\')
			if m := ((x - ones*0x20) | (q-ones)&^q | (bs-ones)&^bs) &^ x & highs; m != 0 {
				p := bits.TrailingZeros64(m) >> 3
				wide |= x & (1<<(8*uint(p)) - 1)
				i += p
				break
			}
			wide |= x
			i += 8
		}
		if i >= len(b) {
			s.i = len(b)
			return false, errTruncated
		}
		c := b[i]
		switch {
		case !strSpecial[c]: // fewer than eight bytes are left
			high |= c
			i++
		case c == '"':
			s.i = i + 1
			return !escaped && high < 0x80 && wide&0x8080808080808080 == 0, nil
		case c == '\\':
			escaped = true
			i += 2
		default:
			s.i = i
			return false, s.errorf("control character in a string")
		}
	}
}

// strSpecial marks the bytes that end a run of plain string content: the
// quote, the backslash and the control characters.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// validNumber reports whether b is one JSON number (RFC 8259 section 6),
// as json.Valid would, without its per-call setup.
func validNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || !isDigit(b[i+1]) {
			return false
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		i = digits(b, i)
	}
	return i == len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits returns the index of the first byte at or after i that is not a
// digit.
func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// nested skips an object or array, tracking the brackets on a stack so
// that a mismatched closer is an error.
func (s *scanner) nested() error {
	var inline [64]byte // most documents nest less deeply: no allocation
	stack := inline[:0]
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

// PlainString returns the string that the JSON value v (as Object or Array
// hands it out) holds when it is a string of printable ASCII without
// escapes, which encoding/json decodes to exactly its bytes, and whether it
// is one. Any other value (an escape, other bytes, not a string) is for a
// full decoder.
func PlainString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	in := v[1 : len(v)-1]
	for _, c := range in {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", false
		}
	}
	if s, ok := common(in); ok {
		return s, true
	}
	return string(in), true
}

// common returns the string of in without allocating when it is one of
// the values most members of an AdmissionReview of a Pod hold (API
// versions, kinds, the operation, the defaults the API server sets): a
// switch on string(in) compares without converting.
func common(in []byte) (string, bool) {
	switch string(in) {
	case "v1":
		return "v1", true
	case "Pod":
		return "Pod", true
	case "CREATE":
		return "CREATE", true
	case "TCP":
		return "TCP", true
	case "Always":
		return "Always", true
	case "IfNotPresent":
		return "IfNotPresent", true
	case "ClusterFirst":
		return "ClusterFirst", true
	case "default-scheduler":
		return "default-scheduler", true
	case "File":
		return "File", true
	case "/dev/termination-log":
		return "/dev/termination-log", true
	case "default":
		return "default", true
	}
	return "", false
}

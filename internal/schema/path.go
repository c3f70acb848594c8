package schema

import (
	"encoding/json"
	"strconv"
	"strings"
)

// SegmentKind tells what a [Segment] selects.
type SegmentKind uint8

// The segment kinds. The zero SegmentKind is Member.
const (
	// Member selects an object member by name: ".image".
	Member SegmentKind = iota
	// Key selects the list element whose merge key has a value:
	// "[name=app]", "[containerPort=8080]".
	Key
	// Index selects a list element by position: "[2]". It is used for
	// lists without a merge key, and for elements whose key is missing,
	// not a string or number, or not unique in their list.
	Index
)

// Segment is one step of an identity [Path]. The zero Segment selects the
// member with the empty name.
type Segment struct {
	Kind SegmentKind
	// Name is the member name (Member) or the merge key (Key).
	Name string
	// Value is the merge key's value (Key): the string's content, or the
	// number's JSON text when Number is set.
	Value string
	// Number tells that Value is a JSON number, not a string.
	Number bool
	// Index is the element's position (Index).
	Index int
}

// MemberSegment returns the segment selecting member name.
func MemberSegment(name string) Segment { return Segment{Kind: Member, Name: name} }

// KeySegment returns the segment selecting the element whose merge key
// name has value (a string, or a number's JSON text when number is set).
func KeySegment(name, value string, number bool) Segment {
	return Segment{Kind: Key, Name: name, Value: value, Number: number}
}

// IndexSegment returns the segment selecting the element at position i.
func IndexSegment(i int) Segment { return Segment{Kind: Index, Index: i} }

// String renders s as it appears inside a [Path]: ".name" (or `["a/b"]`
// when the name is not made of letters, digits, '_', '$' and '-'),
// "[key=value]" (the value JSON-quoted unless it is a number or a plain
// string that cannot be mistaken for one), or "[i]".
func (s Segment) String() string {
	var b strings.Builder
	s.write(&b, false)
	return b.String()
}

func (s Segment) write(b *strings.Builder, first bool) {
	switch s.Kind {
	case Key:
		b.WriteByte('[')
		b.WriteString(s.Name)
		b.WriteByte('=')
		if s.Number || plainValue(s.Value) {
			b.WriteString(s.Value)
		} else {
			b.WriteString(quote(s.Value))
		}
		b.WriteByte(']')
	case Index:
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(s.Index))
		b.WriteByte(']')
	default:
		if !plainName(s.Name) {
			b.WriteByte('[')
			b.WriteString(quote(s.Name))
			b.WriteByte(']')
			return
		}
		if !first {
			b.WriteByte('.')
		}
		b.WriteString(s.Name)
	}
}

// Path is an identity path: the position of a value in an API object in
// which list elements are named by their merge key where they have one, for
// example spec.containers[name=app].volumeMounts[mountPath=/x].x-unknown.
// Unlike a JSON Pointer it does not change when elements are inserted
// before an element with a key. Its String form is unambiguous, so it can
// serve as a map key. The zero Path is the whole document.
type Path []Segment

// String renders p; the empty path renders as "".
func (p Path) String() string {
	var b strings.Builder
	for i, s := range p {
		s.write(&b, i == 0)
	}
	return b.String()
}

// Child returns a new path: p followed by s. It never shares memory with p.
func (p Path) Child(s Segment) Path {
	out := make(Path, len(p)+1)
	copy(out, p)
	out[len(p)] = s
	return out
}

// Equal reports whether p and q select the same position.
func (p Path) Equal(q Path) bool {
	return len(p) == len(q) && p.HasPrefix(q)
}

// HasPrefix reports whether q is p or an ancestor of p.
func (p Path) HasPrefix(q Path) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

// ElementSegments returns the identity segment of each of the n elements
// of a list of type t. key(i) returns the value of element i's merge-key
// member (as decoded JSON: string, json.Number, float64, ...) and whether
// the element is an object that has it. An element gets a Key segment when
// t has a merge key and the element's key is a string or number that no
// other element of the list shares; otherwise an Index segment.
func (t *Type) ElementSegments(n int, key func(i int) (interface{}, bool)) []Segment {
	segs := make([]Segment, n)
	mk := t.MergeKey()
	count := map[Segment]int{}
	for i := 0; i < n; i++ {
		segs[i] = IndexSegment(i)
		if mk == "" || key == nil {
			continue
		}
		v, ok := key(i)
		if !ok {
			continue
		}
		s, ok := keySegment(mk, v)
		if !ok {
			continue
		}
		segs[i] = s
		count[s]++
	}
	for i, s := range segs {
		if s.Kind == Key && count[s] > 1 {
			segs[i] = IndexSegment(i)
		}
	}
	return segs
}

// keySegment turns a decoded merge-key value into a Key segment.
func keySegment(name string, v interface{}) (Segment, bool) {
	switch x := v.(type) {
	case string:
		return KeySegment(name, x, false), true
	case json.Number:
		return KeySegment(name, string(x), true), true
	case float64:
		return KeySegment(name, strconv.FormatFloat(x, 'g', -1, 64), true), true
	case int:
		return KeySegment(name, strconv.Itoa(x), true), true
	case int64:
		return KeySegment(name, strconv.FormatInt(x, 10), true), true
	}
	return Segment{}, false
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '_' || c == '$' || c == '-') {
			return false
		}
	}
	return true
}

func plainValue(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || strings.IndexByte("_./:@-", c) >= 0) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// quote returns s as a JSON string.
func quote(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return string(b)
}

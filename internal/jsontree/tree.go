// Package jsontree is a mutable JSON document that remembers where each of
// its nodes came from.
//
// A tree decoded from the original document is copied with [Node.Track];
// RFC 6902 operations applied to the copy with [Apply] keep each surviving
// node's link to its original ([Node.Origin]) and record which operation
// last moved or changed it. Apply follows github.com/evanphx/json-patch
// (strconv.Atoi array indices, no negative indices, "-" only as the last
// token of add, copy and move), so a caller can check its result against
// that library.
package jsontree

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
)

// Kind is the JSON type of a [Node]. The zero Kind is Null.
type Kind uint8

// The JSON types.
const (
	Null Kind = iota
	Bool
	Number
	String
	Object
	Array
)

var kindNames = [...]string{"null", "boolean", "number", "string", "object", "array"}

// String returns the JSON name of k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Node is one JSON value. The zero Node is null. A nil *Node is treated as
// absent by the accessors.
type Node struct {
	kind    Kind
	scalar  string           // Bool, Number: JSON text; String: content
	keys    []string         // Object: member names in document order
	members map[string]*Node // Object
	elems   []*Node          // Array

	origin  *Node // node of the tracked original; nil if created by an op
	moved   int   // 1 + index of the last op that moved this node
	touched int   // 1 + index of the last op that changed this node or below
}

// NewString returns a string node.
func NewString(s string) *Node { return &Node{kind: String, scalar: s} }

// NewBool returns a boolean node.
func NewBool(b bool) *Node { return &Node{kind: Bool, scalar: strconv.FormatBool(b)} }

// Kind returns n's JSON type; Null for a nil n.
func (n *Node) Kind() Kind {
	if n == nil {
		return Null
	}
	return n.kind
}

// Text returns the content of a string, the JSON text of a number or
// boolean, and "" otherwise.
func (n *Node) Text() string {
	if n == nil {
		return ""
	}
	return n.scalar
}

// Keys returns the member names of an object in document order. The slice
// must not be modified.
func (n *Node) Keys() []string {
	if n.Kind() != Object {
		return nil
	}
	return n.keys
}

// Member returns member k of an object and whether it exists.
func (n *Node) Member(k string) (*Node, bool) {
	if n.Kind() != Object {
		return nil, false
	}
	m, ok := n.members[k]
	return m, ok
}

// Len returns the number of elements of an array or members of an object.
func (n *Node) Len() int {
	switch n.Kind() {
	case Array:
		return len(n.elems)
	case Object:
		return len(n.keys)
	}
	return 0
}

// Elem returns element i of an array, or nil when out of range.
func (n *Node) Elem(i int) *Node {
	if n.Kind() != Array || i < 0 || i >= len(n.elems) {
		return nil
	}
	return n.elems[i]
}

// Origin returns the node of the tracked original document that n was
// copied from by [Node.Track], or nil for a node that an operation created
// (including the result of a copy operation).
func (n *Node) Origin() *Node {
	if n == nil {
		return nil
	}
	return n.origin
}

// Moved returns the index of the last operation that moved n, or -1.
func (n *Node) Moved() int {
	if n == nil {
		return -1
	}
	return n.moved - 1
}

// Touched returns the index of the last operation that changed n or a node
// beneath it, or -1.
func (n *Node) Touched() int {
	if n == nil {
		return -1
	}
	return n.touched - 1
}

// Track returns a deep copy of n whose every node has its counterpart in n
// as Origin.
func (n *Node) Track() *Node {
	return n.copyTree(true)
}

// Clone returns a deep copy of n without origins, as a copy operation
// creates.
func (n *Node) Clone() *Node {
	return n.copyTree(false)
}

func (n *Node) copyTree(track bool) *Node {
	if n == nil {
		return nil
	}
	c := &Node{kind: n.kind, scalar: n.scalar}
	if track {
		c.origin = n
	}
	switch n.kind {
	case Object:
		c.keys = append([]string(nil), n.keys...)
		c.members = make(map[string]*Node, len(n.members))
		for k, v := range n.members {
			c.members[k] = v.copyTree(track)
		}
	case Array:
		c.elems = make([]*Node, len(n.elems))
		for i, e := range n.elems {
			c.elems[i] = e.copyTree(track)
		}
	}
	return c
}

// Walk calls fn for n and every node beneath it, parents first.
func (n *Node) Walk(fn func(*Node)) {
	if n == nil {
		return
	}
	fn(n)
	switch n.kind {
	case Object:
		for _, k := range n.keys {
			n.members[k].Walk(fn)
		}
	case Array:
		for _, e := range n.elems {
			e.Walk(fn)
		}
	}
}

// Equal reports whether a and b are the same JSON value: same types, equal
// strings and booleans, numbers with the same text, objects with the same
// members in any order, arrays with equal elements in order.
func Equal(a, b *Node) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case Null:
		return true
	case Object:
		if len(a.keys) != len(b.keys) {
			return false
		}
		for k, v := range a.members {
			w, ok := b.members[k]
			if !ok || !Equal(v, w) {
				return false
			}
		}
		return true
	case Array:
		if len(a.elems) != len(b.elems) {
			return false
		}
		for i := range a.elems {
			if !Equal(a.elems[i], b.elems[i]) {
				return false
			}
		}
		return true
	}
	return a.scalar == b.scalar
}

// Interface returns n as a generic value: map[string]interface{},
// []interface{}, string, json.Number, bool or nil.
func (n *Node) Interface() interface{} {
	switch n.Kind() {
	case Bool:
		return n.scalar == "true"
	case Number:
		return json.Number(n.scalar)
	case String:
		return n.scalar
	case Object:
		m := make(map[string]interface{}, len(n.keys))
		for _, k := range n.keys {
			m[k] = n.members[k].Interface()
		}
		return m
	case Array:
		l := make([]interface{}, len(n.elems))
		for i, e := range n.elems {
			l[i] = e.Interface()
		}
		return l
	}
	return nil
}

// MarshalJSON encodes n compactly, object members in document order.
func (n *Node) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	n.encode(&b)
	return b.Bytes(), nil
}

func (n *Node) encode(b *bytes.Buffer) {
	switch n.Kind() {
	case Null:
		b.WriteString("null")
	case Bool, Number:
		b.WriteString(n.scalar)
	case String:
		s, _ := json.Marshal(n.scalar)
		b.Write(s)
	case Object:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			s, _ := json.Marshal(k)
			b.Write(s)
			b.WriteByte(':')
			n.members[k].encode(b)
		}
		b.WriteByte('}')
	case Array:
		b.WriteByte('[')
		for i, e := range n.elems {
			if i > 0 {
				b.WriteByte(',')
			}
			e.encode(b)
		}
		b.WriteByte(']')
	}
}

// SortedKeys returns the member names of an object, sorted.
func (n *Node) SortedKeys() []string {
	keys := append([]string(nil), n.Keys()...)
	sort.Strings(keys)
	return keys
}

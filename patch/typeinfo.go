package patch

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/jsonptr"
)

// typeNode is what Diff needs to know of a type, computed once per type:
// whether values are compared whole, and the nodes of its members and
// elements, so that the walk does no type lookups.
type typeNode struct {
	kind reflect.Kind
	// leaf: values are compared and encoded whole (isLeaf).
	leaf bool
	// cmp says how leafEqual compares two leaves of this type.
	cmp leafCmp
	// plain: a leaf that encoding/json writes as the scalar it is (a
	// string, bool or integer kind without an encoding of its own).
	plain bool
	// marshals: the type has a MarshalJSON method; byValue: on values,
	// not only on pointers.
	marshals, byValue bool
	// encodable: a struct whose fields are the members encoding/json
	// writes, in its order (appendJSON); a map keyed by a string kind.
	encodable bool
	// cheapZero: reflect's IsZero is one comparison with the zero value
	// (a comparable struct of at most 1 KiB), not a walk of the members.
	cheapZero bool
	// fields are a struct's JSON members, anonymous structs flattened as
	// encoding/json does.
	fields []fieldInfo
	// embeds are the indices of the anonymous structs that fields were
	// flattened from (fieldInfo.embed).
	embeds [][]int
	// elem is the node of a pointer's, list's or map's element.
	elem *typeNode
}

// fieldInfo describes one JSON member of a struct type.
type fieldInfo struct {
	index []int
	// last is index's last element, the member's index in its own struct,
	// and embed that struct: -1 for the struct itself, else the struct at
	// the node's embeds[embed].
	last      int
	embed     int
	name      string // JSON name, unescaped
	tok       string // name as a JSON pointer token
	member    string // `"name":`, as encoding/json writes the member's name
	omitEmpty bool
	node      *typeNode
	// key is the index, in the element struct, of a list field's merge key
	// (its patchMergeKey tag); nil for other fields.
	key []int
}

var podSpecType = reflect.TypeOf(corev1.PodSpec{})

// nodes maps a reflect.Type to its complete *typeNode. Like encoding/json's
// field cache it holds only data derived from types, so it is safe to
// share and never changes what a call returns.
var nodes sync.Map

var (
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// nodeOf returns the node of t. The graph is built whole (recursive types
// included) before it is shared.
func nodeOf(t reflect.Type) *typeNode {
	if n, ok := nodes.Load(t); ok {
		return n.(*typeNode)
	}
	n := buildNode(t, map[reflect.Type]*typeNode{})
	got, _ := nodes.LoadOrStore(t, n)
	return got.(*typeNode)
}

func buildNode(t reflect.Type, building map[reflect.Type]*typeNode) *typeNode {
	if n, ok := building[t]; ok {
		return n
	}
	n := &typeNode{kind: t.Kind(), leaf: isLeaf(t), cmp: leafCmpOf(t),
		cheapZero: t.Kind() == reflect.Struct && t.Comparable() && t.Size() <= 1024}
	building[t] = n
	if n.leaf {
		n.plain = !hasEncoding(t) && (n.cmp == cmpString || n.cmp == cmpBool || n.cmp == cmpInt || n.cmp == cmpUint)
		n.byValue = t.Implements(marshalerType)
		n.marshals = n.byValue || reflect.PtrTo(t).Implements(marshalerType)
		return n
	}
	switch t.Kind() {
	case reflect.Struct:
		collectFields(t, nil, -1, n, building)
		n.encodable = fieldsAsJSON(t, n.fields)
	case reflect.Map:
		n.encodable = t.Key().Kind() == reflect.String
		n.elem = buildNode(t.Elem(), building)
	case reflect.Ptr, reflect.Slice, reflect.Array:
		n.elem = buildNode(t.Elem(), building)
	}
	return n
}

// collectFields appends the JSON members of struct t to n.fields; prefix is
// the index of t in n's struct and embed its index in n.embeds (nil and -1
// for n's struct itself).
func collectFields(t reflect.Type, prefix []int, embed int, n *typeNode, building map[reflect.Type]*typeNode) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		index := make([]int, len(prefix)+1)
		copy(index, prefix)
		index[len(prefix)] = i
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Struct {
				n.embeds = append(n.embeds, index)
				collectFields(ft, index, len(n.embeds)-1, n, building)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		n.fields = append(n.fields, fieldInfo{
			index:     index,
			last:      i,
			embed:     embed,
			name:      name,
			tok:       jsonptr.Escape(name),
			member:    `"` + name + `":`,
			omitEmpty: hasOpt(opts, "omitempty"),
			node:      buildNode(sf.Type, building),
			key:       mergeKeyIndex(sf.Type, sf.Tag.Get("patchMergeKey"), building),
		})
	}
}

// mergeKeyIndex returns the index of the member named key in the element
// struct of list type t, or nil. (An element type still being built, in a
// recursive type, has no fields yet: its lists are then diffed by index,
// which is correct, only less precise.)
func mergeKeyIndex(t reflect.Type, key string, building map[reflect.Type]*typeNode) []int {
	if key == "" || (t.Kind() != reflect.Slice && t.Kind() != reflect.Array) || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	for _, f := range buildNode(t.Elem(), building).fields {
		if f.name == key {
			return f.index
		}
	}
	return nil
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// leafCmp is how two leaves of a type are compared.
type leafCmp uint8

const (
	cmpOther  leafCmp = iota // leafEqual's general case
	cmpString                // a string kind
	cmpBool                  // a bool kind
	cmpInt                   // a signed integer kind
	cmpUint                  // an unsigned integer kind
)

// leafCmpOf returns how leaves of type t are compared: leafEqual's cases,
// chosen once per type.
func leafCmpOf(t reflect.Type) leafCmp {
	switch t.Kind() {
	case reflect.String:
		return cmpString
	case reflect.Bool:
		return cmpBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cmpInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return cmpUint
	}
	return cmpOther
}

// fieldsAsJSON reports whether fields, collected from struct t, are the
// members encoding/json writes for t, in its order, with their names
// written as they are: no anonymous member that encoding/json treats
// otherwise than collectFields (an embedded pointer, a tagged anonymous
// struct), no member option that changes the encoding ("string",
// "omitzero"), no two members of one name (encoding/json's dominance
// rules) and names of letters, digits, '-' and '_' only, which JSON
// writes unescaped and encoding/json accepts as tags.
func fieldsAsJSON(t reflect.Type, fields []fieldInfo) bool {
	if !anonymousAsJSON(t) {
		return false
	}
	for i := range fields {
		f := &fields[i]
		if !simpleName(f.name) {
			return false
		}
		for j := 0; j < i; j++ {
			if fields[j].name == f.name {
				return false
			}
		}
	}
	return true
}

// anonymousAsJSON reports whether every anonymous member of struct t, and
// of the structs it embeds, is an untagged struct (flattened by both
// collectFields and encoding/json) or an exported non-struct (a member by
// its type's name for both) or an unexported non-struct (ignored by
// both), and no member has the options "string" or "omitzero".
func anonymousAsJSON(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if hasOpt(opts, "string") || hasOpt(opts, "omitzero") {
			return false
		}
		if !sf.Anonymous {
			continue
		}
		ft := sf.Type
		switch {
		case ft.Kind() == reflect.Struct && name == "":
			if !anonymousAsJSON(ft) {
				return false
			}
		case ft.Kind() == reflect.Struct, ft.Kind() == reflect.Ptr:
			return false
		}
	}
	return true
}

func simpleName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// hasEncoding reports whether t, or a pointer to it, has its own JSON or
// text encoding.
func hasEncoding(t reflect.Type) bool {
	return t.Implements(marshalerType) || reflect.PtrTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PtrTo(t).Implements(textMarshalerType)
}

// isLeaf reports whether values of t are compared and encoded whole: types
// with their own JSON or text encoding (resource.Quantity, metav1.Time,
// intstr.IntOrString), scalars, interfaces and byte slices.
func isLeaf(t reflect.Type) bool {
	if hasEncoding(t) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Ptr:
		return false
	case reflect.Slice, reflect.Array:
		return t.Elem().Kind() == reflect.Uint8
	}
	return true
}

// isEmpty is encoding/json's notion of an empty value for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Ptr:
		return v.IsNil()
	}
	return false
}

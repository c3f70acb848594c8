package schema

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
)

// Kind is the JSON shape of a [Type].
type Kind uint8

// The shapes. The zero Kind is Unknown: a position the compiled types do
// not describe.
const (
	// Unknown is a member the compiled types do not have. Everything
	// beneath it is unknown too.
	Unknown Kind = iota
	// Leaf is a value encoded whole: a scalar, a byte slice, an interface,
	// or a type with its own JSON or text encoding. Its content is opaque
	// and known.
	Leaf
	// Struct is a JSON object with a fixed set of members.
	Struct
	// Map is a JSON object whose every member is data of one [Type.Elem].
	Map
	// List is a JSON array of [Type.Elem], possibly keyed by a merge key.
	List
)

var kindNames = [...]string{"unknown", "leaf", "struct", "map", "list"}

// String returns the lower-case name of k.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Type is the JSON shape of a Go type at one position of an API object.
// A Type graph is built once by [Of] or [ForKind] and never changes, so it
// is safe for concurrent use. A nil *Type is valid and is Unknown: it has
// no fields, no element and no merge key.
type Type struct {
	kind     Kind
	name     string           // Go type, for messages
	fields   map[string]*Type // Struct: JSON member name -> type
	elem     *Type            // List, Map: element or value type
	mergeKey string           // List: the patchMergeKey tag of its field
}

// Of returns the schema of the Go value v (for example corev1.PodSpec{} or
// &appsv1.Deployment{}). It reflects over every type reachable from v once.
func Of(v interface{}) *Type {
	t := reflect.TypeOf(v)
	if t == nil {
		return nil
	}
	b := builder{seen: map[reflect.Type]*Type{}}
	return b.build(t)
}

// Kind returns the shape of t; Unknown for a nil t.
func (t *Type) Kind() Kind {
	if t == nil {
		return Unknown
	}
	return t.kind
}

// String returns the Go type name t was built from, or "unknown".
func (t *Type) String() string {
	if t == nil {
		return "unknown"
	}
	return t.name
}

// Field returns the type of member name of a Struct, the value type of
// any member of a Map, and nil (Unknown) otherwise or when a Struct has
// no such member.
func (t *Type) Field(name string) *Type {
	switch t.Kind() {
	case Struct:
		return t.fields[name]
	case Map:
		return t.elem
	}
	return nil
}

// Fields returns the member names of a Struct, sorted; nil otherwise.
func (t *Type) Fields() []string {
	if t.Kind() != Struct {
		return nil
	}
	names := make([]string, 0, len(t.fields))
	for n := range t.fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Elem returns the element type of a List or the value type of a Map, and
// nil otherwise.
func (t *Type) Elem() *Type {
	switch t.Kind() {
	case List, Map:
		return t.elem
	}
	return nil
}

// MergeKey returns the patchMergeKey of a List ("name" for containers,
// "mountPath" for volumeMounts, "containerPort" for ports) and "" for an
// unkeyed list or any other type.
func (t *Type) MergeKey() string {
	if t.Kind() != List {
		return ""
	}
	return t.mergeKey
}

// Lookup follows member names from t, stepping into list elements on the
// way, and returns the type found or nil. For example, on a Pod,
// Lookup("spec", "containers", "volumeMounts").MergeKey() is "mountPath".
func (t *Type) Lookup(names ...string) *Type {
	for _, n := range names {
		for t.Kind() == List {
			t = t.elem
		}
		t = t.Field(n)
		if t == nil {
			return nil
		}
	}
	return t
}

var (
	jsonMarshaler   = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	textMarshaler   = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// builder turns Go types into Types. seen memoises structs and maps so that
// shared and recursive types are built once.
type builder struct {
	seen map[reflect.Type]*Type
}

func (b *builder) build(t reflect.Type) *Type {
	for t.Kind() == reflect.Ptr {
		t = t.Elem()
	}
	if isLeaf(t) {
		return &Type{kind: Leaf, name: t.String()}
	}
	if s, ok := b.seen[t]; ok {
		return s
	}
	switch t.Kind() {
	case reflect.Struct:
		s := &Type{kind: Struct, name: t.String(), fields: map[string]*Type{}}
		b.seen[t] = s
		b.structFields(s, t)
		return s
	case reflect.Map:
		m := &Type{kind: Map, name: t.String()}
		b.seen[t] = m
		m.elem = b.build(t.Elem())
		return m
	case reflect.Slice, reflect.Array:
		return &Type{kind: List, name: t.String(), elem: b.build(t.Elem())}
	}
	return &Type{kind: Leaf, name: t.String()}
}

// isLeaf reports whether JSON values of t are encoded whole.
func isLeaf(t reflect.Type) bool {
	pt := reflect.PtrTo(t)
	for _, i := range []reflect.Type{jsonMarshaler, jsonUnmarshaler, textMarshaler, textUnmarshaler} {
		if t.Implements(i) || pt.Implements(i) {
			return true
		}
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return false
	case reflect.Slice, reflect.Array:
		return t.Elem().Kind() == reflect.Uint8
	}
	return true
}

// field is one JSON member found while flattening a struct.
type field struct {
	name     string
	depth    int
	tagged   bool
	typ      reflect.Type
	mergeKey string
}

// structFields fills s with the JSON members of struct t, following
// encoding/json: untagged embedded structs (and `json:",inline"` ones) are
// flattened, `json:"-"` and unexported members are skipped, and when two
// members share a name the shallowest wins, a tagged one over an untagged
// one at equal depth; an unresolvable tie drops the name.
func (b *builder) structFields(s *Type, t reflect.Type) {
	var all []field
	collect(t, 0, map[reflect.Type]bool{}, &all)
	byName := map[string][]field{}
	var order []string
	for _, f := range all {
		if _, ok := byName[f.name]; !ok {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	for _, name := range order {
		f, ok := dominant(byName[name])
		if !ok {
			continue
		}
		ft := b.build(f.typ)
		if ft.kind == List && f.mergeKey != "" {
			ft = &Type{kind: List, name: ft.name, elem: ft.elem, mergeKey: f.mergeKey}
		}
		s.fields[name] = ft
	}
}

func collect(t reflect.Type, depth int, visiting map[reflect.Type]bool, out *[]field) {
	if visiting[t] {
		return
	}
	visiting[t] = true
	defer delete(visiting, t)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name := tag
		if j := strings.IndexByte(tag, ','); j >= 0 {
			name = tag[:j]
		}
		if sf.Anonymous {
			ft := sf.Type
			if ft.Kind() == reflect.Ptr {
				ft = ft.Elem()
			}
			if !sf.IsExported() && ft.Kind() != reflect.Struct {
				continue
			}
			if name == "" && ft.Kind() == reflect.Struct {
				collect(ft, depth+1, visiting, out)
				continue
			}
		} else if !sf.IsExported() {
			continue
		}
		tagged := name != ""
		if !tagged {
			name = sf.Name
		}
		*out = append(*out, field{name: name, depth: depth, tagged: tagged, typ: sf.Type, mergeKey: sf.Tag.Get("patchMergeKey")})
	}
}

// dominant applies encoding/json's rule to members sharing one name.
func dominant(fs []field) (field, bool) {
	least := fs[0].depth
	for _, f := range fs[1:] {
		if f.depth < least {
			least = f.depth
		}
	}
	var top []field
	for _, f := range fs {
		if f.depth == least {
			top = append(top, f)
		}
	}
	if len(top) == 1 {
		return top[0], true
	}
	var tagged []field
	for _, f := range top {
		if f.tagged {
			tagged = append(tagged, f)
		}
	}
	if len(tagged) == 1 {
		return tagged[0], true
	}
	return field{}, false
}

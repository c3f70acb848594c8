package schema

import (
	"encoding/json"
	"sort"
)

// UnknownField is a member that the compiled types do not know, with its
// identity path and value. The zero UnknownField is an unknown member with
// the empty name at the root and no value.
type UnknownField struct {
	// Path is the identity path of the member; its last segment is a
	// Member.
	Path Path
	// Value is the member's value as compact JSON with object keys
	// sorted, so equal values have equal bytes.
	Value json.RawMessage
}

// Unknowns returns every member of doc that t does not know, outermost
// only (nothing beneath an unknown member is listed separately), in
// document order with object members sorted by name. doc is a generic
// decoded JSON value (map[string]interface{}, []interface{}, string,
// json.Number or float64, bool, nil). A value whose JSON shape does not
// match t (a string where t expects an object) is opaque: nothing in it is
// listed. A nil t (Unknown) lists nothing: the caller decides that doc
// itself is unknown.
func (t *Type) Unknowns(doc interface{}) []UnknownField {
	var out []UnknownField
	walkUnknown(t, nil, doc, &out)
	return out
}

func walkUnknown(t *Type, p Path, v interface{}, out *[]UnknownField) {
	switch t.Kind() {
	case Struct:
		m, ok := v.(map[string]interface{})
		if !ok {
			return
		}
		for _, k := range sortedKeys(m) {
			ft := t.Field(k)
			if ft == nil {
				*out = append(*out, UnknownField{Path: p.Child(MemberSegment(k)), Value: Canonical(m[k])})
				continue
			}
			walkUnknown(ft, p.Child(MemberSegment(k)), m[k], out)
		}
	case Map:
		m, ok := v.(map[string]interface{})
		if !ok {
			return
		}
		for _, k := range sortedKeys(m) {
			walkUnknown(t.elem, p.Child(MemberSegment(k)), m[k], out)
		}
	case List:
		l, ok := v.([]interface{})
		if !ok {
			return
		}
		segs := t.ElementSegments(len(l), func(i int) (interface{}, bool) {
			m, ok := l[i].(map[string]interface{})
			if !ok {
				return nil, false
			}
			k, ok := m[t.mergeKey]
			return k, ok
		})
		for i, e := range l {
			walkUnknown(t.elem, p.Child(segs[i]), e, out)
		}
	}
}

// Canonical encodes a generic JSON value compactly with object keys
// sorted. Values that encoding/json cannot encode (NaN) yield "null".
func Canonical(v interface{}) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package patch

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"

	"github.com/sidecarkit/sidecarkit/internal/jsonstr"
)

// maxEncodeDepth bounds appendJSON's nesting. The API's types nest a few
// levels; a deeper value (a pointer cycle among them) is left to
// encoding/json, which reports cycles.
const maxEncodeDepth = 100

// appendJSON appends v, a value of type n, as json.Marshal encodes it
// (addressable v as json.Marshal(v.Addr().Interface()), else as
// json.Marshal(v.Interface())), without encoding/json's per-call setup
// and its boxing of each value. Diff encodes every value it adds, often
// whole containers; the walk already has each type's members.
//
// It writes structs, pointers, lists and string-keyed maps itself, and
// strings, booleans and integers without encodings of their own, in
// encoding/json's words (jsonstr for strings) and order (members in
// field order, map keys sorted). A leaf with a MarshalJSON method
// (resource.Quantity, intstr.IntOrString, metav1.Time) is written from
// its output when that is a plain string or integer, which encoding/json
// copies as it is. Any other leaf (other encodings, floats, interfaces,
// byte slices) goes to encoding/json alone. ok is false when
// a value cannot be written so (a struct whose members encoding/json
// would see otherwise, a map with other keys, an encoding error, too deep
// a value): the caller then encodes v with encoding/json, whose output
// or error is the reference.
func appendJSON(b []byte, v reflect.Value, n *typeNode, depth int) (_ []byte, ok bool) {
	if depth > maxEncodeDepth {
		return b, false
	}
	if n.leaf {
		return appendLeaf(b, v, n)
	}
	switch n.kind {
	case reflect.Ptr:
		if v.IsNil() {
			return append(b, "null"...), true
		}
		return appendJSON(b, v.Elem(), n.elem, depth+1)
	case reflect.Struct:
		if !n.encodable {
			return b, false
		}
		b = append(b, '{')
		first := true
		var e reflect.Value // the anonymous struct at n.embeds[embed]
		embed := -1
		for i := range n.fields {
			f := &n.fields[i]
			var fv reflect.Value
			if f.embed < 0 {
				fv = v.Field(f.last)
			} else {
				if f.embed != embed {
					embed = f.embed
					e = v.FieldByIndex(n.embeds[embed])
				}
				fv = e.Field(f.last)
			}
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, f.member...)
			if b, ok = appendJSON(b, fv, f.node, depth+1); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case reflect.Map:
		if !n.encodable {
			return b, false
		}
		if v.IsNil() {
			return append(b, "null"...), true
		}
		// The keys as strings, sorted as encoding/json sorts them, read
		// and looked up through one key value (no copy per key).
		k := reflect.New(v.Type().Key()).Elem()
		keys := make([]string, 0, v.Len())
		for iter := v.MapRange(); iter.Next(); {
			k.SetIterKey(iter)
			keys = append(keys, k.String())
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, ks := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, ks)
			b = append(b, ':')
			k.SetString(ks)
			if b, ok = appendJSON(b, v.MapIndex(k), n.elem, depth+1); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	case reflect.Slice, reflect.Array:
		if n.kind == reflect.Slice && v.IsNil() {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, l := 0, v.Len(); i < l; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendJSON(b, v.Index(i), n.elem, depth+1); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return b, false
}

// appendLeaf appends leaf v of type n as encoding/json writes it.
func appendLeaf(b []byte, v reflect.Value, n *typeNode) ([]byte, bool) {
	if n.plain {
		switch n.cmp {
		case cmpString:
			return jsonstr.Append(b, v.String()), true
		case cmpBool:
			return strconv.AppendBool(b, v.Bool()), true
		case cmpInt:
			return strconv.AppendInt(b, v.Int(), 10), true
		case cmpUint:
			return strconv.AppendUint(b, v.Uint(), 10), true
		}
	}
	if n.marshals && n.kind != reflect.Ptr && n.kind != reflect.Interface {
		// encoding/json calls MarshalJSON (through the value's address
		// when it has one, else only a method on values) and copies its
		// output, compacted and HTML-escaped, which leaves a plain
		// string or integer as it is.
		var m json.Marshaler
		if v.CanAddr() {
			m, _ = v.Addr().Interface().(json.Marshaler)
		} else if n.byValue {
			m, _ = v.Interface().(json.Marshaler)
		}
		if m != nil {
			if enc, err := m.MarshalJSON(); err == nil && plainJSON(enc) {
				return append(b, enc...), true
			}
		}
	}
	enc, err := encodeJSON(v)
	if err != nil {
		return b, false
	}
	return append(b, enc...), true
}

// plainJSON reports whether b is JSON that encoding/json's compaction
// with HTML escaping leaves as it is: a string of printable ASCII without
// quotes, backslashes, '<', '>' or '&' inside, an integer, or null.
func plainJSON(b []byte) bool {
	switch {
	case len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"':
		return jsonstr.Plain(string(b[1 : len(b)-1]))
	case string(b) == "null":
		return true
	}
	i := 0
	if len(b) > 0 && b[0] == '-' {
		i++
	}
	switch {
	case i == len(b):
		return false
	case b[i] == '0':
		return i+1 == len(b)
	}
	for ; i < len(b); i++ {
		if b[i] < '0' || b[i] > '9' {
			return false
		}
	}
	return true
}

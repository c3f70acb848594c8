package patch

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// fieldInfo describes one JSON member of a struct type.
type fieldInfo struct {
	index     []int
	name      string // JSON name, unescaped
	omitEmpty bool
	mergeKey  string // patchMergeKey tag of a list field
	atomic    bool   // the JSON form of the field is never partially patched
}

// typeCache maps a struct reflect.Type to its []fieldInfo. Like
// encoding/json's field cache it holds only data derived from types, so it
// is safe to share and never changes what a call returns.
var typeCache sync.Map

var (
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
)

// fields returns the JSON members of struct type t, with anonymous structs
// flattened as encoding/json does.
func fields(t reflect.Type) []fieldInfo {
	if f, ok := typeCache.Load(t); ok {
		return f.([]fieldInfo)
	}
	var out []fieldInfo
	collectFields(t, nil, &out)
	f, _ := typeCache.LoadOrStore(t, out)
	return f.([]fieldInfo)
}

func collectFields(t reflect.Type, prefix []int, out *[]fieldInfo) {
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
				collectFields(ft, index, out)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		*out = append(*out, fieldInfo{
			index:     index,
			name:      name,
			omitEmpty: hasOpt(opts, "omitempty"),
			mergeKey:  sf.Tag.Get("patchMergeKey"),
			atomic:    isLeaf(sf.Type),
		})
	}
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

// isLeaf reports whether values of t are compared and encoded whole: types
// with their own JSON or text encoding (resource.Quantity, metav1.Time,
// intstr.IntOrString), scalars, interfaces and byte slices.
func isLeaf(t reflect.Type) bool {
	if t.Implements(marshalerType) || reflect.PtrTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PtrTo(t).Implements(textMarshalerType) {
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

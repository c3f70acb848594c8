package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// celReserved are CEL's reserved words. Kubernetes escapes a property of
// such a name (https://kubernetes.io/docs/reference/using-api/cel/#escaping);
// an object initializer of the mutation library cannot name one, so the
// compiler refuses a spec that sets such a field.
var celReserved = map[string]bool{
	"true": true, "false": true, "null": true, "in": true, "as": true, "break": true, "const": true,
	"continue": true, "else": true, "for": true, "function": true, "if": true, "import": true,
	"let": true, "loop": true, "package": true, "namespace": true, "return": true, "var": true,
	"void": true, "while": true,
}

// celValue renders v, a Go value of a Kubernetes API type, as a CEL
// expression that builds the same JSON: a struct becomes an object
// initializer typeName{field: ...} (the Object types of the mutating
// admission policy's CEL library, whose names follow the field path from
// the root object:
// https://kubernetes.io/docs/reference/access-authn-authz/mutating-admission-policy/),
// a map a map literal, a list a list literal, scalars literals. The JSON
// encoding of v decides what is set (omitempty fields are left out); its
// Go type decides whether a JSON object is a struct or a map.
func celValue(v any, typeName string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("policy: encode %s: %w", typeName, err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var j any
	if err := d.Decode(&j); err != nil {
		return "", fmt.Errorf("policy: decode %s: %w", typeName, err)
	}
	var sb strings.Builder
	if err := writeCEL(&sb, j, reflect.TypeOf(v), typeName, typeName); err != nil {
		return "", err
	}
	return sb.String(), nil
}

// writeCEL writes the JSON value j, whose Go type is t, as CEL. typeName is
// the Object type of a struct at this place; where is the field path, for
// errors.
func writeCEL(sb *strings.Builder, j any, t reflect.Type, typeName, where string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := j.(type) {
	case nil:
		sb.WriteString("null")
	case bool:
		sb.WriteString(strconv.FormatBool(x))
	case string:
		sb.WriteString(celString(x))
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return fmt.Errorf("policy: %s: %s is not an integer; the policy compiler renders integers only", where, x)
		}
		sb.WriteString(strconv.FormatInt(i, 10))
	case []any:
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		sb.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			if err := writeCEL(sb, e, elem, typeName, fmt.Sprintf("%s[%d]", where, i)); err != nil {
				return err
			}
		}
		sb.WriteByte(']')
	case map[string]any:
		if t != nil && t.Kind() == reflect.Map {
			return writeMap(sb, x, t.Elem(), typeName, where)
		}
		if t == nil || t.Kind() != reflect.Struct {
			return fmt.Errorf("policy: %s: an object of unknown type", where)
		}
		return writeObject(sb, x, t, typeName, where)
	default:
		return fmt.Errorf("policy: %s: unexpected JSON value %T", where, j)
	}
	return nil
}

// writeMap writes a map literal, its keys sorted. CEL maps in Kubernetes
// hold values of one type (the map's values in the API types here are
// strings).
func writeMap(sb *strings.Builder, m map[string]any, elem reflect.Type, typeName, where string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sb.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(celString(k))
		sb.WriteString(": ")
		if err := writeCEL(sb, m[k], elem, typeName, where+"["+strconv.Quote(k)+"]"); err != nil {
			return err
		}
	}
	sb.WriteByte('}')
	return nil
}

// writeObject writes an object initializer whose fields come in the order
// of the Go struct's fields.
func writeObject(sb *strings.Builder, m map[string]any, t reflect.Type, typeName, where string) error {
	fields := jsonFields(t)
	sb.WriteString(typeName)
	sb.WriteByte('{')
	n := 0
	for _, f := range fields {
		v, ok := m[f.name]
		if !ok {
			continue
		}
		if celReserved[f.name] {
			return fmt.Errorf("policy: %s.%s: the field's name is a CEL reserved word, which an object initializer cannot name; the policy compiler cannot express this spec", where, f.name)
		}
		if n > 0 {
			sb.WriteString(", ")
		}
		n++
		sb.WriteString(f.name)
		sb.WriteString(": ")
		if err := writeCEL(sb, v, f.typ, typeName+"."+f.name, where+"."+f.name); err != nil {
			return err
		}
	}
	if n != len(m) {
		for k := range m {
			if !hasField(fields, k) {
				return fmt.Errorf("policy: %s: field %q has no Go field", where, k)
			}
		}
	}
	sb.WriteByte('}')
	return nil
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields returns the JSON fields of the struct type t, in order,
// including those of embedded structs without a name.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, typ: f.Type})
	}
	return out
}

func hasField(fs []jsonField, name string) bool {
	for _, f := range fs {
		if f.name == name {
			return true
		}
	}
	return false
}

// celString quotes s as a CEL string literal: a double-quoted string whose
// escapes (\\, \", \n, \t, \r, \uXXXX, \UXXXXXXXX) are those of the CEL
// specification (https://github.com/google/cel-spec/blob/master/doc/langdef.md#string-and-bytes-values).
func celString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError:
			b.WriteString(`\uFFFD`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

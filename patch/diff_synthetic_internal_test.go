package patch

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
)

// The differ walks any struct type through its typeNode graph. The PodSpec
// of k8s.io/api v0.28 has no map without omitempty and no map of structs,
// but the walk does not depend on that: a newer API may add either, and
// these synthetic types exercise those paths.
type synthDoc struct {
	Plain  map[string]string         `json:"plain"` // no omitempty: null and {} differ
	Nested map[string]synthElem      `json:"nested,omitempty"`
	Ptrs   map[string]*synthElem     `json:"ptrs,omitempty"`
	Lists  map[string][]synthKeyed   `json:"lists,omitempty"`
	Any    map[string]interface{}    `json:"any,omitempty"`
	Deep   map[string]map[string]int `json:"deep,omitempty"`
}

type synthElem struct {
	A string   `json:"a,omitempty"`
	B int      `json:"b,omitempty"`
	L []string `json:"l,omitempty"`
}

type synthKeyed struct {
	Name string `json:"name"`
	V    int    `json:"v,omitempty"`
}

// diffOps diffs a and b, pointers to values of one struct type, and
// renders the ops against the document root.
func diffOps(t *testing.T, a, b interface{}) Ops {
	t.Helper()
	var out []relOp
	d := differ{out: &out}
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	d.structs(va, vb, nodeOf(va.Type()))
	if d.err != nil {
		t.Fatal(d.err)
	}
	ops := Ops{}
	for _, r := range out {
		ops = append(ops, Op{Op: r.op, Path: r.path, From: r.from, Value: r.value})
	}
	return ops
}

// TestDiffSyntheticMaps: maps are diffed key by key (values that are
// structs member by member), null and {} are told apart for a map without
// omitempty, and the patch applied to a's encoding gives b's.
func TestDiffSyntheticMaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b synthDoc
		ops  string
	}{
		{"null map becomes empty", synthDoc{}, synthDoc{Plain: map[string]string{}},
			`[{"op":"add","path":"/plain","value":{}}]`},
		{"empty map becomes null", synthDoc{Plain: map[string]string{}}, synthDoc{},
			`[{"op":"add","path":"/plain","value":null}]`},
		{"null map stays null", synthDoc{}, synthDoc{}, `[]`},
		{"empty map stays empty", synthDoc{Plain: map[string]string{}}, synthDoc{Plain: map[string]string{}}, `[]`},
		{"null map gets a key", synthDoc{}, synthDoc{Plain: map[string]string{"k": "v"}},
			`[{"op":"add","path":"/plain","value":{"k":"v"}}]`},
		{"a struct value changes one member",
			synthDoc{Nested: map[string]synthElem{"x": {A: "1", B: 1}, "y": {A: "y"}}},
			synthDoc{Nested: map[string]synthElem{"x": {A: "2", B: 1}, "y": {A: "y"}}},
			`[{"op":"add","path":"/nested/x/a","value":"2"}]`},
		{"struct values: members of two keys, one removed, one added, in key order",
			synthDoc{Nested: map[string]synthElem{"a/b": {A: "1"}, "c": {B: 1, L: []string{"p"}}, "gone": {A: "g"}}},
			synthDoc{Nested: map[string]synthElem{"a/b": {A: "1", B: 2}, "c": {L: []string{"q"}}, "new": {A: "n"}}},
			`[{"op":"remove","path":"/nested/gone"},{"op":"add","path":"/nested/a~1b/b","value":2},{"op":"remove","path":"/nested/c/b"},{"op":"add","path":"/nested/c/l","value":["q"]},{"op":"add","path":"/nested/new","value":{"a":"n"}}]`},
		{"equal struct values, other lengths",
			synthDoc{Nested: map[string]synthElem{"x": {A: "1"}}},
			synthDoc{Nested: map[string]synthElem{"x": {A: "1"}, "y": {}}},
			`[{"op":"add","path":"/nested/y","value":{}}]`},
		{"pointer values: one set to null, one changed",
			synthDoc{Ptrs: map[string]*synthElem{"p": {A: "1"}, "q": {A: "1"}}},
			synthDoc{Ptrs: map[string]*synthElem{"p": nil, "q": {A: "2"}}},
			`[{"op":"add","path":"/ptrs/p","value":null},{"op":"add","path":"/ptrs/q/a","value":"2"}]`},
		{"lists inside a map (no merge key): by index",
			synthDoc{Lists: map[string][]synthKeyed{"l": {{Name: "a", V: 1}, {Name: "b", V: 2}}}},
			synthDoc{Lists: map[string][]synthKeyed{"l": {{Name: "b", V: 3}, {Name: "a", V: 1}}}},
			`[{"op":"add","path":"/lists/l/0/name","value":"b"},{"op":"add","path":"/lists/l/0/v","value":3},{"op":"add","path":"/lists/l/1/name","value":"a"},{"op":"add","path":"/lists/l/1/v","value":1}]`},
		{"interface values are leaves",
			synthDoc{Any: map[string]interface{}{"i": 1.0, "s": "x"}},
			synthDoc{Any: map[string]interface{}{"i": 2.0, "s": "x"}},
			`[{"op":"add","path":"/any/i","value":2}]`},
		{"a map of numbers whose only value changed",
			synthDoc{Deep: map[string]map[string]int{"m": {"b": 2}}},
			synthDoc{Deep: map[string]map[string]int{"m": {"b": 3}}},
			`[{"op":"add","path":"/deep/m/b","value":3}]`},
		{"maps of maps",
			synthDoc{Deep: map[string]map[string]int{"m": {"a": 1, "b": 2}}},
			synthDoc{Deep: map[string]map[string]int{"m": {"a": 1, "b": 3}}},
			`[{"op":"add","path":"/deep/m/b","value":3}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSyntheticDiff(t, &tc.a, &tc.b, tc.ops)
		})
	}
}

// checkSyntheticDiff checks that the ops diffing a and b (pointers to
// values of one struct type) are want, and that they turn a's encoding into
// b's.
func checkSyntheticDiff(t *testing.T, a, b interface{}, want string) {
	t.Helper()
	got, err := diffOps(t, a, b).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("ops:\n got %s\nwant %s", got, want)
	}
	checkSyntheticApply(t, a, b, got)
}

// checkSyntheticApply applies the patch to a's encoding and compares the
// result with b's.
func checkSyntheticApply(t *testing.T, a, b interface{}, patchJSON []byte) {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patchJSON)
	if err != nil {
		t.Fatal(err)
	}
	docA, _ := json.Marshal(a)
	docB, _ := json.Marshal(b)
	got, err := p.Apply(docA)
	if err != nil {
		t.Fatalf("apply %s to %s: %v", patchJSON, docA, err)
	}
	var g, w interface{}
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal(docB, &w)
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("patched document (-want +got):\n%s", d)
	}
}

type valueMarshaler struct{ X int }

func (valueMarshaler) MarshalJSON() ([]byte, error) { return []byte(`1`), nil }

type pointerMarshaler struct{ X int }

func (*pointerMarshaler) MarshalJSON() ([]byte, error) { return []byte(`1`), nil }

type valueText struct{ X int }

func (valueText) MarshalText() ([]byte, error) { return []byte(`t`), nil }

type pointerText struct{ X int }

func (*pointerText) MarshalText() ([]byte, error) { return []byte(`t`), nil }

// TestIsLeaf: values are compared and encoded whole when encoding/json
// would call their own encoder (on the value or, for an addressable
// value, on its pointer), and for scalars, interfaces and byte strings.
func TestIsLeaf(t *testing.T) {
	for _, tc := range []struct {
		v    interface{}
		leaf bool
	}{
		{valueMarshaler{}, true},
		{pointerMarshaler{}, true},
		{&valueMarshaler{}, true},
		{valueText{}, true},
		{pointerText{}, true},
		{&valueText{}, true},
		{synthElem{}, false},
		{&synthElem{}, false},
		{map[string]string{}, false},
		{[]string{}, false},
		{[]byte{}, true},
		{[4]byte{}, true},
		{[2]string{}, false},
		{"", true},
		{0, true},
		{false, true},
		{1.5, true},
	} {
		if got := isLeaf(reflect.TypeOf(tc.v)); got != tc.leaf {
			t.Errorf("isLeaf(%T) = %v, want %v", tc.v, got, tc.leaf)
		}
	}
	var iface interface{}
	if !isLeaf(reflect.TypeOf(&iface).Elem()) {
		t.Error("isLeaf(interface{}) = false")
	}
}

// TestIsEmpty: encoding/json's omitempty, kind by kind.
func TestIsEmpty(t *testing.T) {
	var nilPtr *int
	var nilIface interface{}
	one := 1
	for _, tc := range []struct {
		v     interface{}
		empty bool
	}{
		{false, true}, {true, false},
		{0, true}, {int8(-1), false}, {int64(3), false},
		{uint(0), true}, {uint16(2), false},
		{0.0, true}, {float32(0.5), false},
		{"", true}, {"x", false},
		{[]int{}, true}, {[]int{1}, false}, {map[string]int{}, true}, {[1]int{}, false}, {[0]int{}, true},
		{nilPtr, true}, {&one, false},
		{synthElem{}, false},
	} {
		if got := isEmpty(reflect.ValueOf(tc.v)); got != tc.empty {
			t.Errorf("isEmpty(%T %v) = %v, want %v", tc.v, tc.v, got, tc.empty)
		}
	}
	if !isEmpty(reflect.ValueOf(&nilIface).Elem()) {
		t.Error("isEmpty(nil interface) = false")
	}
}

// synthTree is recursive: its node graph refers to itself.
type synthTree struct {
	Name     string      `json:"name"`
	Children []synthTree `json:"children,omitempty" patchMergeKey:"name"`
	Next     *synthTree  `json:"next,omitempty"`
}

// TestDiffRecursiveType: the node graph of a recursive type is built
// once, and values of it are diffed to any depth. The element type of a
// list inside itself is still being built when its merge key is looked
// up, so such a list is diffed by index.
func TestDiffRecursiveType(t *testing.T) {
	a := &synthTree{Name: "r", Children: []synthTree{{Name: "a"}, {Name: "b", Next: &synthTree{Name: "n"}}}}
	b := &synthTree{Name: "r", Children: []synthTree{{Name: "a"}, {Name: "b", Next: &synthTree{Name: "m", Children: []synthTree{{Name: "x"}}}}}}
	ops := diffOps(t, a, b)
	got, err := ops.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"op":"add","path":"/children/1/next/name","value":"m"},{"op":"add","path":"/children/1/next/children","value":[{"name":"x"}]}]`; string(got) != want {
		t.Errorf("ops:\n got %s\nwant %s", got, want)
	}
	checkSyntheticApply(t, a, b, got)
	n := nodeOf(reflect.TypeOf(synthTree{}))
	if n.fields[1].node.elem != n || n.fields[2].node.elem != n {
		t.Error("the node of a recursive type does not refer to itself")
	}
}

// countEncoder encodes as its count, through a pointer receiver: as a
// member of an addressable struct, encoding/json calls it.
type countEncoder struct{ N int }

func (c *countEncoder) MarshalJSON() ([]byte, error) { return []byte(strconv.Itoa(c.N)), nil }

type synthEncoded struct {
	C  countEncoder            `json:"c"`
	CL []countEncoder          `json:"cl,omitempty"`
	CM map[string]countEncoder `json:"cm,omitempty"`
}

// TestDiffPointerEncoders: a value whose type encodes itself through a
// pointer receiver is compared and written as encoding/json writes the
// document (the encoder's output, not the struct's fields, except for map
// values, which are not addressable), so that the patch gives the encoding
// of the new value.
func TestDiffPointerEncoders(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b synthEncoded
		ops  string
	}{
		{"a member changed", synthEncoded{C: countEncoder{1}}, synthEncoded{C: countEncoder{2}},
			`[{"op":"add","path":"/c","value":2}]`},
		{"a list added", synthEncoded{}, synthEncoded{CL: []countEncoder{{1}, {2}}},
			`[{"op":"add","path":"/cl","value":[1,2]}]`},
		{"a list element changed: the list of leaves is replaced", synthEncoded{CL: []countEncoder{{1}, {2}}}, synthEncoded{CL: []countEncoder{{1}, {3}}},
			`[{"op":"add","path":"/cl","value":[1,3]}]`},
		// Map values are not addressable: encoding/json writes their
		// fields, and so does the patch.
		{"a map value changed", synthEncoded{CM: map[string]countEncoder{"a": {1}, "b": {1}}}, synthEncoded{CM: map[string]countEncoder{"a": {2}, "b": {1}}},
			`[{"op":"add","path":"/cm/a","value":{"N":2}}]`},
		{"unchanged", synthEncoded{C: countEncoder{1}, CL: []countEncoder{{1}}}, synthEncoded{C: countEncoder{1}, CL: []countEncoder{{1}}},
			`[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSyntheticDiff(t, &tc.a, &tc.b, tc.ops)
		})
	}
}

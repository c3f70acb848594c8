package patch

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// TestPlainJSON: plainJSON accepts exactly the JSON that encoding/json's
// compaction with HTML escaping leaves as it is: plain strings, integers
// without leading zeros, null.
func TestPlainJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{``, false},
		{`"`, false},
		{`""`, true},
		{`"a"`, true},
		{`"<"`, false},
		{`"a`, false},
		{`a"`, false},
		{`null`, true},
		{`nul`, false},
		{`0`, true},
		{`-0`, true},
		{`00`, false},
		{`01`, false},
		{`-`, false},
		{`--1`, false},
		{`5`, true},
		{`-5`, true},
		{`10`, true},
		{`19`, true},
		{`-1234567890`, true},
		{`1/`, false}, // '/' is just below '0'
		{`1:`, false}, // ':' is just above '9'
		{`12a`, false},
		{`1.5`, false},
		{`1e3`, false},
		{`true`, false},
		{`[]`, false},
	} {
		if got := plainJSON([]byte(tc.in)); got != tc.want {
			t.Errorf("plainJSON(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestSimpleName: simpleName takes letters, digits, '-' and '_', down to
// the ends of each range, and nothing next to them.
func TestSimpleName(t *testing.T) {
	for _, s := range []string{"a", "z", "A", "Z", "0", "9", "5", "-", "_", "aZ09-_"} {
		if !simpleName(s) {
			t.Errorf("simpleName(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "`", "{", "@", "[", "/", ":", " ", ".", "a b", "é", "a\x00"} {
		if simpleName(s) {
			t.Errorf("simpleName(%q) = true, want false", s)
		}
	}
}

type (
	// ptrEncoder has MarshalJSON on pointers only.
	ptrEncoder struct{ N int }
	// errEncoder writes a plain integer and fails.
	errEncoder struct{ N int }
	encRawPtr  struct {
		RP *rawEncoder `json:"rp"`
	}
	encErr struct {
		E errEncoder `json:"e"`
	}
	encNest struct {
		N *encNest `json:"n,omitempty"`
	}
	encNestList struct {
		L []encNestList `json:"l,omitempty"`
	}
	encNestMap struct {
		M map[string]encNestMap `json:"m,omitempty"`
	}
	// encNestedOpt embeds a struct with a member that has the "string"
	// option; encSkipEmbedded embeds one that encoding/json skips.
	encNestedOpt struct {
		encStringOpt
	}
	encSkipEmbedded struct {
		encStringOpt `json:"-"`
		B            int `json:"b"`
	}
	// encDeepEmbed embeds, as its second field, a struct that embeds
	// another; encSkipped has members encoding/json leaves out.
	encMid struct {
		Y int `json:"y"`
		encInner
	}
	encDeepEmbed struct {
		X int `json:"x"`
		encMid
	}
	encSkipped struct {
		A    string `json:"a"`
		Skip string `json:"-"`
		b    string
	}
	cheap1024 struct{ B [1024]byte }
	cheap1025 struct{ B [1025]byte }
)

func (p *ptrEncoder) MarshalJSON() ([]byte, error) { return []byte(strconv.Itoa(p.N)), nil }
func (errEncoder) MarshalJSON() ([]byte, error)    { return []byte("1"), errors.New("errEncoder fails") }

// TestEncodeEdges: values at the edges of appendJSON's cases encode as
// encoding/json encodes them (the same error for a failing MarshalJSON, no
// panic for a nil pointer with a MarshalJSON method), and the encoder
// writes them itself where it can: through pointers, and down to exactly
// maxEncodeDepth, whose counting goes through lists and maps too.
func TestEncodeEdges(t *testing.T) {
	nest := func(n int) *encNest {
		v := &encNest{}
		for i := 1; i < n; i++ {
			v = &encNest{N: v}
		}
		return v
	}
	nestList := func(n int) *encNestList {
		v := encNestList{}
		for i := 1; i < n; i++ {
			v = encNestList{L: []encNestList{v}}
		}
		return &v
	}
	nestMap := func(n int) *encNestMap {
		v := encNestMap{}
		for i := 1; i < n; i++ {
			v = encNestMap{M: map[string]encNestMap{"k": v}}
		}
		return &v
	}
	// The k-th struct of a chain (from 0) is at depth 2k: a chain of 51
	// ends at depth 100, maxEncodeDepth.
	for _, tc := range []struct {
		name  string
		v     interface{}
		plain bool // the encoder writes it without encoding/json
	}{
		{"nil pointer with MarshalJSON", &encRawPtr{}, true},
		{"pointer with MarshalJSON", &encRawPtr{RP: ptrTo(rawEncoder("7"))}, true},
		{"failing MarshalJSON", &encErr{}, false},
		{"option in an embedded struct", &encNestedOpt{encStringOpt{N: 3}}, false},
		{"skipped embedded struct", &encSkipEmbedded{encStringOpt{N: 3}, 4}, true},
		{"embedded in an embedded struct", &encDeepEmbed{1, encMid{2, encInner{"z"}}}, true},
		{"skipped and unexported members", &encSkipped{"a", "skip", "b"}, true},
		{"pointer to a struct", &encCycle{Name: "a", Next: &encCycle{Name: "b"}}, true},
		{"chain to maxEncodeDepth", nest(51), true},
		{"chain past maxEncodeDepth", nest(52), false},
		{"list chain to maxEncodeDepth", nestList(51), true},
		{"list chain past maxEncodeDepth", nestList(52), false},
		{"map chain to maxEncodeDepth", nestMap(51), true},
		{"map chain past maxEncodeDepth", nestMap(52), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := reflect.ValueOf(tc.v).Elem()
			checkEncode(t, tc.name, v)
			checkEncode(t, tc.name+" copy", reflect.ValueOf(v.Interface()))
			if _, ok := appendJSON(nil, v, nodeOf(v.Type()), 0); ok != tc.plain {
				t.Errorf("written without encoding/json: %v, want %v", ok, tc.plain)
			}
		})
	}
}

// TestTypeNodeLeaves: the properties that pick Diff's fast paths (plain
// scalars written and compared without boxing, MarshalJSON called
// directly, zero structs skipped by one comparison) are set for the types
// they exist for, and only for those.
func TestTypeNodeLeaves(t *testing.T) {
	for _, tc := range []struct {
		v                                   interface{}
		cmp                                 leafCmp
		plain, marshals, byValue, cheapZero bool
	}{
		{"", cmpString, true, false, false, false},
		{false, cmpBool, true, false, false, false},
		{int32(0), cmpInt, true, false, false, false},
		{uint8(0), cmpUint, true, false, false, false},
		{float64(0), cmpOther, false, false, false, false},
		{rawEncoder(""), cmpString, false, true, true, false},
		{ptrEncoder{}, cmpOther, false, true, false, true},
		{resource.Quantity{}, cmpOther, false, true, true, true},
		{encInner{}, cmpOther, false, false, false, true},
		{cheap1024{}, cmpOther, false, false, false, true},
		{cheap1025{}, cmpOther, false, false, false, false},
		{encNestList{}, cmpOther, false, false, false, false}, // not comparable
	} {
		n := nodeOf(reflect.TypeOf(tc.v))
		got := [5]interface{}{n.cmp, n.plain, n.marshals, n.byValue, n.cheapZero}
		want := [5]interface{}{tc.cmp, tc.plain, tc.marshals, tc.byValue, tc.cheapZero}
		if got != want {
			t.Errorf("%T: cmp, plain, marshals, byValue, cheapZero = %v, want %v", tc.v, got, want)
		}
	}
}

// TestDiffSameShortcut: the one-comparison shortcut (same) skips only
// equal members: a nil and an empty list that encode differently (null,
// []) and comparable structs that differ are diffed.
func TestDiffSameShortcut(t *testing.T) {
	type lists struct {
		L []string `json:"l"`
	}
	type structs struct {
		In encInner `json:"in"`
	}
	type listMap struct {
		M map[string][]string `json:"m"`
	}
	type uints struct {
		U uint16 `json:"u"`
		P *uint8 `json:"p,omitempty"`
	}
	for _, tc := range []struct {
		name string
		a, b interface{}
		want string
	}{
		{"nil to empty", &lists{}, &lists{L: []string{}}, "add /l []"},
		{"empty to nil", &lists{L: []string{}}, &lists{}, "add /l null"},
		{"nil to nil", &lists{}, &lists{}, ""},
		{"empty to one", &lists{L: []string{}}, &lists{L: []string{"x"}}, "add /l [\"x\"]"},
		{"one to empty", &lists{L: []string{"x"}}, &lists{L: []string{}}, "remove /l/0"},
		{"empty to empty", &lists{L: []string{}}, &lists{L: []string{}}, ""},
		{"zero to set", &structs{}, &structs{In: encInner{A: "x"}}, "add /in {\"a\":\"x\"}"},
		{"set to zero", &structs{In: encInner{A: "x"}}, &structs{}, "remove /in/a"},
		{"changed", &structs{In: encInner{A: "x"}}, &structs{In: encInner{A: "y"}}, "add /in/a \"y\""},
		{"zero to zero", &structs{}, &structs{}, ""},
		{"equal empty lists in a map", &listMap{M: map[string][]string{"a": {}, "b": {"x"}}}, &listMap{M: map[string][]string{"a": {}, "b": {"y"}}}, "add /m/b [\"y\"]"},
		{"nil and empty lists in a map", &listMap{M: map[string][]string{"a": nil, "b": {"x"}}}, &listMap{M: map[string][]string{"a": {}, "b": {"x"}}}, "add /m/a []"},
		{"uint changed", &uints{U: 1}, &uints{U: 2}, "add /u 2"},
		{"uint kept", &uints{U: 1}, &uints{U: 1}, ""},
		{"uint behind a pointer changed", &uints{P: ptrTo(uint8(1))}, &uints{P: ptrTo(uint8(255))}, "add /p 255"},
		{"uint behind a pointer kept", &uints{P: ptrTo(uint8(1))}, &uints{P: ptrTo(uint8(1))}, ""},
	} {
		var out []relOp
		d := differ{out: &out}
		a, b := reflect.ValueOf(tc.a).Elem(), reflect.ValueOf(tc.b).Elem()
		d.structs(a, b, nodeOf(a.Type()))
		var got []string
		for _, op := range out {
			s := op.op + " " + op.path
			if op.value != nil {
				s += " " + string(op.value)
			}
			got = append(got, s)
		}
		if d.err != nil || strings.Join(got, "; ") != tc.want {
			t.Errorf("%s: got %q (%v), want %q", tc.name, got, d.err, tc.want)
		}
	}
}

// TestDistinctKeysAndGrown: distinctKeys finds a repeated merge key at
// the front, the back or both ends of lists of up to 16 elements (pair by
// pair) and longer (sorted), and grownKeys takes only lists with elements
// added at one end, not lists of one length.
func TestDistinctKeysAndGrown(t *testing.T) {
	key := nodeOf(reflect.TypeOf(corev1.PodSpec{})).fields[1].key // initContainers
	mk := func(names ...string) reflect.Value {
		l := make([]corev1.Container, len(names))
		for i, n := range names {
			l[i].Name = n
		}
		return reflect.ValueOf(l)
	}
	seq := func(n int) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = "c" + strconv.Itoa(i)
		}
		return l
	}
	var d differ
	for _, n := range []int{0, 1, 2, 3, 16, 17, 20} {
		if l := seq(n); !d.distinctKeys(mk(l...), key) {
			t.Errorf("%d distinct names: distinctKeys false", n)
		}
		if n < 2 {
			continue
		}
		for _, at := range [][2]int{{0, 1}, {n - 2, n - 1}, {0, n - 1}} {
			l := seq(n)
			l[at[1]] = l[at[0]]
			if d.distinctKeys(mk(l...), key) {
				t.Errorf("%d names, %d repeated at %d: distinctKeys true", n, at[0], at[1])
			}
		}
	}
	for _, tc := range []struct {
		a, b []string
		off  int
		ok   bool
	}{
		{nil, seq(1), 0, false},
		{seq(1), seq(1), 0, false},
		{seq(3), seq(3), 0, false},
		{seq(2), seq(1), 0, false},
		{seq(2), seq(3), 0, true},
		{seq(2), append([]string{"x", "y"}, seq(2)...), 2, true},
		{seq(2), append(seq(2), "c0"), 0, false},
	} {
		off, ok := d.grownKeys(mk(tc.a...), mk(tc.b...), key)
		if off != tc.off || ok != tc.ok {
			t.Errorf("grownKeys(%v, %v) = %d, %v, want %d, %v", tc.a, tc.b, off, ok, tc.off, tc.ok)
		}
	}
}

// TestPlainComparableLists: types that are not comparable at all (lists,
// maps, structs of them without an interface) never take the shortcut.
func TestPlainComparableLists(t *testing.T) {
	for _, v := range []interface{}{[]int{}, map[string]int{}, struct{ L []int }{}, [1]struct{ M map[string]int }{}} {
		if plainComparable(reflect.TypeOf(v)) {
			t.Errorf("plainComparable(%T) = true, want false", v)
		}
	}
}

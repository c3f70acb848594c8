package patch

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/sidecarkit/sidecarkit/internal/fuzzgen"
)

// filler sets the members of a value from fuzz input, through the same
// reflection the encoder uses, so that every member of the API's types
// (those of newer versions too) is exercised: strings that encoding/json
// escapes, nil versus empty lists and maps, quantities kept as written.
type filler struct {
	s     *fuzzgen.Source
	depth int
}

var fillStrings = []string{"", "a", "app", "<&>", `q"uote\`, "é", "\u2028\u2029", "\x00\x1f", "\xff", "1", "x-y_z"}

var fillQuantities = []string{"0", "1", "01", "100m", "1.5Gi", "1e3", "128Mi", "0.1", "-1"}

func (f *filler) fill(v reflect.Value) {
	if f.depth > 12 {
		return
	}
	f.depth++
	defer func() { f.depth-- }()
	switch v.Type() {
	case reflect.TypeOf(resource.Quantity{}):
		v.Set(reflect.ValueOf(resource.MustParse(fillQuantities[f.s.Intn(len(fillQuantities))])))
		return
	case reflect.TypeOf(intstr.IntOrString{}):
		if f.s.Bool() {
			v.Set(reflect.ValueOf(intstr.FromInt32(int32(f.s.Intn(70000)))))
		} else {
			v.Set(reflect.ValueOf(intstr.FromString(fillStrings[f.s.Intn(len(fillStrings))])))
		}
		return
	case reflect.TypeOf(metav1.Time{}):
		if f.s.Bool() {
			v.Set(reflect.ValueOf(metav1.Unix(int64(f.s.Intn(1<<8))<<24, 0)))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fillStrings[f.s.Intn(len(fillStrings))])
	case reflect.Bool:
		v.SetBool(f.s.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(f.s.Intn(300)) - 100)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(f.s.Intn(300)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.s.Intn(7)) / 4)
	case reflect.Ptr:
		if f.s.Intn(3) == 0 {
			p := reflect.New(v.Type().Elem())
			f.fill(p.Elem())
			v.Set(p)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && f.s.Intn(3) != 0 {
				f.fill(v.Field(i))
			}
		}
	case reflect.Slice:
		switch f.s.Intn(4) {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			l := reflect.MakeSlice(v.Type(), 1+f.s.Intn(3), 3)
			for i := 0; i < l.Len(); i++ {
				f.fill(l.Index(i))
			}
			v.Set(l)
		}
	case reflect.Map:
		switch f.s.Intn(4) {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeMap(v.Type()))
		default:
			m := reflect.MakeMap(v.Type())
			for i := f.s.Intn(4); i >= 0; i-- {
				k := reflect.New(v.Type().Key()).Elem()
				f.fill(k)
				e := reflect.New(v.Type().Elem()).Elem()
				f.fill(e)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	}
}

// checkEncode compares encode's output for v with encoding/json's.
func checkEncode(t *testing.T, what string, v reflect.Value) {
	t.Helper()
	d := differ{buf: []byte("prefix")}
	got, err := d.encode(v, nodeOf(v.Type()))
	var want []byte
	var wantErr error
	if v.CanAddr() {
		want, wantErr = json.Marshal(v.Addr().Interface())
	} else {
		want, wantErr = json.Marshal(v.Interface())
	}
	if wantErr == nil && (v.Type() == containerValueType || v.Type() == containersValueType) {
		want = dropEmptyResources(want)
	}
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("%s: error %v, encoding/json's %v", what, err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// checkEncodeSpec checks the encoding of a spec, of its lists and of their
// first elements, addressable and not.
func checkEncodeSpec(t *testing.T, spec *corev1.PodSpec) {
	t.Helper()
	v := reflect.ValueOf(spec).Elem()
	checkEncode(t, "spec", v)
	checkEncode(t, "spec copy", reflect.ValueOf(*spec))
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		checkEncode(t, v.Type().Field(i).Name, f)
		if f.Kind() == reflect.Slice && f.Len() > 0 {
			checkEncode(t, v.Type().Field(i).Name+"[0]", f.Index(0))
			checkEncode(t, v.Type().Field(i).Name+"[0] copy", reflect.ValueOf(f.Index(0).Interface()))
		}
	}
}

// TestEncodeMatchesEncodingJSON: Diff's encoder writes what encoding/json
// writes, for specs whose every member is set from seeds.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	for seed := 0; seed < 300; seed++ {
		data := make([]byte, 1<<16)
		x := uint32(seed*2654435761 + 1)
		for i := range data {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			data[i] = byte(x)
		}
		var spec corev1.PodSpec
		(&filler{s: fuzzgen.New(data)}).fill(reflect.ValueOf(&spec).Elem())
		t.Run(strconv.Itoa(seed), func(t *testing.T) {
			checkEncodeSpec(t, &spec)
			if b, _ := json.Marshal(&spec); seed < 3 {
				t.Logf("%d bytes: %.3000s", len(b), b)
			}
		})
	}
}

// FuzzEncode: Diff's encoder writes what encoding/json writes for any
// spec the filler makes from the input.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add(bytes.Repeat([]byte{0xff, 7, 3, 0, 2}, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		var spec corev1.PodSpec
		(&filler{s: fuzzgen.New(data)}).fill(reflect.ValueOf(&spec).Elem())
		checkEncodeSpec(t, &spec)
	})
}

// Types whose members encoding/json sees otherwise than collectFields, or
// encodes otherwise than by their kind: the encoder leaves them to
// encoding/json.
type (
	encInner struct {
		A string `json:"a,omitempty"`
	}
	encEmbeddedPtr struct {
		*encInner
		B int `json:"b"`
	}
	encTaggedEmbedded struct {
		encInner `json:"inner"`
	}
	encStringOpt struct {
		N int `json:"n,string"`
	}
	encOmitZero struct {
		T encInner `json:"t,omitzero"`
	}
	encDup struct {
		encInner
		A string `json:"a"`
	}
	encOddName struct {
		A string `json:"a b"`
		É string
	}
	encPlainEmbedded struct {
		encInner `json:",inline"`
		B        []int             `json:"b"`
		M        map[string]string `json:"m"`
		K        map[int]string    `json:"k,omitempty"`
		F        float64           `json:"f"`
		I        interface{}       `json:"i,omitempty"`
		Y        []byte            `json:"y,omitempty"`
		C        countEncoder      `json:"c"`
		CM       map[string]countEncoder
		Arr      [2]string `json:"arr"`
	}
	// rawEncoder encodes as its text, which encoding/json compacts,
	// escapes or rejects.
	rawEncoder string
	encRaw     struct {
		R  rawEncoder            `json:"r"`
		RM map[string]rawEncoder `json:"rm,omitempty"`
		RP *rawEncoder           `json:"rp,omitempty"`
	}
	encCycle struct {
		Name string    `json:"name"`
		Next *encCycle `json:"next,omitempty"`
	}
)

func (r rawEncoder) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// TestEncodeOddTypes: structs the encoder does not write itself, and
// leaves it passes on, encode as encoding/json encodes them.
func TestEncodeOddTypes(t *testing.T) {
	cyc := &encCycle{Name: "<a>"}
	cyc.Next = cyc
	deep := &encCycle{Name: "0"}
	for i, p := 1, deep; i < 300; i++ {
		p.Next = &encCycle{Name: strconv.Itoa(i)}
		p = p.Next
	}
	for _, tc := range []struct {
		name  string
		v     interface{}
		plain bool // the encoder writes it without encoding/json
	}{
		{"embedded pointer", &encEmbeddedPtr{encInner: &encInner{A: "x"}, B: 1}, false},
		{"embedded nil pointer", &encEmbeddedPtr{B: 1}, false},
		{"tagged embedded", &encTaggedEmbedded{encInner{A: "x"}}, false},
		{"string option", &encStringOpt{N: 3}, false},
		{"omitzero", &encOmitZero{}, false},
		{"duplicate name", &encDup{encInner{A: "x"}, "y"}, false},
		{"odd names", &encOddName{A: "x", É: "y"}, false},
		{"plain embedded and leaves", &encPlainEmbedded{encInner: encInner{A: "<x>"}, B: []int{}, M: map[string]string{"b": "1", "a": "&"},
			F: 1.5e21, I: map[string]int{"z": 1}, Y: []byte("hi"), C: countEncoder{3}, CM: map[string]countEncoder{"k": {4}}, Arr: [2]string{"é"}}, true},
		{"int keys", &encPlainEmbedded{K: map[int]string{2: "a", 10: "b"}}, false},
		{"nil lists", &encPlainEmbedded{}, true},
		{"plain", &encInner{A: "x\u2028"}, true},
		{"plain encoder outputs", &encRaw{R: "-12", RM: map[string]rawEncoder{"a": `"x"`, "b": "null"}, RP: ptrTo(rawEncoder("0"))}, true},
		{"spaced encoder output", &encRaw{R: `[ 1, "<" ]`}, true},
		{"escaped encoder output", &encRaw{R: `"<"`}, true},
		{"invalid encoder output", &encRaw{R: "007"}, false},
		{"invalid encoder output in a map", &encRaw{R: "1", RM: map[string]rawEncoder{"a": "-"}}, false},
		{"deep", deep, false},
		{"cycle", cyc, false},
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

func ptrTo[T any](v T) *T { return &v }

// TestPlainComparable: only types whose == cannot panic take quantityEqual's
// shortcut.
func TestPlainComparable(t *testing.T) {
	for _, tc := range []struct {
		v    interface{}
		want bool
	}{
		{resource.Quantity{}, true},
		{encInner{}, true},
		{&encInner{}, true},
		{[2]string{}, true},
		{encPlainEmbedded{}, false},             // slices and maps
		{struct{ I interface{} }{}, false},      // an interface may hold a slice
		{[1]struct{ E error }{}, false},         // one in an array
		{struct{ P *encPlainEmbedded }{}, true}, // pointers compare as addresses
	} {
		if got := plainComparable(reflect.TypeOf(tc.v)); got != tc.want {
			t.Errorf("plainComparable(%T) = %v, want %v", tc.v, got, tc.want)
		}
	}
	if !quantityComparable {
		t.Error("resource.Quantity does not take the shortcut")
	}
}

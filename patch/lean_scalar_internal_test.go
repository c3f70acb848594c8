package patch

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/sidecarkit/sidecarkit/internal/jsonscan"
)

// TestDecodeScalar: decodeScalar decodes exactly what utiljson decodes into
// every scalar PodSpec field, for the values it takes (plain strings,
// booleans, integers without fraction or exponent, null for pointers),
// and leaves the field unchanged for every other value (escapes, floats,
// exponents, leading zeros, overflow, strings for numbers, null for a
// non-pointer, objects), which utiljson then decodes or refuses.
func TestDecodeScalar(t *testing.T) {
	values := []string{`"a"`, `"ClusterFirst"`, `""`, `"\u0041"`, `"é"`, `true`, `false`, `null`, `0`, `-0`, `7`, `-30`, `2147483647`, `2147483648`,
		`-2147483649`, `123456789012345678`, `-123456789012345678`, `1234567890123456789`, `9223372036854775808`, `1.0`, `1e3`, `01`, `-01`, `-`, `+5`, `0x1`, `1-2`, `9a`, `/`, `:`, `"7"`, `{}`, `[]`}
	typ := reflect.TypeOf(corev1.PodSpec{})
	var fields []string
	for name, i := range podSpecFields {
		if podSpecScalars[i/64]&(1<<(i%64)) == 0 {
			continue
		}
		fields = append(fields, name)
		for _, v := range values {
			t.Run(fmt.Sprintf("%s=%s", name, v), func(t *testing.T) {
				// Start from a set value, so that a no-op and a reset differ.
				got, want := reflect.New(typ).Elem(), reflect.New(typ).Elem()
				seed := `{"` + name + `":` + map[bool]string{true: `"seed"`, false: `3`}[typ.Field(i).Type.Kind() == reflect.String || typ.Field(i).Type.Kind() == reflect.Ptr && typ.Field(i).Type.Elem().Kind() == reflect.String] + `}`
				if typ.Field(i).Type.Kind() == reflect.Bool || typ.Field(i).Type.Kind() == reflect.Ptr && typ.Field(i).Type.Elem().Kind() == reflect.Bool {
					seed = `{"` + name + `":true}`
				}
				for _, s := range []reflect.Value{got, want} {
					if err := utiljson.Unmarshal([]byte(seed), s.Addr().Interface()); err != nil {
						t.Fatalf("seed %s: %v", seed, err)
					}
				}
				before := reflect.ValueOf(got.Interface()).Field(i).Interface()
				took := decodeScalar([]byte(v), got.Field(i))
				err := utiljson.Unmarshal([]byte(v), want.Field(i).Addr().Interface())
				if mustTake(typ.Field(i).Type, v) && !took {
					t.Errorf("declined a value it takes")
				}
				if !took {
					if after := got.Field(i).Interface(); !reflect.DeepEqual(after, before) {
						t.Errorf("declined, yet changed the field to %#v", after)
					}
					return
				}
				if err != nil {
					t.Fatalf("took a value utiljson refuses: %v", err)
				}
				if !reflect.DeepEqual(got.Field(i).Interface(), want.Field(i).Interface()) {
					t.Errorf("decoded %#v, utiljson %#v", got.Field(i).Interface(), want.Field(i).Interface())
				}
			})
		}
	}
	// The set itself: the scalar fields, and none with structure.
	for _, name := range []string{"dnsPolicy", "hostNetwork", "terminationGracePeriodSeconds", "priority", "serviceAccountName", "shareProcessNamespace", "restartPolicy"} {
		if !contains(fields, name) {
			t.Errorf("%s is not decoded as a scalar", name)
		}
	}
	for _, name := range []string{"securityContext", "nodeSelector", "tolerations", "overhead", "affinity", "dnsConfig"} {
		if contains(fields, name) {
			t.Errorf("%s is decoded as a scalar", name)
		}
	}
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

type (
	jsonString string // with its own JSON decoding
	textString string // with its own text decoding, which encoding/json uses for strings
	plainBool  bool
)

func (s *jsonString) UnmarshalJSON([]byte) error { *s = "json"; return nil }
func (s *textString) UnmarshalText([]byte) error { *s = "text"; return nil }

// TestScalarType: the fields decodeScalar may take are strings, booleans
// and integers, or pointers to one, without decoding methods on the type
// or its pointer and without the ",string" option: encoding/json decodes
// any other differently.
func TestScalarType(t *testing.T) {
	typ := reflect.TypeOf(struct {
		S    string
		PS   *string
		B    plainBool
		PI   *int32
		J    jsonString
		PJ   *jsonString
		T    textString
		PT   *textString
		Str  int64 `json:"n,string"`
		PPS  **string
		F    float64
		M    map[string]string
		L    []string
		Time metav1.Time
	}{})
	want := map[string]bool{"S": true, "PS": true, "B": true, "PI": true}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if got := scalarType(f); got != want[f.Name] {
			t.Errorf("%s %v: scalarType = %v, want %v", f.Name, f.Type, got, want[f.Name])
		}
	}
}

// mustTake reports whether decodeScalar takes v for a field of type ft: the
// values it exists for (plain strings, booleans, integers in range, null
// for a pointer), so that a fast path that declines them is caught.
func mustTake(ft reflect.Type, v string) bool {
	if ft.Kind() == reflect.Ptr {
		if v == "null" {
			return true
		}
		ft = ft.Elem()
	}
	switch ft.Kind() {
	case reflect.String:
		return v == `"a"` || v == `"ClusterFirst"` || v == `""`
	case reflect.Bool:
		return v == "true" || v == "false"
	case reflect.Int32:
		return v == "0" || v == "-0" || v == "7" || v == "-30" || v == "2147483647"
	case reflect.Int64:
		return v == "0" || v == "-0" || v == "7" || v == "-30" || v == "2147483647" || v == "2147483648" || v == "-2147483649" ||
			v == "123456789012345678" || v == "-123456789012345678"
	}
	return false
}

// TestDecodeAnnotations: decodeAnnotationsAt keeps of what utiljson decodes
// exactly the members of the kept keys, and the map's presence; it
// refuses what utiljson refuses (a value of another type, kept or not),
// and hands a kept value it does not read plainly (an escape, null) to
// the full decode.
func TestDecodeAnnotations(t *testing.T) {
	keys := map[string]bool{"sidecar.sidecarkit.io/proxy": true, "kubectl.kubernetes.io/default-container": true}
	for _, tc := range []struct {
		name, in string
		err      bool
	}{
		{name: "null", in: `null`},
		{name: "empty", in: `{}`},
		{name: "none kept", in: `{"a":"1","b":"2"}`},
		{name: "kept among others", in: `{"a":"1","sidecar.sidecarkit.io/proxy":"{\"v\":1}","kubectl.kubernetes.io/default-container":"app","b":"2"}`},
		{name: "plain kept", in: `{"kubectl.kubernetes.io/default-container":"app","z":"\u00e9"}`},
		{name: "escaped key", in: `{"kubectl.kubernetes.io\/default-container":"app"}`},
		{name: "kept null", in: `{"kubectl.kubernetes.io/default-container":null}`},
		{name: "other null", in: `{"a":null,"kubectl.kubernetes.io/default-container":"app"}`},
		{name: "repeated kept", in: `{"kubectl.kubernetes.io/default-container":"a","kubectl.kubernetes.io/default-container":"b"}`},
		{name: "other number", in: `{"a":1}`, err: true},
		{name: "other object", in: `{"a":{},"kubectl.kubernetes.io/default-container":"app"}`, err: true},
		{name: "kept bool", in: `{"kubectl.kubernetes.io/default-container":true}`, err: true},
		{name: "not an object", in: `[]`, err: true},
		{name: "a string", in: `"a"`, err: true},
		{name: "white space", in: ` { "a" : "1" , "kubectl.kubernetes.io/default-container" : "app" } `},
		{name: "bad literal", in: `{"a":nul}`, err: true},
		{name: "truncated", in: `{"a":"x"`, err: true},
		{name: "truncated after a kept null", in: `{"kubectl.kubernetes.io/default-container":null`, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, want map[string]string
			rd := jsonscan.NewReader([]byte(tc.in))
			gotErr := decodeAnnotationsAt(rd, &got, keys)
			if gotErr == nil {
				gotErr = rd.End() // the reader is after the object
			}
			wantErr := utiljson.Unmarshal([]byte(tc.in), &want)
			if (gotErr != nil) != tc.err || (wantErr != nil) != tc.err {
				t.Fatalf("errors: decodeAnnotationsAt %v, utiljson %v; want an error: %v", gotErr, wantErr, tc.err)
			}
			if tc.err {
				return
			}
			if (got == nil) != (want == nil) {
				t.Fatalf("got map %#v, utiljson %#v: presence differs", got, want)
			}
			for k, v := range want {
				if !keys[k] {
					continue
				}
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%q: got %q (present %v), utiljson %q", k, g, ok, v)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%q: got a key utiljson does not", k)
				}
			}
		})
	}
}

// leanContainerFields are the members of a container the lean decode
// reads, by index.
var leanContainerFields = map[string]int{
	"name": leanName, "restartPolicy": leanRestartPolicy, "ports": leanPorts,
	"volumeMounts": leanVolumeMounts, "env": leanEnv, "envFrom": leanEnvFrom,
	"lifecycle": leanLifecycle, "livenessProbe": leanLivenessProbe,
	"readinessProbe": leanReadinessProbe, "startupProbe": leanStartupProbe,
}

// TestLeanContainerField: the switch gives the table's index for every
// member it reads, and declines every other member of a container and
// near misses.
func TestLeanContainerField(t *testing.T) {
	names := []string{"", "Name", "names", "nam", "envfrom", "startupprobe"}
	for n := range jsonFields(reflect.TypeOf(corev1.Container{})) {
		names = append(names, n)
	}
	for n := range leanContainerFields {
		names = append(names, n)
	}
	for _, n := range names {
		i, ok := leanContainerField([]byte(n))
		wi, wok := leanContainerFields[n]
		if i != wi || ok != wok {
			t.Errorf("%q: switch (%d, %v), table (%d, %v)", n, i, ok, wi, wok)
		}
	}
}

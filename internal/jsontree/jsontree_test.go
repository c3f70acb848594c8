package jsontree_test

import (
	"encoding/json"
	"errors"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/sidecarkit/sidecarkit/internal/jsontree"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{name: "object order kept", in: ` {"b":1, "a":[true,null,"x"]} `, want: `{"b":1,"a":[true,null,"x"]}`},
		{name: "number text kept", in: `[1.0, -0, 1e3, 12345678901234567890]`, want: `[1.0,-0,1e3,12345678901234567890]`},
		{name: "escapes decoded", in: `"\u0061\n\/"`, want: `"a\n/"`},
		{name: "invalid utf-8 replaced as encoding/json does", in: "\"\xff\"", want: `"` + "\ufffd" + `"`},
		{name: "empty containers", in: `{"a":{},"b":[]}`, want: `{"a":{},"b":[]}`},
		{name: "duplicate key", in: `{"a":{"b":1,"b":2}}`, err: jsontree.ErrDuplicateKey},
		{name: "trailing data", in: `{} x`, err: jsontree.ErrSyntax},
		{name: "truncated", in: `{"a":`, err: jsontree.ErrSyntax},
		{name: "empty", in: ``, err: jsontree.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := jsontree.Decode([]byte(tt.in))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Decode error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := n.MarshalJSON()
			if string(got) != tt.want {
				t.Errorf("Decode → %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{`[1,2]`, `[2,1]`, false},
		{`1`, `1.0`, false},
		{`"a"`, `"\u0061"`, true},
		{`null`, `{}`, false},
		{`{"a":null}`, `{}`, false},
	}
	for _, tt := range tests {
		a, _ := jsontree.Decode([]byte(tt.a))
		b, _ := jsontree.Decode([]byte(tt.b))
		if got := jsontree.Equal(a, b); got != tt.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestSplitJoin(t *testing.T) {
	toks, err := jsontree.Split("/a~1b/~0c/~01/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/b", "~c", "~1", ""}
	if len(toks) != len(want) {
		t.Fatalf("Split = %q", toks)
	}
	for i := range want {
		if toks[i] != want[i] {
			t.Fatalf("Split = %q, want %q", toks, want)
		}
	}
	if got := jsontree.Join(toks); got != "/a~1b/~0c/~01/" {
		t.Errorf("Join = %q", got)
	}
	if _, err := jsontree.Split("a/b"); !errors.Is(err, jsontree.ErrPointer) {
		t.Errorf("Split without slash: %v", err)
	}
}

const applyDoc = `{"a":{"b":1,"c":[1,2,{"d":null}]},"l":[],"n":null,"s":"x"}`

// evanphx applies one op in the strict mode Verify uses.
func evanphx(doc string, op string) ([]byte, error) {
	p, err := jsonpatch.DecodePatch([]byte("[" + op + "]"))
	if err != nil {
		return nil, err
	}
	o := jsonpatch.NewApplyOptions()
	o.SupportNegativeIndices = false
	return p.ApplyWithOptions([]byte(doc), o)
}

// TestApplyAgreesWithJSONPatch checks Apply against json-patch v5 on ops
// that succeed and fail in its particular ways.
func TestApplyAgreesWithJSONPatch(t *testing.T) {
	ops := []string{
		`{"op":"add","path":"/a/e","value":{"x":1}}`,
		`{"op":"add","path":"/a/b","value":2}`,
		`{"op":"add","path":"/a/c/0","value":0}`,
		`{"op":"add","path":"/a/c/3","value":3}`,
		`{"op":"add","path":"/a/c/4","value":4}`,
		`{"op":"add","path":"/a/c/-","value":9}`,
		`{"op":"add","path":"/a/c/+1","value":9}`,
		`{"op":"add","path":"/a/c/01","value":9}`,
		`{"op":"add","path":"/a/c/-1","value":9}`,
		`{"op":"add","path":"/l/0","value":1}`,
		`{"op":"add","path":"/n/x","value":1}`,
		`{"op":"add","path":"/s/x","value":1}`,
		`{"op":"add","path":"/a/c/2/d/x","value":1}`,
		`{"op":"add","path":"/missing/x","value":1}`,
		`{"op":"add","path":"","value":1}`,
		`{"op":"remove","path":"/a/b"}`,
		`{"op":"remove","path":"/a/x"}`,
		`{"op":"remove","path":"/a/c/2"}`,
		`{"op":"remove","path":"/a/c/3"}`,
		`{"op":"remove","path":"/a/c/-"}`,
		`{"op":"replace","path":"/a/c/0","value":5}`,
		`{"op":"replace","path":"/a/x","value":5}`,
		`{"op":"replace","path":"/n","value":[1]}`,
		`{"op":"move","from":"/a/c/0","path":"/l/0"}`,
		`{"op":"move","from":"/a","path":"/a/z"}`,
		`{"op":"move","from":"/a/c","path":"/a/c"}`,
		`{"op":"move","from":"/a/c/0","path":"/a/c/-"}`,
		`{"op":"move","from":"/a/b","path":"/s"}`,
		`{"op":"copy","from":"/a","path":"/l/-"}`,
		`{"op":"copy","from":"/a/q","path":"/l/-"}`,
		`{"op":"test","path":"/a/b","value":1}`,
	}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			want, wantErr := evanphx(applyDoc, op)
			var o struct {
				Op, Path, From string
				Value          json.RawMessage
			}
			if err := json.Unmarshal([]byte(op), &o); err != nil {
				t.Fatal(err)
			}
			root, _ := jsontree.Decode([]byte(applyDoc))
			jop := jsontree.Op{Op: o.Op, Path: o.Path, From: o.From}
			if o.Value != nil {
				jop.Value, _ = jsontree.Decode(o.Value)
			}
			_, err := jsontree.Apply(root, 0, jop)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("Apply error = %v, json-patch error = %v", err, wantErr)
			}
			if err != nil {
				return
			}
			w, _ := jsontree.Decode(want)
			if !jsontree.Equal(root, w) {
				got, _ := root.MarshalJSON()
				t.Errorf("Apply → %s, json-patch → %s", got, want)
			}
		})
	}
}

func TestProvenance(t *testing.T) {
	orig, _ := jsontree.Decode([]byte(`{"l":[{"n":"a"},{"n":"b"}],"m":{}}`))
	w := orig.Track()
	l, _ := w.Member("l")
	first := l.Elem(0)
	if ol, _ := orig.Member("l"); first.Origin() != ol.Elem(0) {
		t.Fatal("Track did not link origins")
	}
	if _, err := jsontree.Apply(w, 3, jsontree.Op{Op: "move", From: "/l/0", Path: "/m/x"}); err != nil {
		t.Fatal(err)
	}
	m, _ := w.Member("m")
	x, _ := m.Member("x")
	if x != first || x.Moved() != 3 || x.Touched() != 3 || m.Touched() != 3 || w.Touched() != 3 {
		t.Errorf("move lost identity or marks: moved=%d touched=%d", x.Moved(), x.Touched())
	}
	if _, err := jsontree.Apply(w, 4, jsontree.Op{Op: "copy", From: "/m/x", Path: "/m/y"}); err != nil {
		t.Fatal(err)
	}
	y, _ := m.Member("y")
	if y.Origin() != nil || y == x {
		t.Error("copy kept the origin")
	}
	eff, err := jsontree.Apply(w, 5, jsontree.Op{Op: "replace", Path: "/m/x", Value: jsontree.NewString("z")})
	if err != nil || eff.Removed != x || !eff.Overwritten || eff.Placed == nil {
		t.Errorf("replace effect = %+v, %v", eff, err)
	}
}

package applyv4_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/sidecarkit/sidecarkit/internal/jsontree"
	"github.com/sidecarkit/sidecarkit/internal/podgen"
	"github.com/sidecarkit/sidecarkit/oracle/applyv4"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

func applyV5(doc []byte, ops patch.Ops) ([]byte, error) {
	raw, err := ops.MarshalJSON()
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, err
	}
	o := jsonpatch.NewApplyOptions()
	o.SupportNegativeIndices = false
	return p.ApplyWithOptions(doc, o)
}

func op(kind, path string, v interface{}) patch.Op {
	b, _ := json.Marshal(v)
	return patch.Op{Op: kind, Path: path, Value: b}
}

// correctPatches returns patches a sidecar injector legitimately makes to
// doc: inserts of new keyed elements (whole lists where absent or null),
// annotations with escaped keys, appends to unkeyed lists, guards and,
// in the second patch, a move between lists and a removal.
func correctPatches(t *testing.T, d podgen.Doc) (addOnly, withMoves patch.Ops) {
	var v map[string]interface{}
	if err := json.Unmarshal(d.JSON, &v); err != nil {
		t.Fatal(err)
	}
	at := func(ptr string) interface{} {
		var cur interface{} = v
		for _, tok := range strings.Split(ptr[1:], "/") {
			switch x := cur.(type) {
			case map[string]interface{}:
				cur = x[tok]
			case []interface{}:
				i, _ := strconv.Atoi(tok)
				cur = x[i]
			default:
				return nil
			}
		}
		return cur
	}
	list := func(ptr string, idx string, elem interface{}) patch.Op {
		if l, ok := at(ptr).([]interface{}); ok {
			if idx == "0" && len(l) == 0 {
				idx = "-"
			}
			return op("add", ptr+"/"+idx, elem)
		}
		return op("add", ptr, []interface{}{elem})
	}
	s := d.Spec
	addOnly = patch.Ops{
		op("test", s+"/containers/0/name", at(s + "/containers").([]interface{})[0].(map[string]interface{})["name"]),
		list(s+"/initContainers", "0", map[string]interface{}{"name": "proxy", "image": "proxy:2", "restartPolicy": "Always"}),
		list(s+"/containers", "-", map[string]interface{}{"name": "log", "image": "log:1"}),
		list(s+"/volumes", "0", map[string]interface{}{"name": "proxy-certs", "emptyDir": map[string]interface{}{}}),
		list(s+"/containers/0/env", "0", map[string]interface{}{"name": "PROXY", "value": "1"}),
		list(s+"/tolerations", "-", map[string]interface{}{"key": "proxy", "operator": "Exists"}),
	}
	if a, ok := at(d.Meta + "/annotations").(map[string]interface{}); ok && a != nil {
		addOnly = append(addOnly, op("add", d.Meta+"/annotations/sidecar.example.com~1a~0b", "injected"))
	} else {
		addOnly = append(addOnly, op("add", d.Meta+"/annotations", map[string]string{"sidecar.example.com/a~b": "injected"}))
	}
	withMoves = append(patch.Ops{}, addOnly...)
	n := len(at(s + "/containers").([]interface{}))
	withMoves = append(withMoves,
		patch.Op{Op: "move", From: s + "/containers/" + strconv.Itoa(n), Path: s + "/initContainers/0"}, // the "log" container
		patch.Op{Op: "remove", Path: s + "/initContainers/0"},
		op("add", s+"/tolerations/0", map[string]interface{}{"key": "first", "operator": "Exists"}),
	)
	return addOnly, withMoves
}

// TestSameResultAsV5 checks that kube-apiserver's applier (v4) and the v5
// applier Verify uses give the same document for correct patches, and
// that the Verify properties therefore hold under v4 too: the patch
// verifies, and every unknown field survives in its own element.
func TestSameResultAsV5(t *testing.T) {
	for i := 0; i < 100; i++ {
		d, err := podgen.Generate([]byte("v4-"+strconv.Itoa(i)), podgen.Options{AnyKind: true})
		if err != nil {
			t.Fatal(err)
		}
		addOnly, withMoves := correctPatches(t, d)
		for _, ops := range []patch.Ops{addOnly, withMoves} {
			if err := patchtest.Verify(d.JSON, ops); err != nil {
				t.Fatalf("seed %d: correct patch does not verify: %v", i, err)
			}
			v5, err := applyV5(d.JSON, ops)
			if err != nil {
				t.Fatal(err)
			}
			v4, err := applyv4.Apply(d.JSON, ops)
			if err != nil {
				t.Fatalf("seed %d: v4 refuses a patch v5 applies: %v", i, err)
			}
			a, err1 := jsontree.Decode(v4)
			b, err2 := jsontree.Decode(v5)
			if err1 != nil || err2 != nil || !jsontree.Equal(a, b) {
				t.Fatalf("seed %d: v4 and v5 results differ\nv4: %s\nv5: %s", i, v4, v5)
			}
		}
		v4, _ := applyv4.Apply(d.JSON, addOnly)
		kept, total, lost, err := patchtest.UnknownFieldsKept(d.JSON, v4)
		if err != nil || kept != total {
			t.Fatalf("seed %d: %d of %d unknown fields kept under v4, lost %v (%v)", i, kept, total, lost, err)
		}
	}
}

// TestNegativeIndexOnlyV4 documents the one difference that matters:
// kube-apiserver accepts negative indices, Verify's strict v5 does not, so
// a patch that verifies never relies on them.
func TestNegativeIndexOnlyV4(t *testing.T) {
	doc := []byte(`{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}`)
	ops := patch.Ops{{Op: "remove", Path: "/spec/containers/-1"}}
	out, err := applyv4.Apply(doc, ops)
	if err != nil || string(out) != `{"spec":{"containers":[{"name":"a"}]}}` {
		t.Errorf("v4 Apply = %s, %v", out, err)
	}
	if err := patchtest.Verify(doc, ops); err == nil {
		t.Error("Verify accepted a negative index")
	}
}

// TestPanicBecomesError checks the recover around v4.
func TestPanicBecomesError(t *testing.T) {
	doc := []byte(`{"a":[null,1]}`)
	ops := patch.Ops{{Op: "test", Path: "/a", Value: json.RawMessage(`[null,1]`)}}
	if _, err := applyv4.Apply(doc, ops); err == nil {
		t.Error("no error for the input that makes v4.13.0 panic")
	}
}

// FuzzSameResultAsV5 runs the v4/v5 comparison on generated documents.
func FuzzSameResultAsV5(f *testing.F) {
	for _, s := range []string{"", "a", "deployment", "\x00\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, seed []byte) {
		d, err := podgen.Generate(seed, podgen.Options{AnyKind: true})
		if err != nil {
			t.Fatal(err)
		}
		_, ops := correctPatches(t, d)
		if err := patchtest.Verify(d.JSON, ops); err != nil {
			t.Fatalf("correct patch does not verify: %v", err)
		}
		v5, _ := applyV5(d.JSON, ops)
		v4, err := applyv4.Apply(d.JSON, ops)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := jsontree.Decode(v4)
		b, _ := jsontree.Decode(v5)
		if !jsontree.Equal(a, b) {
			t.Fatalf("v4 and v5 differ\nv4: %s\nv5: %s", v4, v5)
		}
	})
}

package patch_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sidecarkit/sidecarkit/patch"
)

// TestOpsMarshalFrom: "from" is written for move and copy (even empty,
// which RFC 6902 requires them to have) and whenever it is set; "value"
// only for add, replace and test, which must have one.
func TestOpsMarshalFrom(t *testing.T) {
	for _, c := range []struct {
		op   patch.Op
		want string
	}{
		{patch.Op{Op: "move", Path: "/a"}, `[{"op":"move","from":"","path":"/a"}]`},
		{patch.Op{Op: "copy", Path: "/a"}, `[{"op":"copy","from":"","path":"/a"}]`},
		{patch.Op{Op: "copy", From: "/b", Path: "/a"}, `[{"op":"copy","from":"/b","path":"/a"}]`},
		{patch.Op{Op: "remove", From: "/b", Path: "/a"}, `[{"op":"remove","from":"/b","path":"/a"}]`},
		{patch.Op{Op: "remove", Path: "/a"}, `[{"op":"remove","path":"/a"}]`},
		{patch.Op{Op: "test", Path: "/a", Value: json.RawMessage(` { "x" : 1 } `)}, `[{"op":"test","path":"/a","value":{"x":1}}]`},
	} {
		got, err := patch.Ops{c.op}.MarshalJSON()
		if err != nil || string(got) != c.want {
			t.Errorf("%+v: %s, %v; want %s", c.op, got, err, c.want)
		}
	}
	for _, bad := range []patch.Op{{Op: "add", Path: "/a"}, {Op: "replace", Path: "/a", Value: json.RawMessage(`{`)}} {
		if _, err := (patch.Ops{bad}).MarshalJSON(); err == nil {
			t.Errorf("%+v: encoded", bad)
		}
	}
}

// TestDecodeDefaultsToPod: a document without a kind is a Pod.
func TestDecodeNeverGuessesTheKind(t *testing.T) {
	doc := []byte(`{"spec":{"containers":[{"name":"app","image":"a"}]}}`)
	if obj, err := patch.Decode(doc); err == nil || !strings.Contains(err.Error(), `patch: decode: the document has no "kind": use DecodeAs`) {
		t.Errorf("Decode = %+v, %v; want the error naming DecodeAs", obj, err)
	}
	obj, err := patch.DecodeAs(doc, "Pod")
	if err != nil {
		t.Fatal(err)
	}
	if obj.Kind != "Pod" || obj.Root != patch.PodRoot || len(obj.Spec.Containers) != 1 {
		t.Errorf("kind %q root %q containers %d", obj.Kind, obj.Root, len(obj.Spec.Containers))
	}
}

// TestStrategicMergeRoots: an empty mutation is "{}" for any root; a
// mutation needs a root that ends in /spec.
func TestStrategicMergeRoots(t *testing.T) {
	obj, err := patch.Decode([]byte(`{"kind":"Pod","spec":{"containers":[{"name":"app","image":"a"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	empty := obj.Mutation()
	for _, root := range []patch.Root{"", "/metadata", patch.PodRoot} {
		if b, err := empty.StrategicMerge(root); err != nil || string(b) != "{}" {
			t.Errorf("empty mutation, root %q: %s, %v", root, b, err)
		}
	}
	m := obj.Mutation()
	if err := m.SetContainerField(patch.Containers, "app", "image", "b"); err != nil {
		t.Fatal(err)
	}
	for _, root := range []patch.Root{"", "/metadata", "/spec/template"} {
		if _, err := m.StrategicMerge(root); err == nil {
			t.Errorf("root %q: no error", root)
		}
	}
	if _, err := m.StrategicMerge(patch.PodRoot); err != nil {
		t.Errorf("root %q: %v", patch.PodRoot, err)
	}
}

// TestMetadataEdits: an annotation set to its current value is no edit;
// a changed value, or a new key with an empty value, is; edits of a
// document without metadata create it once and keep every earlier edit.
func TestMetadataEdits(t *testing.T) {
	const withMeta = `{"kind":"Pod","metadata":{"name":"p","annotations":{"a":"1"}},"spec":{"containers":[{"name":"app","image":"a"}]}}`
	for _, c := range []struct {
		key, value string
		ops        int
	}{{"a", "1", 0}, {"a", "2", 1}, {"b", "", 1}} {
		obj, err := patch.Decode([]byte(withMeta))
		if err != nil {
			t.Fatal(err)
		}
		m := obj.Mutation()
		if err := m.SetAnnotation(c.key, c.value); err != nil {
			t.Fatal(err)
		}
		if m.NumOps() != c.ops || m.Len() != c.ops || m.Empty() != (c.ops == 0) {
			t.Errorf("SetAnnotation(%q, %q): %d ops, %d edits, empty %v; want %d", c.key, c.value, m.NumOps(), m.Len(), m.Empty(), c.ops)
		}
	}
	const bare = `{"kind":"Pod","spec":{"containers":[{"name":"app","image":"a"}]}}`
	obj, err := patch.Decode([]byte(bare))
	if err != nil {
		t.Fatal(err)
	}
	m := obj.Mutation()
	for _, err := range []error{m.SetAnnotation("x", "1"), m.SetLabel("y", "2"), m.SetAnnotation("z", "3")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ops, err := m.JSONPatch(obj.Root)
	if err != nil {
		t.Fatal(err)
	}
	out, err := applyRaw([]byte(bare), mustMarshal(t, ops))
	if err != nil {
		t.Fatalf("apply %s: %v", mustMarshal(t, ops), err)
	}
	if d := jsonDiff(t, []byte(`{"kind":"Pod","metadata":{"annotations":{"x":"1","z":"3"},"labels":{"y":"2"}},"spec":{"containers":[{"name":"app","image":"a"}]}}`), out); d != "" {
		t.Errorf("document (-want +got):\n%s\nops: %s", d, mustMarshal(t, ops))
	}
}

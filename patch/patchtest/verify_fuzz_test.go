package patchtest_test

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/jsontree"
	"github.com/sidecarkit/sidecarkit/internal/podgen"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// fuzzChoices reads choices from fuzz input, 0 once it is used up.
type fuzzChoices struct{ b []byte }

func (c *fuzzChoices) intn(n int) int {
	if n <= 1 || len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0])
	c.b = c.b[1:]
	return v % n
}

// fuzzDoc is a generated document being edited, kept as a tree for
// lookups (the ops are checked by Verify, not by this bookkeeping).
type fuzzDoc struct {
	t    *testing.T
	root *jsontree.Node
	spec string // pointer of the pod spec
	meta string
	n    int
}

func newFuzzDoc(t *testing.T, d podgen.Doc) *fuzzDoc {
	root, err := jsontree.Decode(d.JSON)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return &fuzzDoc{t: t, root: root, spec: d.Spec, meta: d.Meta}
}

// at returns the node at pointer ptr, nil when absent.
func (f *fuzzDoc) at(ptr string) *jsontree.Node {
	toks, err := jsontree.Split(ptr)
	if err != nil {
		return nil
	}
	cur := f.root
	for _, tok := range toks {
		switch cur.Kind() {
		case jsontree.Object:
			var ok bool
			if cur, ok = cur.Member(tok); !ok {
				return nil
			}
		case jsontree.Array:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= cur.Len() {
				return nil
			}
			cur = cur.Elem(i)
		default:
			return nil
		}
	}
	return cur
}

// apply applies op to the bookkeeping tree.
func (f *fuzzDoc) apply(op patch.Op) {
	jop := jsontree.Op{Op: op.Op, Path: op.Path, From: op.From}
	if op.Value != nil {
		v, err := jsontree.Decode(op.Value)
		if err != nil {
			f.t.Fatal(err)
		}
		jop.Value = v
	}
	if _, err := jsontree.Apply(f.root, 0, jop); err != nil {
		f.t.Fatalf("generated op %s %s does not apply: %v", op.Op, op.Path, err)
	}
}

// addToList returns an op adding elem to the list at ptr at a random
// position, or the whole list when it is absent or null.
func (f *fuzzDoc) addToList(c *fuzzChoices, ptr string, elem interface{}) patch.Op {
	list := f.at(ptr)
	if list.Kind() != jsontree.Array {
		return vOp("add", ptr, []interface{}{elem})
	}
	i := c.intn(list.Len() + 2)
	if i > list.Len() {
		return vOp("add", ptr+"/-", elem)
	}
	return vOp("add", ptr+"/"+strconv.Itoa(i), elem)
}

// containerPtrs lists the pointers of the containers of both lists.
func (f *fuzzDoc) containerPtrs() []string {
	var out []string
	for _, l := range []string{"initContainers", "containers"} {
		for i := 0; i < f.at(f.spec+"/"+l).Len(); i++ {
			out = append(out, f.spec+"/"+l+"/"+strconv.Itoa(i))
		}
	}
	return out
}

// randomAdd returns an add op of a new keyed element (or a toleration or
// annotation) and applies it.
func (f *fuzzDoc) randomAdd(c *fuzzChoices) patch.Op {
	f.n++
	name := "sidecar-" + strconv.Itoa(f.n)
	var op patch.Op
	switch c.intn(7) {
	case 0:
		op = f.addToList(c, f.spec+"/initContainers", map[string]interface{}{"name": name, "image": "proxy:2", "restartPolicy": "Always"})
	case 1:
		op = f.addToList(c, f.spec+"/containers", map[string]interface{}{"name": name, "image": "log:1"})
	case 2:
		op = f.addToList(c, f.spec+"/volumes", map[string]interface{}{"name": name, "emptyDir": map[string]interface{}{}})
	case 3:
		cs := f.containerPtrs()
		op = f.addToList(c, cs[c.intn(len(cs))]+"/env", map[string]interface{}{"name": "SIDECAR_" + strconv.Itoa(f.n), "value": "1"})
	case 4:
		cs := f.containerPtrs()
		op = f.addToList(c, cs[c.intn(len(cs))]+"/volumeMounts", map[string]interface{}{"name": "vol-0", "mountPath": "/sidecar/" + strconv.Itoa(f.n)})
	case 5:
		op = f.addToList(c, f.spec+"/tolerations", map[string]interface{}{"key": name, "operator": "Exists"})
	default:
		key := "sidecar.example.com/a~b-" + strconv.Itoa(f.n)
		if f.at(f.meta+"/annotations").Kind() != jsontree.Object {
			op = vOp("add", f.meta+"/annotations", map[string]string{key: "v"})
		} else {
			op = vOp("add", f.meta+"/annotations/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(key), "v")
		}
	}
	f.apply(op)
	return op
}

// identity returns the identity path prefix of the container at ptr.
func (f *fuzzDoc) identity(ptr string) string {
	n, _ := f.at(ptr).Member("name")
	name := n.Text()
	list := ptr[len(f.spec)+1 : strings.LastIndexByte(ptr, '/')]
	return strings.ReplaceAll(strings.TrimPrefix(f.spec, "/"), "/", ".") + "." + list + "[name=" + name + "]"
}

func fuzzSeeds(f *testing.F) {
	for i, s := range []string{"", "a", "pod", "deployment with sidecars", "\x00\x01\x02\x03", "\xff\xfe\xfd"} {
		f.Add([]byte(s), []byte{byte(i), 1, 2, 3, 4, 5, 6, 7})
	}
}

// FuzzVerify checks two properties on random Pods and workloads carrying
// unknown fields everywhere:
//   - a patch made only of adds of new elements (keyed elements at any
//     index, tolerations, annotations; whole lists when absent or null)
//     always verifies;
//   - the same patch followed by a replace of a container with its typed
//     re-marshal (the webhook bug) fails with exactly one Dropped
//     violation per unknown field the container held.
func FuzzVerify(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, docSeed, choices []byte) {
		d, err := podgen.Generate(docSeed, podgen.Options{AnyKind: true})
		if err != nil {
			t.Fatal(err)
		}
		c := &fuzzChoices{b: choices}
		doc := newFuzzDoc(t, d)
		var ops patch.Ops
		for i := c.intn(6); i >= 0; i-- {
			ops = append(ops, doc.randomAdd(c))
		}
		if err := patchtest.Verify(d.JSON, ops); err != nil {
			t.Fatalf("adds of new elements do not verify: %v\ndoc: %s\nops: %s", err, d.JSON, mustJSON(ops))
		}

		// Rebuild one original container from its typed form.
		var target string
		var want []string
		for _, ptr := range doc.containerPtrs() {
			id := doc.identity(ptr)
			if strings.Contains(id, "sidecar-") {
				continue
			}
			var under []string
			for p := range d.Unknown {
				if strings.HasPrefix(p, id+".") || strings.HasPrefix(p, id+"[") {
					under = append(under, p)
				}
			}
			if len(under) > 0 && (target == "" || c.intn(2) == 0) {
				target, want = ptr, under
			}
		}
		if target == "" {
			return
		}
		raw, _ := doc.at(target).MarshalJSON()
		var typed corev1.Container
		if err := json.Unmarshal(raw, &typed); err != nil {
			t.Fatal(err)
		}
		rebuilt, _ := json.Marshal(&typed)
		ops = append(ops, patch.Op{Op: "replace", Path: target, Value: rebuilt})
		err = patchtest.Verify(d.JSON, ops)
		var ve *patchtest.VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("typed rebuild of %s verified: %v\ndoc: %s\nops: %s", target, err, d.JSON, mustJSON(ops))
		}
		var got []string
		for _, viol := range ve.Violations {
			if viol.Kind != patchtest.Dropped || viol.Op != len(ops)-1 {
				t.Fatalf("unexpected violation %v\ndoc: %s\nops: %s", viol, d.JSON, mustJSON(ops))
			}
			got = append(got, viol.Path)
		}
		sort.Strings(want)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("dropped fields (-want +got):\n%s\ndoc: %s\nops: %s", diff, d.JSON, mustJSON(ops))
		}
	})
}

// FuzzVerifyOps applies arbitrary patches (JSON input, or ops built from
// the input bytes against the document) to random documents: Verify must
// not panic, its model of every op must agree with json-patch (no
// Inconsistent violation), and every violation must name the op that
// caused it.
func FuzzVerifyOps(f *testing.F) {
	for _, p := range []string{
		`[{"op":"add","path":"/spec/initContainers","value":[]}]`,
		`[{"op":"move","from":"/spec/containers/0","path":"/spec/containers/-"}]`,
		`[{"op":"copy","from":"/metadata","path":"/spec/x"},{"op":"remove","path":"/spec/x/labels"}]`,
		`[{"op":"replace","path":"/spec/containers/0/name","value":"app-1"}]`,
		`[{"op":"add","path":"/x","value":null},{"op":"add","path":"/x/y","value":1}]`,
		`[{"op":"test","path":"/status","value":{}},{"op":"remove","path":"/spec/containers/+0"}]`,
		`[{"op":"move","from":"/spec","path":"/spec"}]`,
		`[{"op":"move","from":"/metadata/labels","path":"/metadata/labels/x"}]`,
	} {
		f.Add([]byte("seed"), []byte(p))
	}
	f.Fuzz(func(t *testing.T, docSeed, rawOps []byte) {
		d, err := podgen.Generate(docSeed, podgen.Options{AnyKind: true})
		if err != nil {
			t.Fatal(err)
		}
		var ops patch.Ops
		if err := json.Unmarshal(rawOps, &ops); err != nil {
			ops = randomOps(t, d, &fuzzChoices{b: rawOps})
		}
		err = patchtest.Verify(d.JSON, ops)
		var ve *patchtest.VerifyError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("Verify returned a plain error for a valid document: %v", err)
		}
		if ve == nil {
			return
		}
		if ve.Has(patchtest.Inconsistent) {
			t.Fatalf("verifier disagrees with json-patch: %v\ndoc: %s\nops: %s", err, d.JSON, mustJSON(ops))
		}
		// Only ops change the document, so every violation names one; a
		// change no op accounts for is a gap in the verifier's resolution.
		for _, v := range ve.Violations {
			if v.Op < 0 || v.Op >= len(ops) {
				t.Fatalf("violation without its op: %v\ndoc: %s\nops: %s", v, d.JSON, mustJSON(ops))
			}
		}
	})
}

func mustJSON(ops patch.Ops) string {
	b, err := ops.MarshalJSON()
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// randomOps builds up to four ops of any kind, each aimed at the document
// as the previous ones left it: mostly at values that exist (remove,
// replace, test, move and copy sources) or at new members and positions
// of existing containers (add, move and copy targets), sometimes at
// nonsense.
func randomOps(t *testing.T, d podgen.Doc, c *fuzzChoices) patch.Ops {
	doc := newFuzzDoc(t, d)
	values := []string{`null`, `1`, `"s"`, `{}`, `[]`, `{"name":"app-0","x":1}`, `[null,1]`, `{"name":"new"}`, `[{"name":"n"}]`}
	var ops patch.Ops
	for i := 1 + c.intn(4); i > 0; i-- {
		var all, containers []string
		var walk func(p string, n *jsontree.Node)
		walk = func(p string, n *jsontree.Node) {
			if p != "" {
				all = append(all, p)
			}
			switch n.Kind() {
			case jsontree.Object:
				containers = append(containers, p)
				for _, k := range n.SortedKeys() {
					m, _ := n.Member(k)
					walk(p+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k), m)
				}
			case jsontree.Array:
				containers = append(containers, p)
				for j := 0; j < n.Len(); j++ {
					walk(p+"/"+strconv.Itoa(j), n.Elem(j))
				}
			}
		}
		walk("", doc.root)
		existing := func() string { return all[c.intn(len(all))] }
		target := func() string {
			p := containers[c.intn(len(containers))]
			if n := doc.at(p); p != "" && n.Kind() == jsontree.Array {
				if j := c.intn(n.Len() + 2); j <= n.Len() {
					return p + "/" + strconv.Itoa(j)
				}
				return p + "/-"
			}
			return p + "/" + []string{"x~1y", "x-new", "name", "containers", "~0"}[c.intn(5)]
		}
		if c.intn(10) == 0 {
			existing = func() string {
				return all[c.intn(len(all))] + "/" + []string{"-", "7", "+0", "01", "-1", ""}[c.intn(6)]
			}
		}
		op := patch.Op{Op: []string{"add", "remove", "replace", "move", "copy", "test"}[c.intn(6)]}
		switch op.Op {
		case "add":
			op.Path, op.Value = target(), json.RawMessage(values[c.intn(len(values))])
		case "replace", "test":
			op.Path, op.Value = existing(), json.RawMessage(values[c.intn(len(values))])
		case "remove":
			op.Path = existing()
		default:
			op.From, op.Path = existing(), target()
		}
		ops = append(ops, op)
		jop := jsontree.Op{Op: op.Op, Path: op.Path, From: op.From}
		if op.Value != nil {
			jop.Value, _ = jsontree.Decode(op.Value)
		}
		_, _ = jsontree.Apply(doc.root, 0, jop) // a failed op stays in the patch
	}
	return ops
}

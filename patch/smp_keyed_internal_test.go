package patch

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// keyedPaths lists what keyLists keyed: "containers" for a list,
// "containers[app].env" for a list of a paired element, "obj.items" for a
// list of a nested object.
func keyedPaths(lv *keyedLevel, prefix string, out *[]string) {
	if lv == nil {
		return
	}
	for k, l := range lv.lists {
		*out = append(*out, prefix+k)
		for n, child := range l.elems {
			keyedPaths(child, prefix+k+"["+n+"].", out)
		}
	}
	for k, child := range lv.objects {
		keyedPaths(child, prefix+k+".", out)
	}
}

// checkTwoWay runs twoWay on before and after with schema and checks (1)
// which lists it keyed, (2) that its patch is, byte for byte once
// encoded, apimachinery's own two-way patch of the two documents, or that
// both fail.
func checkTwoWay(t *testing.T, before, after, schema interface{}, keyed []string) {
	t.Helper()
	meta, err := strategicpatch.NewPatchMetaFromStruct(schema)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := decodeMap(before)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := decodeMap(after)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	keyedPaths(keyLists(orig, mod, meta), "", &got)
	sort.Strings(got)
	sort.Strings(keyed)
	if d := cmp.Diff(keyed, got); d != "" {
		t.Errorf("keyed lists (-want +got):\n%s", d)
	}

	p, err := twoWay(before, after, schema)
	a, _ := json.Marshal(before)
	b, _ := json.Marshal(after)
	if _, ok := after.(*corev1.PodSpec); ok {
		// twoWay leaves out the containers' empty resources, as the JSON
		// patch does.
		a, b = dropEmptyResources(a), dropEmptyResources(b)
	}
	ref, refErr := strategicpatch.CreateTwoWayMergePatch(a, b, schema)
	if refErr != nil {
		// An element without its merge key: strategicpatch refuses it,
		// and so does twoWay, which left the list to it.
		if err == nil {
			t.Errorf("twoWay = %v, apimachinery fails: %v", p, refErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	gotPatch, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	// Re-encode the reference through a map: json.Marshal sorts keys.
	var refMap map[string]interface{}
	if err := json.Unmarshal(ref, &refMap); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(refMap)
	if string(gotPatch) != string(want) {
		t.Errorf("patch\n got %s\nwant %s", gotPatch, want)
	}
}

// TestKeyListsPodSpec: on PodSpecs, the lists with a merge key and the
// merge strategy that both documents hold non-empty, with distinct keys
// that are not directives, are keyed, and the lists of their paired
// elements too, except under volumes (retainKeys); the patch is
// apimachinery's.
func TestKeyListsPodSpec(t *testing.T) {
	env := func(names ...string) []corev1.EnvVar {
		var out []corev1.EnvVar
		for _, n := range names {
			out = append(out, corev1.EnvVar{Name: n, Value: "v" + n})
		}
		return out
	}
	base := corev1.PodSpec{
		Containers: []corev1.Container{
			{Name: "app", Image: "a", Env: env("A", "B"), Ports: []corev1.ContainerPort{{ContainerPort: 80}}},
			{Name: "side", Image: "s", Env: env("X")},
		},
		Volumes:          []corev1.Volume{{Name: "v1", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "s1"}},
		Tolerations:      []corev1.Toleration{{Key: "k"}},
		HostAliases:      []corev1.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"a"}}},
	}
	for _, tc := range []struct {
		name   string
		change func(s *corev1.PodSpec)
		keyed  []string
	}{
		{"everything edited", func(s *corev1.PodSpec) {
			s.Containers[0].Env = env("B", "A", "C")
			s.Containers[0].Ports = nil
			s.Containers[1].Env = append(s.Containers[1].Env, env("Y")...)
			s.Containers[0], s.Containers[1] = s.Containers[1], s.Containers[0]
			s.Volumes[0].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/h"}}
			s.ImagePullSecrets = nil
			s.Tolerations[0].Key = "j"
			s.HostAliases[0].Hostnames = []string{"b"}
		}, []string{"containers", "containers[app].env", "containers[side].env", "volumes", "hostAliases"}},
		{"a container added, one removed", func(s *corev1.PodSpec) {
			s.Containers = append(s.Containers[1:], corev1.Container{Name: "new", Env: env("N")})
		}, []string{"containers", "containers[side].env", "volumes", "imagePullSecrets", "hostAliases"}},
		{"repeated env names: that env left to strategicpatch", func(s *corev1.PodSpec) {
			s.Containers[0].Env = env("A", "A", "B")
		}, []string{"containers", "containers[side].env", "containers[app].ports", "volumes", "imagePullSecrets", "hostAliases"}},
		{"a container named like a directive: containers left to strategicpatch", func(s *corev1.PodSpec) {
			s.Containers[1].Name = "$patch"
		}, []string{"volumes", "imagePullSecrets", "hostAliases"}},
		{"a host alias without its merge key: left to strategicpatch", func(s *corev1.PodSpec) {
			// The "ip" member is dropped from the JSON below
			// (withoutIP): k8s.io/api v0.28 omits an empty IP, later
			// releases (v0.31 among them) write "ip": "", a merge key.
			s.HostAliases = append(s.HostAliases, corev1.HostAlias{Hostnames: []string{"noip"}})
		}, []string{"containers", "containers[app].env", "containers[app].ports", "containers[side].env", "volumes", "imagePullSecrets"}},
		{"unchanged", func(*corev1.PodSpec) {},
			[]string{"containers", "containers[app].env", "containers[app].ports", "containers[side].env", "volumes", "imagePullSecrets", "hostAliases"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := base.DeepCopy()
			after := base.DeepCopy()
			tc.change(after)
			checkTwoWay(t, before, withoutIP(t, after), corev1.PodSpec{}, tc.keyed)
		})
	}
}

// withoutIP is spec as JSON with the "ip" member of each host alias whose
// IP is empty removed, as k8s.io/api v0.28 writes it (`json:"ip,omitempty"`);
// later releases write the member even when empty; so the same test
// holds at every k8s.io/api release the library is tested against
// (.ci/run's version matrix).
func withoutIP(t *testing.T, spec *corev1.PodSpec) map[string]interface{} {
	t.Helper()
	m, err := decodeMap(spec)
	if err != nil {
		t.Fatal(err)
	}
	aliases, _ := m["hostAliases"].([]interface{})
	for _, a := range aliases {
		if a, ok := a.(map[string]interface{}); ok && a["ip"] == "" {
			delete(a, "ip")
		}
	}
	return m
}

// Synthetic schemas for what a PodSpec of k8s.io/api v0.28 does not have:
// objects holding keyed lists, objects under retainKeys, lists with a
// merge key but no merge strategy, lists of scalars with a merge key,
// and members whose names are directives.
type smpDoc struct {
	Obj      *smpObj   `json:"obj,omitempty"`
	Retained *smpObj   `json:"retained,omitempty" patchStrategy:"retainKeys"`
	Items    []smpItem `json:"items,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	Kept     []smpItem `json:"kept,omitempty" patchStrategy:"merge,retainKeys" patchMergeKey:"name"`
	Replaced []smpItem `json:"replaced,omitempty" patchStrategy:"replace" patchMergeKey:"name"`
	Unmerged []smpItem `json:"unmerged,omitempty" patchMergeKey:"name"`
	Scalars  []string  `json:"scalars,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	Dollar   []smpItem `json:"$dollar,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
}

type smpObj struct {
	Items []smpItem `json:"items,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	Inner *smpObj   `json:"inner,omitempty"`
	S     string    `json:"s,omitempty"`
}

type smpItem struct {
	Name string    `json:"name,omitempty"`
	V    int       `json:"v,omitempty"`
	Sub  []smpItem `json:"sub,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
}

func TestKeyListsSynthetic(t *testing.T) {
	items := func(names ...string) []smpItem {
		var out []smpItem
		for i, n := range names {
			out = append(out, smpItem{Name: n, V: i + 1, Sub: []smpItem{{Name: "s" + n, V: 1}, {Name: "t" + n, V: 2}}})
		}
		return out
	}
	base := smpDoc{
		Obj:      &smpObj{Items: items("a", "b"), Inner: &smpObj{Items: items("c")}, S: "s"},
		Retained: &smpObj{Items: items("r")},
		Items:    items("i", "j"),
		Kept:     items("k", "l"),
		Replaced: items("p"),
		Unmerged: items("u"),
		Scalars:  []string{"x", "y"},
		Dollar:   items("d"),
	}
	reorder := func(l []smpItem) []smpItem {
		out := append([]smpItem(nil), l...)
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		for i := range out {
			out[i].V += 10
			out[i].Sub = append([]smpItem{{Name: "new"}}, out[i].Sub[1:]...)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		change func(d *smpDoc)
		keyed  []string
	}{
		{"every list reordered and edited", func(d *smpDoc) {
			d.Obj.Items = reorder(d.Obj.Items)
			d.Obj.Inner.Items = reorder(d.Obj.Inner.Items)
			d.Retained.Items = reorder(d.Retained.Items)
			d.Items = reorder(d.Items)
			d.Kept = reorder(d.Kept)
			d.Replaced = reorder(d.Replaced)
			d.Unmerged = reorder(d.Unmerged)
			d.Scalars = []string{"y", "x", "z"}
			d.Dollar = reorder(d.Dollar)
		}, []string{"obj.items", "obj.items[a].sub", "obj.items[b].sub", "obj.inner.items", "obj.inner.items[c].sub",
			"items", "items[i].sub", "items[j].sub", "kept"}},
		{"only the order of nested lists changes", func(d *smpDoc) {
			d.Obj.Items[0].Sub[0], d.Obj.Items[0].Sub[1] = d.Obj.Items[0].Sub[1], d.Obj.Items[0].Sub[0]
			d.Obj.Inner.Items[0].Sub[0], d.Obj.Inner.Items[0].Sub[1] = d.Obj.Inner.Items[0].Sub[1], d.Obj.Inner.Items[0].Sub[0]
			d.Items[1].Sub[0], d.Items[1].Sub[1] = d.Items[1].Sub[1], d.Items[1].Sub[0]
		}, []string{"obj.items", "obj.items[a].sub", "obj.items[b].sub", "obj.inner.items", "obj.inner.items[c].sub",
			"items", "items[i].sub", "items[j].sub", "kept"}},
		{"elements removed from keyed lists, the nested object emptied", func(d *smpDoc) {
			d.Obj.Items = d.Obj.Items[1:]
			d.Obj.Inner = nil
			d.Items = nil
			d.Kept = d.Kept[:1]
		}, []string{"obj.items", "obj.items[b].sub", "kept"}},
		{"only a top-level list changes: the nested object gets no patch", func(d *smpDoc) {
			d.Items[0].V = 7
		}, []string{"obj.items", "obj.items[a].sub", "obj.items[b].sub", "obj.inner.items", "obj.inner.items[c].sub",
			"items", "items[i].sub", "items[j].sub", "kept"}},
		{"an element without its key", func(d *smpDoc) {
			d.Items = append(d.Items, smpItem{V: 9})
			d.Obj.Items[1].Sub = append(d.Obj.Items[1].Sub, smpItem{Name: "$x"})
		}, []string{"obj.items", "obj.items[a].sub", "obj.inner.items", "obj.inner.items[c].sub", "kept"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := base
			b, _ := json.Marshal(&base)
			var after smpDoc
			if err := json.Unmarshal(b, &after); err != nil {
				t.Fatal(err)
			}
			tc.change(&after)
			checkTwoWay(t, &before, &after, smpDoc{}, tc.keyed)
		})
	}
}

// TestKeyListsNonObjects: a list whose elements are not all objects, or a
// member of a document that is another type on the other side, is not
// keyed; the patch is apimachinery's.
func TestKeyListsNonObjects(t *testing.T) {
	meta, err := strategicpatch.NewPatchMetaFromStruct(smpDoc{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		orig, mod string
		keyed     []string
	}{
		{"a list holding a string", `{"items":[{"name":"a"},"b"]}`, `{"items":[{"name":"a"}]}`, nil},
		{"an object on one side, a list on the other", `{"obj":{"items":[{"name":"a"}]}}`, `{"obj":[{"name":"a"}]}`, nil},
		{"a list on one side, an object on the other", `{"items":{"name":"a"}}`, `{"items":[{"name":"a"}]}`, nil},
		{"a member only on one side", `{}`, `{"items":[{"name":"a"}]}`, nil},
		{"both keyed", `{"items":[{"name":"a"}],"obj":{"items":[{"name":"b"}]}}`, `{"items":[{"name":"a","v":1}],"obj":{"items":[{"name":"b","v":1}]}}`, []string{"items", "obj.items"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var orig, mod map[string]interface{}
			if err := json.Unmarshal([]byte(tc.orig), &orig); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tc.mod), &mod); err != nil {
				t.Fatal(err)
			}
			var got []string
			keyedPaths(keyLists(orig, mod, meta), "", &got)
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.keyed, ",") {
				t.Errorf("keyed %q, want %q", got, tc.keyed)
			}
		})
	}
}

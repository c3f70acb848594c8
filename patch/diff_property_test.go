package patch_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/fuzzgen"
	"github.com/sidecarkit/sidecarkit/patch"
)

// The keyed-list property: for random Pods whose lists are rearranged at
// random (any subset of a keyed list, in any order, with new elements
// anywhere; an indexed list shortened or lengthened), Diff's patch applied
// by evanphx/json-patch to the raw Pod gives exactly the expected
// document: the raw elements that stay, each with its own unknown fields,
// in after's order, and the new ones as encoded. The expected document is
// built from the raw one, not from Diff's output, so that a removal or a
// move that hits the wrong element shows as a wrong element (and unknown
// fields in the wrong place), not only as a wrong count.

// rearrangement picks, for a list of n elements, the elements of after:
// an index into before, or -1 for a new element.
type rearrangement []int

// randomRearrangement keeps a random subset of n elements in random
// order and inserts up to two new ones at random places.
func randomRearrangement(r *rand.Rand, n int) rearrangement {
	var out rearrangement
	for _, i := range r.Perm(n) {
		if r.Intn(3) > 0 { // keep two thirds
			out = append(out, i)
		}
	}
	if r.Intn(2) == 0 {
		// Sometimes keep the relative order, so that only removals and
		// inserts are needed (the removal-only paths).
		sortInts(out)
	}
	for k := r.Intn(3); k > 0; k-- {
		at := r.Intn(len(out) + 1)
		out = append(out[:at], append(rearrangement{-1}, out[at:]...)...)
	}
	return out
}

func sortInts(l []int) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j-1] > l[j]; j-- {
			l[j-1], l[j] = l[j], l[j-1]
		}
	}
}

// rearrangeTyped returns after's list: before's elements picked by re,
// and fresh(k) for the k-th new one.
func rearrangeTyped[E any](before []E, re rearrangement, fresh func(k int) E) []E {
	out := make([]E, 0, len(re))
	k := 0
	for _, i := range re {
		if i < 0 {
			out = append(out, fresh(k))
			k++
			continue
		}
		out = append(out, before[i])
	}
	return out
}

// rearrangeRaw does the same to the raw JSON list: kept elements are the
// raw ones (unknown fields included), new ones the typed elements encoded.
func rearrangeRaw(t *testing.T, before []interface{}, re rearrangement, after interface{}) []interface{} {
	t.Helper()
	var typed []interface{}
	if err := json.Unmarshal(mustMarshal(t, after), &typed); err != nil {
		t.Fatal(err)
	}
	// An added container carries no empty resources member (the patch
	// drops it).
	for _, e := range typed {
		if m, ok := e.(map[string]interface{}); ok {
			if r, ok := m["resources"].(map[string]interface{}); ok && len(r) == 0 {
				delete(m, "resources")
			}
		}
	}
	out := make([]interface{}, 0, len(re))
	for j, i := range re {
		if i < 0 {
			out = append(out, typed[j])
			continue
		}
		out = append(out, before[i])
	}
	return out
}

type listEdit struct {
	re    rearrangement
	apply func(after *corev1.PodSpec, re rearrangement)
	raw   func(t *testing.T, spec map[string]interface{}, after *corev1.PodSpec, re rearrangement)
}

func TestDiffKeyedListProperty(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for iter := 0; iter < 400; iter++ {
		before := &corev1.PodSpec{}
		nC := 1 + r.Intn(5)
		for i := 0; i < nC; i++ {
			c := corev1.Container{Name: "c" + strconv.Itoa(i), Image: "img"}
			for e := 0; e < r.Intn(5); e++ {
				c.Env = append(c.Env, corev1.EnvVar{Name: "E" + strconv.Itoa(e), Value: strconv.Itoa(iter)})
			}
			for p := 0; p < r.Intn(4); p++ {
				c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: int32(8000 + p)})
			}
			before.Containers = append(before.Containers, c)
		}
		for i := 0; i < r.Intn(4); i++ {
			before.InitContainers = append(before.InitContainers, corev1.Container{Name: "i" + strconv.Itoa(i), Image: "init"})
		}
		for i := 0; i < r.Intn(5); i++ {
			before.Volumes = append(before.Volumes, corev1.Volume{Name: "v" + strconv.Itoa(i), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}})
		}
		for i := 0; i < r.Intn(5); i++ {
			before.Tolerations = append(before.Tolerations, corev1.Toleration{Key: "k" + strconv.Itoa(i), Operator: corev1.TolerationOpExists})
		}
		raw := fuzzgen.PlantUnknown(before, &metav1.ObjectMeta{Name: "p"})
		var doc map[string]interface{}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		spec := doc["spec"].(map[string]interface{})
		after := before.DeepCopy()
		var desc []string

		// Containers and init containers by name (new names apart from
		// every old one, so that no container changes lists).
		reC := randomRearrangement(r, len(before.Containers))
		if len(reC) == 0 {
			reC = rearrangement{-1} // a Pod has a container
		}
		after.Containers = rearrangeTyped(before.Containers, reC, func(k int) corev1.Container {
			return corev1.Container{Name: "new" + strconv.Itoa(k), Image: "new"}
		})
		desc = append(desc, fmt.Sprintf("containers %v", reC))
		reI := randomRearrangement(r, len(before.InitContainers))
		after.InitContainers = rearrangeTyped(before.InitContainers, reI, func(k int) corev1.Container {
			return corev1.Container{Name: "newinit" + strconv.Itoa(k), Image: "new"}
		})
		desc = append(desc, fmt.Sprintf("initContainers %v", reI))
		// Env (by name) and ports (by containerPort) of each container
		// kept, in its new place.
		type inner struct{ env, ports rearrangement }
		inners := make([]inner, len(reC))
		for j, i := range reC {
			if i < 0 {
				continue
			}
			c := &after.Containers[j]
			old := before.Containers[i]
			inners[j].env = randomRearrangement(r, len(old.Env))
			c.Env = rearrangeTyped(old.Env, inners[j].env, func(k int) corev1.EnvVar {
				return corev1.EnvVar{Name: "N" + strconv.Itoa(k), Value: "new"}
			})
			inners[j].ports = randomRearrangement(r, len(old.Ports))
			c.Ports = rearrangeTyped(old.Ports, inners[j].ports, func(k int) corev1.ContainerPort {
				return corev1.ContainerPort{ContainerPort: int32(9000 + k)}
			})
			desc = append(desc, fmt.Sprintf("%s env %v ports %v", c.Name, inners[j].env, inners[j].ports))
		}
		reV := randomRearrangement(r, len(before.Volumes))
		after.Volumes = rearrangeTyped(before.Volumes, reV, func(k int) corev1.Volume {
			return corev1.Volume{Name: "newvol" + strconv.Itoa(k), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
		})
		desc = append(desc, fmt.Sprintf("volumes %v", reV))
		// Tolerations have no merge key: compared by index, element i
		// with element i, so only the length changes: shortened to a
		// prefix, or lengthened by new ones at the end.
		keepT, addT := len(before.Tolerations), 0
		if r.Intn(2) == 0 {
			keepT = r.Intn(len(before.Tolerations) + 1)
		} else {
			addT = r.Intn(3)
		}
		reT := rearrangement{}
		for i := 0; i < keepT; i++ {
			reT = append(reT, i)
		}
		for k := addT; k > 0; k-- {
			reT = append(reT, -1)
		}
		after.Tolerations = rearrangeTyped(before.Tolerations, reT, func(k int) corev1.Toleration {
			return corev1.Toleration{Key: "new" + strconv.Itoa(k), Operator: corev1.TolerationOpExists}
		})
		desc = append(desc, fmt.Sprintf("tolerations %v", reT))

		// The expected document, from the raw one.
		setList := func(name string, re rearrangement, typed interface{}) {
			old, _ := spec[name].([]interface{})
			l := rearrangeRaw(t, old, re, typed)
			if len(l) == 0 {
				delete(spec, name) // omitempty lists: removed whole
				return
			}
			spec[name] = l
		}
		setList("containers", reC, after.Containers)
		for j, i := range reC {
			if i < 0 {
				continue
			}
			el := spec["containers"].([]interface{})[j].(map[string]interface{})
			for _, f := range []struct {
				name  string
				re    rearrangement
				typed interface{}
			}{{"env", inners[j].env, after.Containers[j].Env}, {"ports", inners[j].ports, after.Containers[j].Ports}} {
				old, _ := el[f.name].([]interface{})
				l := rearrangeRaw(t, old, f.re, f.typed)
				if len(l) == 0 {
					delete(el, f.name)
				} else {
					el[f.name] = l
				}
			}
		}
		setList("initContainers", reI, after.InitContainers)
		setList("volumes", reV, after.Volumes)
		setList("tolerations", reT, after.Tolerations)
		want := mustMarshal(t, doc)

		t.Run(strconv.Itoa(iter), func(t *testing.T) {
			m, err := patch.Diff(before, after)
			if err != nil {
				t.Fatalf("Diff: %v", err)
			}
			ops, err := m.JSONPatch(patch.PodRoot)
			if err != nil {
				t.Fatal(err)
			}
			got, err := applyRaw(raw, mustMarshal(t, ops))
			if err != nil {
				t.Fatalf("apply: %v\n%s\nops: %s", err, strings.Join(desc, "\n"), mustMarshal(t, ops))
			}
			if d := jsonDiff(t, want, got); d != "" {
				t.Fatalf("patched document differs from the expected one (-want +got):\n%s\n%s\nops: %s", d, strings.Join(desc, "\n"), mustMarshal(t, ops))
			}
			// Minimal: never more ops than a remove or add per element
			// that comes or goes plus one move per element kept.
			if max := maxOps(before, after); len(ops) > max {
				t.Fatalf("%d ops, more than %d: %s", len(ops), max, mustMarshal(t, ops))
			}
		})
	}
}

// maxOps bounds the ops of a pure rearrangement: every element of every
// list at most once (removed, added or moved).
func maxOps(before, after *corev1.PodSpec) int {
	n := len(before.Containers) + len(after.Containers) + len(before.InitContainers) + len(after.InitContainers) +
		len(before.Volumes) + len(after.Volumes) + len(before.Tolerations) + len(after.Tolerations)
	for _, l := range [][]corev1.Container{before.Containers, after.Containers} {
		for _, c := range l {
			n += len(c.Env) + len(c.Ports)
		}
	}
	return n
}

func jsonDiff(t *testing.T, want, got []byte) string {
	t.Helper()
	var w, g interface{}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	return cmp.Diff(w, g)
}

// TestDiffListCases pins the exact patch of small rearrangements whose op
// order matters: two removals from a keyed list (emitted from the highest
// index down, so that each index still names its element), removals with
// a reorder, and the length changes of an indexed list. Every case is
// also applied to the raw Pod, whose elements carry unknown fields.
func TestDiffListCases(t *testing.T) {
	ctr := func(names ...string) []corev1.Container {
		var out []corev1.Container
		for _, n := range names {
			out = append(out, corev1.Container{Name: n, Image: n})
		}
		return out
	}
	tol := func(keys ...string) []corev1.Toleration {
		var out []corev1.Toleration
		for _, k := range keys {
			out = append(out, corev1.Toleration{Key: k, Operator: corev1.TolerationOpExists})
		}
		return out
	}
	env := func(names ...string) []corev1.EnvVar {
		var out []corev1.EnvVar
		for _, n := range names {
			out = append(out, corev1.EnvVar{Name: n, Value: n})
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		before, after corev1.PodSpec
		ops           string
	}{
		{"[a,b,c] to [c]: two removals, highest index first",
			corev1.PodSpec{Containers: ctr("a", "b", "c")}, corev1.PodSpec{Containers: ctr("c")},
			`[{"op":"remove","path":"/spec/containers/1"},{"op":"remove","path":"/spec/containers/0"}]`},
		{"[a,b,c] to [a]",
			corev1.PodSpec{Containers: ctr("a", "b", "c")}, corev1.PodSpec{Containers: ctr("a")},
			`[{"op":"remove","path":"/spec/containers/2"},{"op":"remove","path":"/spec/containers/1"}]`},
		{"[a,b,c] to [b]",
			corev1.PodSpec{Containers: ctr("a", "b", "c")}, corev1.PodSpec{Containers: ctr("b")},
			`[{"op":"remove","path":"/spec/containers/2"},{"op":"remove","path":"/spec/containers/0"}]`},
		{"[a,b,c,d] to [d,b]: two removals and a move",
			corev1.PodSpec{Containers: ctr("a", "b", "c", "d")}, corev1.PodSpec{Containers: ctr("d", "b")},
			`[{"op":"remove","path":"/spec/containers/2"},{"op":"remove","path":"/spec/containers/0"},{"op":"move","from":"/spec/containers/0","path":"/spec/containers/1"}]`},
		{"[a,b,c,d] to [c,a]: reorder after removals",
			corev1.PodSpec{Containers: ctr("a", "b", "c", "d")}, corev1.PodSpec{Containers: ctr("c", "a")},
			`[{"op":"remove","path":"/spec/containers/3"},{"op":"remove","path":"/spec/containers/1"},{"op":"move","from":"/spec/containers/0","path":"/spec/containers/1"}]`},
		{"[a,b,c] to [c,b,a]: reverse, two moves",
			corev1.PodSpec{Containers: ctr("a", "b", "c")}, corev1.PodSpec{Containers: ctr("c", "b", "a")},
			`[{"op":"move","from":"/spec/containers/1","path":"/spec/containers/2"},{"op":"move","from":"/spec/containers/0","path":"/spec/containers/2"}]`},
		{"[a,b,c] to [x,c,y]: removals then inserts in after's order",
			corev1.PodSpec{Containers: ctr("a", "b", "c")}, corev1.PodSpec{Containers: ctr("x", "c", "y")},
			`[{"op":"remove","path":"/spec/containers/1"},{"op":"remove","path":"/spec/containers/0"},{"op":"add","path":"/spec/containers/0","value":{"name":"x","image":"x"}},{"op":"add","path":"/spec/containers/2","value":{"name":"y","image":"y"}}]`},
		{"env [A,B,C,D] to [D,B] inside a kept container",
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env("A", "B", "C", "D")}}},
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env("D", "B")}}},
			`[{"op":"remove","path":"/spec/containers/0/env/2"},{"op":"remove","path":"/spec/containers/0/env/0"},{"op":"move","from":"/spec/containers/0/env/0","path":"/spec/containers/0/env/1"}]`},
		{"all init containers removed: the list goes whole",
			corev1.PodSpec{InitContainers: ctr("a", "b"), Containers: ctr("app")}, corev1.PodSpec{Containers: ctr("app")},
			`[{"op":"remove","path":"/spec/initContainers"}]`},
		{"indexed list [t0,t1,t2] to [t0]: removals from the end, highest first",
			corev1.PodSpec{Containers: ctr("app"), Tolerations: tol("t0", "t1", "t2")}, corev1.PodSpec{Containers: ctr("app"), Tolerations: tol("t0")},
			`[{"op":"remove","path":"/spec/tolerations/2"},{"op":"remove","path":"/spec/tolerations/1"}]`},
		{"indexed list [t0] to [t0,t1,t2]: appends in order",
			corev1.PodSpec{Containers: ctr("app"), Tolerations: tol("t0")}, corev1.PodSpec{Containers: ctr("app"), Tolerations: tol("t0", "t1", "t2")},
			`[{"op":"add","path":"/spec/tolerations/1","value":{"key":"t1","operator":"Exists"}},{"op":"add","path":"/spec/tolerations/2","value":{"key":"t2","operator":"Exists"}}]`},
		{"indexed list [t0,t1,t2] to [t1]: edits in place, then removals",
			corev1.PodSpec{Containers: ctr("app"), Tolerations: tol("t0", "t1", "t2")}, corev1.PodSpec{Containers: ctr("app"), Tolerations: tol("t1")},
			`[{"op":"add","path":"/spec/tolerations/0/key","value":"t1"},{"op":"remove","path":"/spec/tolerations/2"},{"op":"remove","path":"/spec/tolerations/1"}]`},
		{"indexed list emptied: removed whole",
			corev1.PodSpec{Containers: ctr("app"), Tolerations: tol("t0", "t1")}, corev1.PodSpec{Containers: ctr("app")},
			`[{"op":"remove","path":"/spec/tolerations"}]`},
		{"containers [a,b,c] to []: a list without omitempty stays, emptied element by element, highest first",
			corev1.PodSpec{Containers: ctr("a", "b", "c")}, corev1.PodSpec{Containers: []corev1.Container{}},
			`[{"op":"remove","path":"/spec/containers/2"},{"op":"remove","path":"/spec/containers/1"},{"op":"remove","path":"/spec/containers/0"}]`},
		{"indexed list emptied to []: an omitempty list, removed whole",
			corev1.PodSpec{Containers: ctr("app"), Tolerations: tol("t0", "t1", "t2")}, corev1.PodSpec{Containers: ctr("app"), Tolerations: []corev1.Toleration{}},
			`[{"op":"remove","path":"/spec/tolerations"}]`},
		{"a port list [80,81] to [81,80]: same length, keyed by containerPort, one move",
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 81}}}}},
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 81}, {ContainerPort: 80}}}}},
			`[{"op":"move","from":"/spec/containers/0/ports/0","path":"/spec/containers/0/ports/1"}]`},
		{"a port list [80] to [81]: a different key, replaced",
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 81}}}}},
			`[{"op":"remove","path":"/spec/containers/0/ports/0"},{"op":"add","path":"/spec/containers/0/ports/0","value":{"containerPort":81}}]`},
		{"two init containers become regular ones, in order",
			corev1.PodSpec{InitContainers: ctr("a", "b", "keep"), Containers: ctr("app")},
			corev1.PodSpec{InitContainers: ctr("keep"), Containers: ctr("app", "a", "b")},
			`[{"op":"move","from":"/spec/initContainers/0","path":"/spec/containers/1"},{"op":"move","from":"/spec/initContainers/0","path":"/spec/containers/2"}]`},
		{"a port list [80,81,82] to [82,80]: keyed by containerPort",
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 81}, {ContainerPort: 82}}}}},
			corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{ContainerPort: 82}, {ContainerPort: 80}}}}},
			`[{"op":"remove","path":"/spec/containers/0/ports/1"},{"op":"move","from":"/spec/containers/0/ports/0","path":"/spec/containers/0/ports/1"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := fuzzgen.PlantUnknown(&tc.before, &metav1.ObjectMeta{Name: "p"})
			ops := podDiff(t, &tc.before, &tc.after)
			if got := string(mustMarshal(t, ops)); got != tc.ops {
				t.Errorf("ops:\n got %s\nwant %s", got, tc.ops)
			}
			checkRaw(t, raw, ops, &tc.after, nil)
		})
	}
}

// TestDiffDuplicateKeysByIndex: a keyed list whose keys repeat is compared
// by index, so [a,a,b] → [a] removes the last two elements, highest index
// first, and the first element keeps its unknown field. (checkRaw's
// identity check names elements by key, so it cannot tell the two a's
// apart: the document is compared here.)
func TestDiffDuplicateKeysByIndex(t *testing.T) {
	before := &corev1.PodSpec{Volumes: []corev1.Volume{{Name: "a"}, {Name: "a"}, {Name: "b"}}}
	after := &corev1.PodSpec{Volumes: []corev1.Volume{{Name: "a"}}}
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","spec":{"volumes":[{"name":"a","x":1},{"name":"a","x":2},{"name":"b","x":3}]}}`)
	m, err := patch.Diff(before, after)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := m.JSONPatch(patch.PodRoot)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(mustMarshal(t, ops)), `[{"op":"remove","path":"/spec/volumes/2"},{"op":"remove","path":"/spec/volumes/1"}]`; got != want {
		t.Errorf("ops:\n got %s\nwant %s", got, want)
	}
	out, err := applyRaw(raw, mustMarshal(t, ops))
	if err != nil {
		t.Fatal(err)
	}
	if d := jsonDiff(t, []byte(`{"apiVersion":"v1","kind":"Pod","spec":{"volumes":[{"name":"a","x":1}]}}`), out); d != "" {
		t.Errorf("document (-want +got):\n%s", d)
	}
}

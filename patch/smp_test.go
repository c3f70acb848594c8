package patch_test

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/sidecarkit/sidecarkit/internal/fuzzgen"
	"github.com/sidecarkit/sidecarkit/patch"
)

// referenceSMP is the strategic merge patch apimachinery makes from the
// two specs, as StrategicMerge renders it for a Pod.
func referenceSMP(t *testing.T, before, after *corev1.PodSpec) string {
	t.Helper()
	a, err := json.Marshal(before)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(after)
	if err != nil {
		t.Fatal(err)
	}
	// StrategicMerge leaves out the containers' empty resources, as the
	// JSON patch does: compare with documents without them.
	noEmpty := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(`,"resources":{}`), nil) }
	p, err := strategicpatch.CreateTwoWayMergePatch(noEmpty(a), noEmpty(b), corev1.PodSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if string(p) == "{}" {
		return "{}"
	}
	return `{"spec":` + string(p) + `}`
}

// checkSMP checks that StrategicMerge of the diff of before and after is
// byte for byte apimachinery's own two-way patch.
func checkSMP(t *testing.T, before, after *corev1.PodSpec) {
	t.Helper()
	m, err := patch.Diff(before, after)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	got, err := m.StrategicMerge(patch.PodRoot)
	ops, oerr := m.JSONPatch(patch.PodRoot)
	if oerr != nil {
		t.Fatalf("JSONPatch: %v", oerr)
	}
	if movesBetweenLists(ops) {
		// A strategic merge patch cannot move a container between lists
		// without losing its unknown fields: refused, never rendered.
		if !isMoveRefusal(err) {
			t.Fatalf("StrategicMerge of a move between lists = %s, %v; want the refusal", got, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("StrategicMerge: %v", err)
	}
	if m.Empty() {
		return // "{}" without a diff; the reference may still order a list
	}
	if want := referenceSMP(t, before, after); string(got) != want {
		t.Fatalf("StrategicMerge:\n got %s\nwant %s", got, want)
	}
}

// FuzzStrategicMerge: the strategic merge patch of a random typed mutation
// of a random Pod is apimachinery's, although StrategicMerge diffs lists
// with a merge key in its own way (in linear time).
func FuzzStrategicMerge(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte("reorder containers and env"))
	f.Add([]byte{3, 3, 3, 1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 1, 0, 1, 0, 1, 0, 3, 0, 0, 1, 5, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzgen.New(data)
		before := fuzzgen.Spec(s)
		checkSMP(t, before, mutateTyped(s, before))
	})
}

// TestStrategicMergeWideLists: on lists of hundreds of elements, reordered,
// shrunk, grown and edited, nested lists included, StrategicMerge gives
// apimachinery's patch.
func TestStrategicMergeWideLists(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for round := 0; round < 20; round++ {
		before := &corev1.PodSpec{}
		n := 50 + rng.Intn(250)
		for i := 0; i < n; i++ {
			c := corev1.Container{Name: "c" + strconv.Itoa(i), Image: "app"}
			for e := 0; e < rng.Intn(6); e++ {
				c.Env = append(c.Env, corev1.EnvVar{Name: "E" + strconv.Itoa(e), Value: "v"})
			}
			if rng.Intn(3) == 0 {
				c.Ports = []corev1.ContainerPort{{ContainerPort: int32(8000 + i)}, {ContainerPort: int32(9000 + i), Protocol: corev1.ProtocolUDP}}
			}
			before.Containers = append(before.Containers, c)
			if i%10 == 0 {
				before.Volumes = append(before.Volumes, corev1.Volume{Name: "v" + strconv.Itoa(i), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			}
		}
		after := before.DeepCopy()
		cs := after.Containers
		switch round % 4 {
		case 0: // every container edited
			for i := range cs {
				cs[i].Env = append(cs[i].Env, corev1.EnvVar{Name: "SOCK", Value: "/s"})
			}
		case 1: // shuffled, some env lists too
			rng.Shuffle(len(cs), func(i, j int) { cs[i], cs[j] = cs[j], cs[i] })
			for i := range cs {
				if len(cs[i].Env) > 1 && rng.Intn(2) == 0 {
					cs[i].Env[0], cs[i].Env[1] = cs[i].Env[1], cs[i].Env[0]
				}
			}
		case 2: // removed, added and edited
			var kept []corev1.Container
			for i := range cs {
				switch rng.Intn(4) {
				case 0:
				case 1:
					cs[i].Image = "other"
					kept = append(kept, cs[i])
				default:
					kept = append(kept, cs[i])
				}
				if rng.Intn(10) == 0 {
					kept = append(kept, corev1.Container{Name: "new" + strconv.Itoa(i), Image: "new"})
				}
			}
			after.Containers = kept
		case 3: // volumes replaced by another source (retainKeys), ports reordered
			for i := range after.Volumes {
				if rng.Intn(2) == 0 {
					after.Volumes[i].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}
				}
			}
			rng.Shuffle(len(after.Volumes), func(i, j int) { after.Volumes[i], after.Volumes[j] = after.Volumes[j], after.Volumes[i] })
			for i := range cs {
				if len(cs[i].Ports) > 1 {
					cs[i].Ports[0], cs[i].Ports[1] = cs[i].Ports[1], cs[i].Ports[0]
				}
			}
		}
		checkSMP(t, before, after)
	}
}

// TestStrategicMergeUnkeyable: lists whose merge keys repeat are left to
// strategicpatch as they are, with its own result.
func TestStrategicMergeUnkeyable(t *testing.T) {
	before := &corev1.PodSpec{Containers: []corev1.Container{
		{Name: "a", Image: "1", Env: []corev1.EnvVar{{Name: "X", Value: "1"}, {Name: "X", Value: "2"}}},
		{Name: "a", Image: "2"},
		{Name: "b", Image: "3"},
	}}
	after := before.DeepCopy()
	after.Containers[2].Image = "4"
	after.Containers[0].Env[1].Value = "3"
	checkSMP(t, before, after)
}

// TestStrategicMergeCases: lists with a merge key that are empty on one
// side (written whole or deleted element by element, with no
// $setElementOrder) and elements of keyed lists inside paired elements
// that gain nested objects give apimachinery's patch.
func TestStrategicMergeCases(t *testing.T) {
	two := []corev1.Container{{Name: "a", Image: "a"}, {Name: "b", Image: "b"}}
	app := func(mod func(c *corev1.Container)) *corev1.PodSpec {
		c := corev1.Container{Name: "app", Image: "app",
			Env:   []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "1"}},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}}}
		mod(&c)
		return &corev1.PodSpec{Containers: []corev1.Container{c, {Name: "side", Image: "side"}}}
	}
	for _, tc := range []struct {
		name          string
		before, after *corev1.PodSpec
	}{
		{"containers: [] to two", &corev1.PodSpec{Containers: []corev1.Container{}}, &corev1.PodSpec{Containers: two}},
		{"containers: two to []", &corev1.PodSpec{Containers: two}, &corev1.PodSpec{Containers: []corev1.Container{}}},
		{"containers: two to null", &corev1.PodSpec{Containers: two}, &corev1.PodSpec{}},
		{"env: a variable gains a valueFrom", app(func(*corev1.Container) {}), app(func(c *corev1.Container) {
			c.Env[0].Value = ""
			c.Env[0].ValueFrom = &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}
		})},
		{"env: reordered, one changed, a port renamed", app(func(*corev1.Container) {}), app(func(c *corev1.Container) {
			c.Env[0], c.Env[1] = c.Env[1], c.Env[0]
			c.Env[1].Value = "2"
			c.Env[1].ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k", LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}
			c.Ports[0].Name = "web"
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkSMP(t, tc.before, tc.after)
		})
	}
}

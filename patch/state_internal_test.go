package patch

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// firstIndex is find's answer by a scan.
func firstIndex(names []string, name string) int {
	for j, n := range names {
		if n == name {
			return j
		}
	}
	return -1
}

// checkLookups compares every lookup of the state (containers of both
// lists, ephemeral containers, volumes), for every name in use and a few
// that are not, with a scan.
func checkLookups(t *testing.T, step string, s *state) {
	t.Helper()
	lists := [3][]string{}
	for i := 0; i < 2; i++ {
		for _, e := range s.list(i) {
			lists[i] = append(lists[i], e.c.Name)
		}
	}
	for _, c := range s.base.EphemeralContainers {
		lists[2] = append(lists[2], c.Name)
	}
	var vols []string
	for _, v := range s.allVolumes() {
		vols = append(vols, v.Name)
	}
	probe := []string{"", "absent", "c0", "c1", "c99", "dup", "init-0", "v-0", "v-40", "e-0", "renamed"}
	for i, l := range lists {
		for _, n := range append(probe, l...) {
			if got, want := s.find(i, n), firstIndex(l, n); got != want {
				t.Fatalf("%s: find(%d, %q) = %d, want %d", step, i, n, got, want)
			}
		}
	}
	for _, n := range append(probe, vols...) {
		if got, want := s.findVolume(n), firstIndex(vols, n); got != want {
			t.Fatalf("%s: findVolume(%q) = %d, want %d", step, n, got, want)
		}
	}
}

// wideSpec has lists longer than scanMax, so that lookups go through the
// indices, with a duplicate container name (the first one counts).
func wideSpec(n int) *corev1.PodSpec {
	spec := &corev1.PodSpec{}
	for i := 0; i < n; i++ {
		spec.Containers = append(spec.Containers, corev1.Container{Name: "c" + strconv.Itoa(i)})
		spec.InitContainers = append(spec.InitContainers, corev1.Container{Name: "init-" + strconv.Itoa(i)})
		spec.EphemeralContainers = append(spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "e-" + strconv.Itoa(i)}})
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "v-" + strconv.Itoa(i)})
	}
	spec.Containers = append(spec.Containers, corev1.Container{Name: "dup"}, corev1.Container{Name: "dup"})
	return spec
}

// TestLookupIndices: the name indices of long lists answer what a scan
// answers after every kind of edit that changes a list or a name, and
// the mutation never writes into the spec it started from nor into a
// spec Spec returned earlier.
func TestLookupIndices(t *testing.T) {
	for _, n := range []int{scanMax / 2, 3 * scanMax} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			spec := wideSpec(n)
			orig := spec.DeepCopy()
			m := New(&metav1.ObjectMeta{}, spec)
			checkLookups(t, "start", &m.s)
			var snapshots []corev1.PodSpec
			var copies []*corev1.PodSpec
			steps := []struct {
				name string
				do   func() error
			}{
				{"append", func() error { return m.AppendContainer(Containers, corev1.Container{Name: "new-last"}) }},
				{"insert first", func() error { return m.InsertContainer(Containers, 0, corev1.Container{Name: "new-first"}) }},
				{"insert init", func() error { return m.InsertContainer(InitContainers, 1, corev1.Container{Name: "new-init"}) }},
				{"duplicate name", func() error {
					if err := m.AppendContainer(InitContainers, corev1.Container{Name: "c1"}); err == nil {
						return fmt.Errorf("a used name was inserted")
					}
					return nil
				}},
				{"edit", func() error { return m.AddEnv(Containers, "c1", corev1.EnvVar{Name: "A", Value: "1"}) }},
				{"remove", func() error { return m.RemoveContainer(Containers, "c0") }},
				{"move across", func() error { return m.MoveContainer(Containers, "c1", InitContainers, 0) }},
				{"move within", func() error { return m.MoveContainer(InitContainers, "init-0", InitContainers, 2) }},
				{"rename", func() error { return m.SetContainerField(Containers, "c2", "name", "renamed") }},
				{"edit renamed", func() error { return m.AddEnv(Containers, "renamed", corev1.EnvVar{Name: "B", Value: "2"}) }},
				{"remove first dup", func() error { return m.RemoveContainer(Containers, "dup") }},
				{"add volume", func() error { return m.AddVolume(corev1.Volume{Name: "added-0"}) }},
				{"add volume in place", func() error { return m.AddVolume(corev1.Volume{Name: "added-1"}) }},
				{"add volume in place again", func() error { return m.AddVolume(corev1.Volume{Name: "added-2"}) }},
				{"add a used volume", func() error {
					if err := m.AddVolume(corev1.Volume{Name: "v-0"}); err == nil {
						return fmt.Errorf("a used volume name was added")
					}
					return nil
				}},
				{"remove volume", func() error { return m.RemoveVolume("v-1") }},
				{"add volume after remove", func() error { return m.AddVolume(corev1.Volume{Name: "v-1"}) }},
			}
			for _, st := range steps {
				if err := st.do(); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				checkLookups(t, st.name, &m.s)
				snap := m.Spec()
				snap.Volumes = append(snap.Volumes, corev1.Volume{Name: "caller's"}) // the caller's own append
				snapshots = append(snapshots, snap)
				copies = append(copies, snap.DeepCopy())
			}
			if !reflect.DeepEqual(spec, orig) {
				t.Error("the mutation changed the spec it was created from")
			}
			for k := range snapshots {
				if !reflect.DeepEqual(&snapshots[k], copies[k]) {
					t.Errorf("a later edit changed the spec Spec returned after step %q", steps[k].name)
				}
			}
			// Apply replays the edits on a state of its own.
			got := orig.DeepCopy()
			if err := m.Apply(&metav1.ObjectMeta{}, got); err != nil {
				t.Fatal(err)
			}
			if _, want := m.Result(); !reflect.DeepEqual(got, want) {
				t.Error("Apply and Result differ")
			}
		})
	}
}

// TestLookupIndexBuiltOnce: edits of every container of a wide list, an
// injection's pattern, look their container up through one index, built
// on the first lookup and kept through edits that change no name and
// through appends: a lookup per edit that scanned or rebuilt the index
// would cost n² in all.
func TestLookupIndexBuiltOnce(t *testing.T) {
	spec := wideSpec(10 * scanMax)
	m := New(&metav1.ObjectMeta{}, spec)
	var index uintptr
	for i, c := range spec.Containers {
		if c.Name == "dup" {
			continue
		}
		if err := m.AddEnv(Containers, c.Name, corev1.EnvVar{Name: "A", Value: "1"}); err != nil {
			t.Fatal(err)
		}
		if err := m.AddVolumeMount(Containers, c.Name, corev1.VolumeMount{Name: "v-0", MountPath: "/a"}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := m.AppendContainer(Containers, corev1.Container{Name: "appended"}); err != nil {
				t.Fatal(err)
			}
		}
		if m.s.byName[1] == nil {
			t.Fatalf("no name index after editing container %d of %d", i, len(spec.Containers))
		}
		p := reflect.ValueOf(m.s.byName[1]).Pointer()
		if i == 0 {
			index = p
		} else if p != index {
			t.Fatalf("the name index was rebuilt at container %d", i)
		}
	}
}

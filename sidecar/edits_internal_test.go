package sidecar

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
)

var errEditFault = errors.New("the test's failing edit")

// faultyEditor edits m, but fails its failAt-th edit (counting from 1;
// never when failAt is 0) without making it, as a *patch.Mutation does
// with an edit it refuses. calls counts the edits asked for.
type faultyEditor struct {
	*patch.Mutation
	failAt, calls int
}

func (f *faultyEditor) fault() error {
	f.calls++
	if f.calls == f.failAt {
		return errEditFault
	}
	return nil
}

func (f *faultyEditor) InsertContainer(l patch.List, i int, c corev1.Container) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.InsertContainer(l, i, c)
}

func (f *faultyEditor) InsertEncoded(l patch.List, i int, c *patch.EncodedContainer) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.InsertEncoded(l, i, c)
}

func (f *faultyEditor) RemoveContainer(l patch.List, name string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.RemoveContainer(l, name)
}

func (f *faultyEditor) MoveContainer(from patch.List, name string, to patch.List, i int) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.MoveContainer(from, name, to, i)
}

func (f *faultyEditor) SetContainerField(l patch.List, name, jsonName string, value interface{}) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.SetContainerField(l, name, jsonName, value)
}

func (f *faultyEditor) ClearContainerField(l patch.List, name, jsonName string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.ClearContainerField(l, name, jsonName)
}

func (f *faultyEditor) AddVolume(v corev1.Volume) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.AddVolume(v)
}

func (f *faultyEditor) AddEncodedVolume(v *patch.EncodedVolume) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.AddEncodedVolume(v)
}

func (f *faultyEditor) RemoveVolume(name string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.RemoveVolume(name)
}

func (f *faultyEditor) AddVolumeMount(l patch.List, container string, vm corev1.VolumeMount) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.AddVolumeMount(l, container, vm)
}

func (f *faultyEditor) RemoveVolumeMount(l patch.List, container, mountPath string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.RemoveVolumeMount(l, container, mountPath)
}

func (f *faultyEditor) AddEnv(l patch.List, container string, e corev1.EnvVar) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.AddEnv(l, container, e)
}

func (f *faultyEditor) RemoveEnv(l patch.List, container, name string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.RemoveEnv(l, container, name)
}

func (f *faultyEditor) RequireNode(req corev1.NodeSelectorRequirement) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.RequireNode(req)
}

func (f *faultyEditor) RemoveNodeRequirement(req corev1.NodeSelectorRequirement) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.RemoveNodeRequirement(req)
}

func (f *faultyEditor) SetAnnotation(key, value string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.SetAnnotation(key, value)
}

func (f *faultyEditor) RemoveAnnotation(key string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.RemoveAnnotation(key)
}

func (f *faultyEditor) Diff(after *corev1.PodSpec) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Mutation.Diff(after)
}

// twinPlanner plans a native twin and a legacy one, as package universal
// does, so that a later injection of another mode finds a stale container.
type twinPlanner struct{}

func (twinPlanner) Plan(s Spec, _ *corev1.PodSpec) (Plan, error) {
	n := *s.Container.DeepCopy()
	n.RestartPolicy = ptrTo(corev1.ContainerRestartPolicyAlways)
	l := *s.Container.DeepCopy()
	l.Name += "-legacy"
	return Plan{InitContainers: []corev1.Container{n}, Containers: []corev1.Container{l}, Volumes: s.Volumes, AppMounts: s.AppMounts, AppEnv: s.AppEnv}, nil
}

func ptrTo[T any](v T) *T { return &v }

// TestEditFailures makes each edit that Inject, Migrate, Uninject and
// SchedulingSpec ask for fail in turn, on pods where every kind of edit
// happens (inserts, moves, removals of stale containers, volumes, mounts,
// env vars and node requirements, in-place updates, records): each must
// return that edit's error, wrapped with its prefix, and no mutation. The
// patch package refuses none of these edits on these pods (see editor), so
// only a failing editor reaches those returns.
func TestEditFailures(t *testing.T) {
	vol := func(name string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	}
	spec1 := Spec{
		Container: corev1.Container{Name: "proxy", Image: "proxy:1", VolumeMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}}},
		Volumes:   []corev1.Volume{vol("a"), vol("b")},
		AppMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}, {Name: "b", MountPath: "/b"}},
		AppEnv:    []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
	}
	// spec2 is a new version: a new image, without volume b, mount /b and
	// env B.
	spec2 := Spec{
		Container: corev1.Container{Name: "proxy", Image: "proxy:2", VolumeMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}}},
		Volumes:   []corev1.Volume{vol("a")},
		AppMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}},
		AppEnv:    []corev1.EnvVar{{Name: "A", Value: "1"}},
	}
	pod0 := func() (*metav1.ObjectMeta, *corev1.PodSpec) {
		return &metav1.ObjectMeta{Name: "web"}, &corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "setup", Image: "setup:1"}},
			Containers:     []corev1.Container{{Name: "app", Image: "app:1", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
			Volumes:        []corev1.Volume{vol("data")},
		}
	}
	nativeNodes := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	ctx := context.Background()

	type pod struct {
		meta *metav1.ObjectMeta
		spec *corev1.PodSpec
	}
	inject := func(s Spec, o Options, unknown func(patch.List, int) ([]string, error)) func(pod, wrapEditor) (*patch.Mutation, error) {
		return func(p pod, w wrapEditor) (*patch.Mutation, error) {
			in, err := NewInjector(s)
			if err != nil {
				return nil, err
			}
			in.wrap = w
			res, err := in.injectWith(ctx, p.meta, p.spec, patch.New(p.meta, p.spec), nativeNodes, o, unknown)
			return res.Mutation, err
		}
	}
	migrateTo := func(name string, to Mode) func(pod, wrapEditor) (*patch.Mutation, error) {
		return func(p pod, w wrapEditor) (*patch.Mutation, error) {
			return migrate(p.meta, p.spec, name, to, Placement{}, w)
		}
	}
	uninjectProxy := func(p pod, w wrapEditor) (*patch.Mutation, error) { return uninject(p.meta, p.spec, "proxy", w) }
	schedule := func(p pod, w wrapEditor) (*patch.Mutation, error) {
		out, err := schedulingSpec(p.meta, p.spec, "proxy", w)
		if err != nil {
			return nil, err
		}
		if out == p.spec {
			t.Fatal("schedulingSpec returned the pinned spec itself")
		}
		m := patch.New(p.meta, p.spec)
		return m, m.Diff(out)
	}
	replaced := func(patch.List, int) ([]string, error) { return []string{"futureField"}, nil }

	// apply returns the pod as step's edits (made without faults) leave it.
	apply := func(p pod, step func(pod, wrapEditor) (*patch.Mutation, error)) pod {
		t.Helper()
		m, err := step(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		meta, spec := m.Result()
		return pod{meta, spec}
	}
	m0, s0 := pod0()
	fresh := pod{m0, s0}
	pinned := apply(fresh, inject(spec1, Options{Mode: Pinned}, nil))
	native2 := apply(pinned, inject(spec2, Options{Mode: Native}, nil))
	legacy2 := apply(native2, inject(spec2, Options{Mode: Legacy}, nil))
	twins := apply(fresh, inject(spec1, Options{Mode: Universal, Universal: twinPlanner{}}, nil))

	for _, tc := range []struct {
		name   string
		pod    pod
		step   func(pod, wrapEditor) (*patch.Mutation, error)
		prefix string
		edits  int // at least
	}{
		// Inserts, volumes, mounts, env, the node requirement, the record.
		{"inject pinned", fresh, inject(spec1, Options{Mode: Pinned}, nil), "sidecar: inject: ", 9},
		// The node requirement, volume b, mount /b and env B removed, the
		// container updated in place (a Diff), the record.
		{"inject a new version native", pinned, inject(spec2, Options{Mode: Native}, nil), "sidecar: inject: ", 6},
		// A move from initContainers to containers, and its update.
		{"inject legacy", native2, inject(spec2, Options{Mode: Legacy}, nil), "sidecar: inject: ", 3},
		// The stale legacy twin removed.
		{"inject native after universal", twins, inject(spec1, Options{Mode: Native}, nil), "sidecar: inject: ", 2},
		// A container of unknown fields removed and inserted anew.
		{"inject over unknown fields", pinned, inject(spec1, Options{Mode: Pinned}, replaced), "sidecar: inject: ", 2},
		{"migrate to legacy", native2, migrateTo("proxy", Legacy), "sidecar: migrate: ", 3},
		{"migrate to native", legacy2, migrateTo("proxy", Native), "sidecar: migrate: ", 3},
		{"migrate an init container to native", fresh, migrateTo("setup", Native), "sidecar: migrate: ", 1},
		// The container, its mounts and env in app, volumes a and b, the
		// node requirement, the record.
		{"uninject", pinned, uninjectProxy, "sidecar: uninject: ", 8},
		{"scheduling spec", pinned, schedule, "sidecar: scheduling spec: ", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			count := &faultyEditor{}
			m, err := tc.step(tc.pod, func(m *patch.Mutation) editor { count.Mutation = m; return count })
			if err != nil || m == nil || m.Empty() {
				t.Fatalf("without a fault: %v, %v", m, err)
			}
			if count.calls < tc.edits {
				t.Fatalf("%d edits, want at least %d", count.calls, tc.edits)
			}
			for k := 1; k <= count.calls; k++ {
				f := &faultyEditor{failAt: k}
				m, err := tc.step(tc.pod, func(m *patch.Mutation) editor { f.Mutation = m; return f })
				if !errors.Is(err, errEditFault) || !strings.HasPrefix(err.Error(), tc.prefix) {
					t.Errorf("edit %d of %d failing: %v, want %q wrapping %q", k, count.calls, err, tc.prefix+"...", errEditFault)
				}
				if m != nil {
					t.Errorf("edit %d of %d failing: a mutation with the error", k, count.calls)
				}
			}
		})
	}

	// An error of the unknown-fields lookup is Inject's, wrapped.
	errLookup := errors.New("the test's failing lookup")
	_, err := inject(spec1, Options{Mode: Pinned}, func(patch.List, int) ([]string, error) { return nil, errLookup })(pinned, nil)
	if !errors.Is(err, errLookup) || !strings.HasPrefix(err.Error(), "sidecar: inject: ") {
		t.Errorf("a failing lookup: %v, want sidecar: inject: ... wrapping %q", err, errLookup)
	}
}

// keylessPlanner plans one native twin and a node requirement without a
// key, which patch refuses.
type keylessPlanner struct{}

func (keylessPlanner) Plan(s Spec, _ *corev1.PodSpec) (Plan, error) {
	n := *s.Container.DeepCopy()
	n.RestartPolicy = ptrTo(corev1.ContainerRestartPolicyAlways)
	return Plan{InitContainers: []corev1.Container{n}, NodeRequirement: &corev1.NodeSelectorRequirement{Operator: corev1.NodeSelectorOpExists}}, nil
}

// A Planner's node requirement that patch refuses is Inject's error, with
// its prefix and what it is about.
func TestPlanNodeRequirementError(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}
	c := compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
	in, err := NewInjector(Spec{Container: corev1.Container{Name: "proxy", Image: "proxy:1"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := in.Inject(context.Background(), nil, spec, c, Options{Mode: Universal, Universal: keylessPlanner{}})
	const want = "sidecar: inject: the plan's node requirement: patch: node requirement: empty key"
	if err == nil || err.Error() != want || res.Mutation != nil {
		t.Errorf("Inject: %v, %v; want %q", res.Mutation, err, want)
	}
}

// TestManagedMounts: the mountPaths an injection manages in a container
// are the plan's own list while they are a prefix of it (shared, read
// only: capped), and a list of their own otherwise; the plan's list is
// never written.
func TestManagedMounts(t *testing.T) {
	for _, tc := range []struct {
		added  []int
		want   []string
		shared bool
	}{
		{nil, nil, true},
		{[]int{0}, []string{"/a"}, true},
		{[]int{0, 1, 2}, []string{"/a", "/b", "/c"}, true},
		{[]int{1}, []string{"/b"}, false},
		{[]int{0, 2}, []string{"/a", "/c"}, false},
		{[]int{1, 2}, []string{"/b", "/c"}, false},
	} {
		all := []string{"/a", "/b", "/c"}
		m := managedMounts{all: all}
		for _, j := range tc.added {
			m.add(j)
		}
		got := m.paths()
		if len(got) != len(tc.want) || len(got) > 0 && strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("added %v: %v, want %v", tc.added, got, tc.want)
		}
		if shared := len(got) == 0 || &got[0] == &all[0]; shared != tc.shared || cap(got) != len(got) && shared {
			t.Errorf("added %v: shared %v (cap %d), want %v", tc.added, shared, cap(got), tc.shared)
		}
		if strings.Join(all, ",") != "/a,/b,/c" {
			t.Errorf("added %v: the plan's list became %v", tc.added, all)
		}
	}
}

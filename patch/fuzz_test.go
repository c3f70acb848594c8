package patch_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/internal/fuzzgen"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
)

// mutateTyped makes random changes to a copy of spec, the way user code
// changes a decoded Pod.
func mutateTyped(s *fuzzgen.Source, spec *corev1.PodSpec) *corev1.PodSpec {
	out := spec.DeepCopy()
	for n := 1 + s.Intn(6); n > 0; n-- {
		lists := []*[]corev1.Container{&out.InitContainers, &out.Containers}
		l := lists[s.Intn(2)]
		switch s.Intn(14) {
		case 0: // reorder
			if len(*l) > 1 {
				i, j := s.Intn(len(*l)), s.Intn(len(*l))
				(*l)[i], (*l)[j] = (*l)[j], (*l)[i]
			}
		case 1: // insert a new container
			c := corev1.Container{Name: "new" + strconv.Itoa(s.Intn(1000)), Image: "new:1"}
			if nameUsed(out, c.Name) {
				continue
			}
			i := s.Intn(len(*l) + 1)
			*l = append((*l)[:i], append([]corev1.Container{c}, (*l)[i:]...)...)
		case 2: // remove a container
			if len(*l) > 0 {
				i := s.Intn(len(*l))
				*l = append((*l)[:i], (*l)[i+1:]...)
			}
		case 3: // move between lists
			if len(*l) > 0 {
				i := s.Intn(len(*l))
				c := (*l)[i]
				*l = append((*l)[:i], (*l)[i+1:]...)
				other := lists[0]
				if l == lists[0] {
					other = lists[1]
				}
				j := s.Intn(len(*other) + 1)
				*other = append((*other)[:j], append([]corev1.Container{c}, (*other)[j:]...)...)
			}
		default:
			if len(*l) == 0 {
				continue
			}
			c := &(*l)[s.Intn(len(*l))]
			mutateContainer(s, c, out.Volumes)
		}
	}
	switch s.Intn(6) {
	case 0:
		out.Volumes = append(out.Volumes, corev1.Volume{Name: "added" + strconv.Itoa(s.Intn(9)), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		if len(out.Volumes) > 1 && out.Volumes[len(out.Volumes)-1].Name == out.Volumes[len(out.Volumes)-2].Name {
			out.Volumes = out.Volumes[:len(out.Volumes)-1]
		}
	case 1:
		if len(out.Tolerations) > 0 {
			out.Tolerations = out.Tolerations[1:]
		}
	case 2:
		always := corev1.ContainerRestartPolicyAlways
		if len(out.InitContainers) > 0 {
			out.InitContainers[0].RestartPolicy = &always
		}
	case 3:
		out.NodeSelector = map[string]string{"new": "x"}
	}
	return out
}

func mutateContainer(s *fuzzgen.Source, c *corev1.Container, vols []corev1.Volume) {
	switch s.Intn(10) {
	case 0:
		c.Image = fuzzgen.Images[s.Intn(len(fuzzgen.Images))]
	case 1:
		c.Env = append(c.Env, corev1.EnvVar{Name: "N" + strconv.Itoa(s.Intn(9)), Value: "v"})
		dedupEnv(c)
	case 2:
		if len(c.Env) > 0 {
			i := s.Intn(len(c.Env))
			c.Env = append(c.Env[:i], c.Env[i+1:]...)
		}
	case 3:
		if len(c.Env) > 1 {
			c.Env[0], c.Env[len(c.Env)-1] = c.Env[len(c.Env)-1], c.Env[0]
		}
	case 4:
		if len(c.Env) > 0 {
			c.Env[s.Intn(len(c.Env))].Value = "changed"
		}
	case 5:
		if c.Resources.Limits == nil {
			c.Resources.Limits = corev1.ResourceList{}
		}
		c.Resources.Limits[corev1.ResourceMemory] = resource.MustParse("64Mi")
	case 6:
		c.Args = append(c.Args, "--x")
	case 7:
		if len(c.VolumeMounts) > 0 {
			c.VolumeMounts[0].ReadOnly = !c.VolumeMounts[0].ReadOnly
		} else if len(vols) > 0 {
			c.VolumeMounts = []corev1.VolumeMount{{Name: vols[0].Name, MountPath: "/new"}}
		}
	case 8:
		if c.SecurityContext != nil {
			c.SecurityContext = nil
		} else {
			c.SecurityContext = &corev1.SecurityContext{Privileged: ptrBool(false)}
		}
	case 9:
		if len(c.Ports) > 0 {
			c.Ports = c.Ports[1:]
		}
	}
}

func dedupEnv(c *corev1.Container) {
	seen := map[string]bool{}
	var out []corev1.EnvVar
	for _, e := range c.Env {
		if !seen[e.Name] {
			seen[e.Name] = true
			out = append(out, e)
		}
	}
	c.Env = out
}

func nameUsed(spec *corev1.PodSpec, name string) bool {
	for _, l := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range l {
			if c.Name == name {
				return true
			}
		}
	}
	return false
}

// checkRaw applies ops to raw and checks that the result decodes to want
// (meta may be nil) and that every unknown member of raw is still there, in
// the element of the same identity, unless that element is gone from want.
func checkRaw(t *testing.T, raw []byte, ops patch.Ops, want *corev1.PodSpec, wantMeta *metav1.ObjectMeta) {
	t.Helper()
	out, err := applyRaw(raw, mustMarshal(t, ops))
	if err != nil {
		t.Fatalf("apply %s\nto %s: %v", mustMarshal(t, ops), raw, err)
	}
	got, err := patch.Decode(out)
	if err != nil {
		t.Fatalf("decode result: %v", err)
	}
	if diff := cmp.Diff(want, got.Spec, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("patched spec differs from the typed result (-typed +patched):\n%s\nops: %s", diff, mustMarshal(t, ops))
	}
	if wantMeta != nil {
		if diff := cmp.Diff(wantMeta.Annotations, got.Meta.Annotations, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("annotations (-typed +patched):\n%s", diff)
		}
		if diff := cmp.Diff(wantMeta.Labels, got.Meta.Labels, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("labels (-typed +patched):\n%s", diff)
		}
	}
	// The identities that still exist: those of the typed result.
	pod := corev1.Pod{Spec: *want}
	if wantMeta != nil {
		pod.ObjectMeta = *wantMeta
	}
	typed, _ := json.Marshal(&pod)
	lost, err := fuzzgen.Lost(raw, out, typed)
	if err != nil {
		t.Fatal(err)
	}
	if len(lost) > 0 {
		t.Fatalf("unknown fields lost or misplaced: %v\nops: %s\nbefore: %s\nafter:  %s", lost, mustMarshal(t, ops), raw, out)
	}
	// (c) Nothing outside the edited paths changed, and the unknown
	// fields are kept: Verify's independent check (identity paths, op by
	// op and all at once).
	if err := patchtest.Verify(raw, ops); err != nil {
		t.Fatalf("Verify: %v\nops: %s\nbefore: %s", err, mustMarshal(t, ops), raw)
	}
}

// FuzzDiff: a random typed mutation of a random Pod → Diff → render →
// apply to the raw Pod carrying unknown fields at every level → the typed
// decode equals the mutated spec, and every unknown field is still in its
// own element.
func FuzzDiff(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte("reorder containers and env"))
	f.Add([]byte{3, 3, 3, 1, 1, 1, 0, 0, 0, 2, 2, 2, 0, 1, 0, 1, 0, 1, 0, 3, 0, 0, 1, 5, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzgen.New(data)
		before := fuzzgen.Spec(s)
		after := mutateTyped(s, before)
		raw := fuzzgen.PlantUnknown(before, &metav1.ObjectMeta{Name: "fuzz"})
		m, err := patch.Diff(before, after)
		if err != nil {
			t.Fatalf("Diff: %v", err)
		}
		ops, err := m.JSONPatch(patch.PodRoot)
		if err != nil {
			t.Fatal(err)
		}
		checkMarshalJSONPatch(t, m, patch.PodRoot)
		checkRaw(t, raw, ops, after, nil)
		// Applying the mutation to the typed spec gives the same result.
		got := before.DeepCopy()
		if err := m.Apply(nil, got); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if diff := cmp.Diff(after, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Apply (-want +got):\n%s", diff)
		}
		// Diffing equal specs gives no operation.
		same, _ := patch.Diff(after, after)
		if !same.Empty() {
			ops, _ := same.JSONPatch(patch.PodRoot)
			t.Fatalf("Diff of equal specs: %s", mustMarshal(t, ops))
		}
	})
}

// FuzzJSONPatch: random Pods with unknown fields at every level, random
// sequences of edits → render → apply to the raw bytes → (a) equals Apply on
// the typed spec, (b) every unknown field is still present, with its value,
// in the same element, (c) so nothing outside the edited paths changed.
// Edits that the Mutation refuses are skipped: refusing is fine, panicking
// or emitting a wrong patch is not.
func FuzzJSONPatch(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte("insert a sidecar first"))
	f.Add([]byte{2, 2, 1, 1, 0, 0, 9, 9, 9, 9, 17, 3, 4, 4, 11, 12, 13})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzgen.New(data)
		spec := fuzzgen.Spec(s)
		meta := &metav1.ObjectMeta{Name: "fuzz"}
		if s.Bool() {
			meta.Annotations = map[string]string{"a/b": "1", "c~d": "2"}
			meta.Labels = map[string]string{"app": "x"}
		}
		raw := fuzzgen.PlantUnknown(spec, meta)
		obj, err := patch.Decode(raw)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		m := obj.Mutation()
		for n := 1 + s.Intn(8); n > 0; n-- {
			_ = randomEdit(s, m)
		}
		ops, err := m.JSONPatch(obj.Root)
		if err != nil {
			t.Fatal(err)
		}
		checkMarshalJSONPatch(t, m, obj.Root)
		wantMeta, wantSpec := obj.Meta.DeepCopy(), obj.Spec.DeepCopy()
		if err := m.Apply(wantMeta, wantSpec); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		checkRaw(t, raw, ops, wantSpec, wantMeta)
		// The Result is the typed Apply.
		rm, rs := m.Result()
		if diff := cmp.Diff(wantSpec, rs, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Result spec (-Apply +Result):\n%s", diff)
		}
		if diff := cmp.Diff(wantMeta.Annotations, rm.Annotations, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Result annotations (-Apply +Result):\n%s", diff)
		}
	})
}

func randomEdit(s *fuzzgen.Source, m *patch.Mutation) error {
	lists := []patch.List{patch.InitContainers, patch.Containers}
	l := lists[s.Intn(2)]
	names := m.Names(l)
	pick := func() string {
		if len(names) == 0 {
			return "none"
		}
		return names[s.Intn(len(names))]
	}
	always := corev1.ContainerRestartPolicyAlways
	switch s.Intn(18) {
	case 0:
		return m.InsertContainer(l, s.Intn(len(names)+1), corev1.Container{Name: "side" + strconv.Itoa(s.Intn(50)), Image: "proxy:1", RestartPolicy: &always})
	case 1:
		return m.AppendContainer(l, corev1.Container{Name: "tail" + strconv.Itoa(s.Intn(50)), Image: "x"})
	case 2:
		return m.RemoveContainer(l, pick())
	case 3:
		other := lists[s.Intn(2)]
		return m.MoveContainer(l, pick(), other, s.Intn(len(m.Names(other))+1))
	case 4:
		return m.SetContainerField(l, pick(), "restartPolicy", "Always")
	case 5:
		return m.ClearContainerField(l, pick(), "restartPolicy")
	case 6:
		return m.SetContainerField(l, pick(), "image", fuzzgen.Images[s.Intn(len(fuzzgen.Images))])
	case 7:
		return m.AddVolume(corev1.Volume{Name: "v" + strconv.Itoa(s.Intn(9)), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	case 8:
		return m.RemoveVolume("vol" + strconv.Itoa(s.Intn(4)))
	case 9:
		return m.AddVolumeMount(l, pick(), corev1.VolumeMount{Name: "vol0", MountPath: "/m" + strconv.Itoa(s.Intn(5))})
	case 10:
		if s.Bool() { // one case 9 may have added (kept aside: see state's elem)
			return m.RemoveVolumeMount(l, pick(), "/m"+strconv.Itoa(s.Intn(5)))
		}
		return m.RemoveVolumeMount(l, pick(), "/mnt/vol"+strconv.Itoa(s.Intn(3)))
	case 11:
		// Names apart from the generated E0, E1, ... that case 12 removes:
		// removing E0 and adding a new E0 replaces the element, whose
		// unknown fields are then rightly gone, which the identity check
		// cannot tell from a loss. Adding an N name twice still meets
		// the duplicate check.
		return m.AddEnv(l, pick(), corev1.EnvVar{Name: "N" + strconv.Itoa(s.Intn(3)), Value: "x"})
	case 12:
		if s.Bool() { // one case 11 may have added
			return m.RemoveEnv(l, pick(), "N"+strconv.Itoa(s.Intn(3)))
		}
		return m.RemoveEnv(l, pick(), "E"+strconv.Itoa(s.Intn(4)))
	case 13:
		return m.AddEnvFrom(l, pick(), corev1.EnvFromSource{Prefix: "P" + strconv.Itoa(s.Intn(3))})
	case 14:
		keys := []string{"a/b", "c~d", "sidecarkit.io/x", "plain"}
		if s.Bool() {
			return m.SetAnnotation(keys[s.Intn(4)], "v"+strconv.Itoa(s.Intn(3)))
		}
		return m.RemoveAnnotation(keys[s.Intn(4)])
	case 15:
		if s.Bool() {
			return m.SetLabel("app", "y")
		}
		return m.RemoveLabel("app")
	case 16:
		req := corev1.NodeSelectorRequirement{Key: "sidecarkit.io/native-sidecars", Operator: corev1.NodeSelectorOpIn, Values: []string{"native"}}
		if s.Bool() {
			return m.RemoveNodeRequirement(req)
		}
		return m.RequireNode(req)
	default:
		after := mutateTyped(s, ptrSpec(m.Result()))
		return m.Diff(after)
	}
}

func ptrSpec(_ *metav1.ObjectMeta, s *corev1.PodSpec) *corev1.PodSpec { return s }

func ptrBool(b bool) *bool { return &b }

// checkMarshalJSONPatch checks that the one-pass encodings equal the
// encodings of the rendered Ops, guarded and not.
func checkMarshalJSONPatch(t *testing.T, m *patch.Mutation, root patch.Root) {
	t.Helper()
	for _, c := range []struct {
		name string
		opts []patch.RenderOption
	}{
		{"MarshalJSONPatch", nil},
		{"MarshalJSONPatch(Guarded)", []patch.RenderOption{patch.Guarded()}},
		{"MarshalJSONPatch(Guarded, ResourceVersion)", []patch.RenderOption{patch.Guarded(), patch.ResourceVersion("42\u2028\"x")}},
	} {
		opts := append([]patch.RenderOption{root}, c.opts...)
		ops, err := m.JSONPatch(opts...)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ops.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.MarshalJSONPatch(opts...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("%s differs from Ops.MarshalJSON:\n got %s\nwant %s", c.name, got, want)
		}
	}
}

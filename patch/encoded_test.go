package patch_test

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// TestInsertEncodedIsInsertContainer: InsertEncoded(l, i, enc) records
// exactly what InsertContainer(l, i, enc.Container()) records, for every
// list and index (into empty, absent and long lists, first, last, in the
// middle, and -1 for an append), and fails where it fails.
func TestInsertEncodedIsInsertContainer(t *testing.T) {
	sidecar := corev1.Container{Name: "proxy", Image: "proxy:1", RestartPolicy: new(corev1.ContainerRestartPolicy),
		Env: []corev1.EnvVar{{Name: "A", Value: "1"}}}
	*sidecar.RestartPolicy = corev1.ContainerRestartPolicyAlways
	enc, err := patch.EncodeContainer(sidecar)
	if err != nil {
		t.Fatal(err)
	}
	named := func(prefix string, n int) []corev1.Container {
		var out []corev1.Container
		for i := 0; i < n; i++ {
			out = append(out, corev1.Container{Name: prefix + strconv.Itoa(i), Image: "img"})
		}
		return out
	}
	specs := map[string]*corev1.PodSpec{
		"no init containers": {Containers: named("app", 1)},
		"empty init list":    {InitContainers: []corev1.Container{}, Containers: named("app", 2)},
		"three of each":      {InitContainers: named("init", 3), Containers: named("app", 3)},
		"forty containers":   {Containers: named("app", 40)},
		"name taken":         {InitContainers: []corev1.Container{{Name: "proxy"}}, Containers: named("app", 1)},
	}
	for name, spec := range specs {
		for _, l := range []patch.List{patch.InitContainers, patch.Containers} {
			n := len(spec.InitContainers)
			if l == patch.Containers {
				n = len(spec.Containers)
			}
			for _, i := range []int{-1, 0, 1, n / 2, n - 1, n, n + 1} {
				t.Run(name+"/"+string(l)+"/"+strconv.Itoa(i), func(t *testing.T) {
					byValue := patch.New(&metav1.ObjectMeta{}, spec)
					byEnc := patch.New(&metav1.ObjectMeta{}, spec)
					var errValue, errEnc error
					if i < 0 {
						errValue = byValue.AppendContainer(l, enc.Container())
						// InsertEncoded has no append of its own: the
						// list's length appends.
						errEnc = byEnc.InsertEncoded(l, n, enc)
					} else {
						errValue = byValue.InsertContainer(l, i, enc.Container())
						errEnc = byEnc.InsertEncoded(l, i, enc)
					}
					if (errValue == nil) != (errEnc == nil) || errValue != nil && errValue.Error() != errEnc.Error() {
						t.Fatalf("InsertContainer: %v; InsertEncoded: %v", errValue, errEnc)
					}
					want, err := byValue.MarshalJSONPatch(patch.PodRoot, patch.Guarded())
					if err != nil {
						t.Fatal(err)
					}
					got, err := byEnc.MarshalJSONPatch(patch.PodRoot, patch.Guarded())
					if err != nil {
						t.Fatal(err)
					}
					if string(got) != string(want) {
						t.Errorf("InsertEncoded:\n%s\nInsertContainer:\n%s", got, want)
					}
					_, wantSpec := byValue.Result()
					_, gotSpec := byEnc.Result()
					if d := cmp.Diff(wantSpec, gotSpec); d != "" {
						t.Errorf("Result (-InsertContainer +InsertEncoded):\n%s", d)
					}
				})
			}
		}
	}
}

// TestInsertEncodedRefusesZero: a nil or zero EncodedContainer (not made
// by EncodeContainer) is refused, and nothing is recorded.
func TestInsertEncodedRefusesZero(t *testing.T) {
	for name, enc := range map[string]*patch.EncodedContainer{"nil": nil, "zero": {}} {
		m := patch.New(nil, &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}})
		err := m.InsertEncoded(patch.Containers, 0, enc)
		if want := "patch: insert: nil or zero EncodedContainer"; err == nil || err.Error() != want {
			t.Errorf("%s: InsertEncoded = %v, want %s", name, err, want)
		}
		if !m.Empty() || m.Len() != 0 {
			t.Errorf("%s: the mutation recorded %d edits", name, m.Len())
		}
	}
}

// TestAddEncodedVolumeIsAddVolume: AddEncodedVolume(EncodeVolume(v))
// records exactly what AddVolume(v) records, into an absent, an empty and
// a longer volume list, guarded or not, and fails where it fails (a name
// in use); the Ops it renders own their values, so a caller that changes
// them changes neither the EncodedVolume nor another mutation.
func TestAddEncodedVolumeIsAddVolume(t *testing.T) {
	vol := corev1.Volume{Name: "proxy-socket", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}
	src := *vol.DeepCopy()
	enc, err := patch.EncodeVolume(src)
	if err != nil {
		t.Fatal(err)
	}
	src.EmptyDir.Medium = "changed" // EncodeVolume took a deep copy: the results below compare
	for name, vols := range map[string][]corev1.Volume{
		"absent": nil,
		"empty":  {},
		"longer": {{Name: "data"}, {Name: "cache"}},
		"in use": {{Name: "proxy-socket"}},
	} {
		spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}, Volumes: vols}
		plain, encoded := patch.New(nil, spec), patch.New(nil, spec)
		errPlain, errEnc := plain.AddVolume(vol), encoded.AddEncodedVolume(enc)
		if (errPlain == nil) != (errEnc == nil) || errPlain != nil && errPlain.Error() != errEnc.Error() {
			t.Fatalf("%s: AddVolume %v, AddEncodedVolume %v", name, errPlain, errEnc)
		}
		for _, opts := range [][]patch.RenderOption{nil, {patch.Guarded()}} {
			want, err := plain.MarshalJSONPatch(opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encoded.MarshalJSONPatch(opts...)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("%s: AddEncodedVolume renders %s, AddVolume %s", name, got, want)
			}
		}
		_, wantSpec := plain.Result()
		_, gotSpec := encoded.Result()
		if diff := cmp.Diff(wantSpec, gotSpec); diff != "" {
			t.Errorf("%s: results differ (-AddVolume +AddEncodedVolume):\n%s", name, diff)
		}
		if errEnc != nil {
			continue
		}
		ops, err := encoded.JSONPatch()
		if err != nil {
			t.Fatal(err)
		}
		before := string(ops[0].Value)
		for i := range ops[0].Value {
			ops[0].Value[i] = ' '
		}
		again := patch.New(nil, spec)
		if err := again.AddEncodedVolume(enc); err != nil {
			t.Fatal(err)
		}
		if ops2, _ := again.JSONPatch(); string(ops2[0].Value) != before {
			t.Errorf("%s: changing one mutation's op changed the EncodedVolume: %s", name, ops2[0].Value)
		}
	}
	for name, enc := range map[string]*patch.EncodedVolume{"nil": nil, "zero": {}} {
		m := patch.New(nil, &corev1.PodSpec{})
		if err := m.AddEncodedVolume(enc); err == nil || err.Error() != "patch: add volume: nil or zero EncodedVolume" {
			t.Errorf("%s: AddEncodedVolume = %v", name, err)
		}
		if !m.Empty() {
			t.Errorf("%s: the mutation recorded an edit", name)
		}
	}
}

package patch_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
)

// TestRenderMetadataWithoutRoot: a metadata edit rendered at a root that
// has no pod metadata beside it (one not ending in /spec) is an error
// naming the root and the op, never a patch of the wrong place; the spec's
// edits alone render there.
func TestRenderMetadataWithoutRoot(t *testing.T) {
	for _, tc := range []struct {
		name    string
		root    patch.Root
		meta    bool
		wantErr string
	}{
		{"metadata edit, root without metadata", patch.Root("/items/0"), true, `patch: root "/items/0" has no pod metadata for add`},
		{"spec edit only, root without metadata", patch.Root("/items/0"), false, ""},
		{"metadata edit, template root", patch.TemplateRoot, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := patch.New(nil, &corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}})
			if err := m.AppendContainer(patch.Containers, corev1.Container{Name: "proxy"}); err != nil {
				t.Fatal(err)
			}
			if tc.meta {
				if err := m.SetAnnotation("a", "b"); err != nil {
					t.Fatal(err)
				}
			}
			b, err := m.MarshalJSONPatch(tc.root)
			_, err2 := m.JSONPatch(tc.root)
			if tc.wantErr == "" {
				if err != nil || err2 != nil {
					t.Fatalf("MarshalJSONPatch: %v; JSONPatch: %v", err, err2)
				}
				if !strings.Contains(string(b), `"path":"`+string(tc.root)+`/containers/-"`) {
					t.Errorf("patch %s does not add the container under %s", b, tc.root)
				}
				return
			}
			for _, e := range []error{err, err2} {
				if e == nil || !strings.Contains(e.Error(), tc.wantErr) {
					t.Errorf("error %v, want one containing %q", e, tc.wantErr)
				}
			}
		})
	}
	if m, ok := patch.Root("/items/0").Metadata(); ok || m != "" {
		t.Errorf(`Root("/items/0").Metadata() = %q, %v; want "", false`, m, ok)
	}
}

// TestNewNilSpec: New with a nil spec is a Mutation of an empty PodSpec:
// its patches, JSON and strategic merge, are those of New with &PodSpec{}.
func TestNewNilSpec(t *testing.T) {
	for _, spec := range []*corev1.PodSpec{nil, {}} {
		m := patch.New(nil, spec)
		if err := m.AppendContainer(patch.Containers, corev1.Container{Name: "app"}); err != nil {
			t.Fatal(err)
		}
		b, err := m.StrategicMerge()
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"spec":{"containers":[{"name":"app"}]}}`; string(b) != want {
			t.Errorf("New(nil, spec) with spec non-nil %v: strategic merge patch %s, want %s", spec != nil, b, want)
		}
	}
	m := patch.New(nil, nil)
	if err := m.AppendContainer(patch.Containers, corev1.Container{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	_, spec := m.Result()
	if len(spec.Containers) != 1 || spec.Containers[0].Name != "app" {
		t.Errorf("Result's containers %+v, want app alone", spec.Containers)
	}
	b, err := m.MarshalJSONPatch()
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"op":"add","path":"/spec/containers","value":[{"name":"app"}]}]`; string(b) != want {
		t.Errorf("patch %s, want %s", b, want)
	}
}

// TestEditRefusals: an edit that cannot be made is refused with an error
// saying what and where, and records nothing; Apply of edits to a spec
// they do not fit fails, naming the edit, and leaves the spec unchanged.
func TestEditRefusals(t *testing.T) {
	spec := func() *corev1.PodSpec {
		return &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}}}
	}
	for _, tc := range []struct {
		name string
		edit func(m *patch.Mutation) error
		want string
	}{
		{"value that does not encode", func(m *patch.Mutation) error {
			return m.SetContainerField(patch.Containers, "app", "image", make(chan int))
		}, "patch: encode app.image: json: unsupported type: chan int"},
		{"set field of a missing container", func(m *patch.Mutation) error {
			return m.SetContainerField(patch.Containers, "web", "image", "w")
		}, `patch: set field: `},
		{"set field in an unknown list", func(m *patch.Mutation) error {
			return m.SetContainerField(patch.List("sidecars"), "app", "image", "w")
		}, `unknown container list "sidecars"`},
		{"unknown field, the supported ones listed in the API's order", func(m *patch.Mutation) error {
			return m.SetContainerField(patch.Containers, "app", "imag", "x")
		}, `spec.containers[0].imag: Unsupported value: "imag": supported values: "name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources"`},
		{"clear field of a missing container", func(m *patch.Mutation) error {
			return m.ClearContainerField(patch.InitContainers, "app", "image")
		}, `patch: set field: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := patch.New(nil, spec())
			err := tc.edit(m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if !m.Empty() || m.Len() != 0 {
				t.Errorf("a refused edit left %d ops, %d edits", m.NumOps(), m.Len())
			}
		})
	}

	m := patch.New(nil, spec())
	if err := m.SetContainerField(patch.Containers, "app", "image", "b"); err != nil {
		t.Fatal(err)
	}
	other := &corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "w"}}}
	err := m.Apply(nil, other)
	if err == nil || !strings.Contains(err.Error(), "patch: apply: edit 0: ") {
		t.Fatalf("Apply to a spec without the container: %v, want an error naming edit 0", err)
	}
	if other.Containers[0].Image != "w" || len(other.Containers) != 1 {
		t.Errorf("a failed Apply changed the spec: %+v", other.Containers)
	}
}

// TestDiffNilAfter: Diff to a nil spec is an error, not a mutation.
func TestDiffNilAfter(t *testing.T) {
	m, err := patch.Diff(&corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}, nil)
	if err == nil || m != nil || !strings.Contains(err.Error(), "patch: diff: nil spec") {
		t.Errorf("Diff(spec, nil) = %v, %v; want nil and the error", m, err)
	}
}

// TestRenderSizes: rendering sizes its buffer from the ops; whatever their
// sizes (a long resourceVersion, many ops without a value, guards on a
// container with a long name, a long or empty root), the patch is
// complete and valid JSON.
func TestRenderSizes(t *testing.T) {
	long := strings.Repeat("x", 300)
	envs := func(name string, n int) *corev1.PodSpec {
		c := corev1.Container{Name: name}
		for i := 0; i < n; i++ {
			c.Env = append(c.Env, corev1.EnvVar{Name: "E" + strconv.Itoa(i)})
		}
		return &corev1.PodSpec{Containers: []corev1.Container{c}}
	}
	removeAll := func(name string, n int) func(m *patch.Mutation) error {
		return func(m *patch.Mutation) error {
			for i := 0; i < n; i++ {
				if err := m.RemoveEnv(patch.Containers, name, "E"+strconv.Itoa(i)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name string
		spec *corev1.PodSpec
		edit func(m *patch.Mutation) error
		opts []patch.RenderOption
		ops  int
		path string // the last op's path
	}{
		{"a long resourceVersion alone", envs("app", 0), func(*patch.Mutation) error { return nil },
			[]patch.RenderOption{patch.ResourceVersion(strings.Repeat("9", 200))}, 1, "/metadata/resourceVersion"},
		{"many removals", envs("app", 30), removeAll("app", 30), nil, 30, "/spec/containers/0/env/0"},
		{"guarded removals of a long-named container", envs(long, 10), removeAll(long, 10), []patch.RenderOption{patch.Guarded()}, 20, "/spec/containers/0/env/0"},
		{"a long root", envs("app", 3), removeAll("app", 3), []patch.RenderOption{patch.Root("/" + strings.Repeat("r", 2000) + "/spec")}, 3, "/" + strings.Repeat("r", 2000) + "/spec/containers/0/env/0"},
		{"guarded at the empty root", envs("app", 3), removeAll("app", 3), []patch.RenderOption{patch.Root(""), patch.Guarded()}, 6, "/containers/0/env/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := patch.New(nil, tc.spec)
			if err := tc.edit(m); err != nil {
				t.Fatal(err)
			}
			b, err := m.MarshalJSONPatch(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var ops patch.Ops
			if err := json.Unmarshal(b, &ops); err != nil {
				t.Fatalf("patch is not valid JSON (%v): %s", err, b)
			}
			if len(ops) != tc.ops || ops[len(ops)-1].Path != tc.path {
				t.Errorf("%d ops ending at %q, want %d ending at %q: %s", len(ops), ops[len(ops)-1].Path, tc.ops, tc.path, b)
			}
		})
	}
}

// TestOpsMarshalLongFrom: Ops encode whatever the lengths of their
// members (the buffer is sized from them).
func TestOpsMarshalLongFrom(t *testing.T) {
	from := "/" + strings.Repeat("f", 500)
	b, err := json.Marshal(patch.Ops{{Op: "copy", From: from, Path: "/a"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"op":"copy","from":"` + from + `","path":"/a"}]`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

package patch

import (
	"bytes"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/encoded"
)

// TestFreshPlan holds freshPlan.appendPatch to a Mutation that makes the
// same edits (InsertEncoded, AddEncodedVolume, AddVolumeMount, AddEnv,
// SetAnnotation with the prepared annotation): the same bytes and ops,
// for lists absent, empty and not, metadata and annotations absent or
// not, and every insertion index.
func TestFreshPlan(t *testing.T) {
	c1, err := EncodeContainer(corev1.Container{Name: "proxy", Image: "proxy:1"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := EncodeContainer(corev1.Container{Name: "init-proxy", Image: "proxy:1"})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := EncodeVolume(corev1.Volume{Name: "sock", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := EncodeVolume(corev1.Volume{Name: "certs"})
	if err != nil {
		t.Fatal(err)
	}
	mounts := []corev1.VolumeMount{{Name: "sock", MountPath: "/sock"}, {Name: "certs", MountPath: "/a~b/c", ReadOnly: true}}
	env := []corev1.EnvVar{{Name: "A", Value: `"quoted" <html>`}, {Name: "B"}}
	const key = "sidecar.sidecarkit.io/proxy"
	for _, plan := range []struct {
		name    string
		inits   []*EncodedContainer
		volumes []*EncodedVolume
		mounts  []corev1.VolumeMount
		env     []corev1.EnvVar
	}{
		{"one of each", []*EncodedContainer{c1}, []*EncodedVolume{v1}, mounts[:1], env[:1]},
		{"two of each", []*EncodedContainer{c1, c2}, []*EncodedVolume{v1, v2}, mounts, env},
		{"containers only", []*EncodedContainer{c1}, nil, nil, nil},
	} {
		var inits, volumes []interface{}
		for _, c := range plan.inits {
			inits = append(inits, c)
		}
		for _, v := range plan.volumes {
			volumes = append(volumes, v)
		}
		fx, err := encoded.Fresh(inits, volumes, plan.mounts, plan.env)
		if err != nil {
			t.Fatal(err)
		}
		for _, pod := range []string{
			`{"spec":{"containers":[{"name":"a"}]}}`,
			`{"metadata":{},"spec":{"containers":[{"name":"a"}]}}`,
			`{"metadata":{"annotations":{}},"spec":{"initContainers":[],"volumes":[],"containers":[{"name":"a","volumeMounts":[],"env":[]}]}}`,
			`{"metadata":{"annotations":{"k":"v"}},"spec":{"initContainers":[{"name":"i"},{"name":"j"}],"volumes":[{"name":"x"}],"containers":[{"name":"a","volumeMounts":[{"name":"x","mountPath":"/x"}]},{"name":"b","env":[{"name":"E"}]},{"name":"c"}]}}`,
			`{"spec":{"containers":[]}}`,
		} {
			obj, err := DecodeAs([]byte(pod), "Pod")
			if err != nil {
				t.Fatal(err)
			}
			for at := 0; at <= len(obj.Spec.InitContainers); at++ {
				t.Run(fmt.Sprintf("%s/%s/%d", plan.name, pod, at), func(t *testing.T) {
					ann := prepareAnnotation(key, `{"v":2,"path":"/a~b"}`)
					got, n, err := encoded.AppendFresh([]byte("prefix"), fx, obj, at, ann)
					if err != nil {
						t.Fatal(err)
					}
					m := obj.Mutation()
					encoded.Use(m, ann)
					for k, c := range plan.inits {
						if err := m.InsertEncoded(InitContainers, at+k, c); err != nil {
							t.Fatal(err)
						}
					}
					for _, v := range plan.volumes {
						if err := m.AddEncodedVolume(v); err != nil {
							t.Fatal(err)
						}
					}
					for i := range obj.Spec.Containers {
						for _, vm := range plan.mounts {
							if err := m.AddVolumeMount(Containers, obj.Spec.Containers[i].Name, vm); err != nil {
								t.Fatal(err)
							}
						}
						for _, e := range plan.env {
							if err := m.AddEnv(Containers, obj.Spec.Containers[i].Name, e); err != nil {
								t.Fatal(err)
							}
						}
					}
					if err := m.SetAnnotation(key, ann.value); err != nil {
						t.Fatal(err)
					}
					want, err := m.MarshalJSONPatch()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, append([]byte("prefix"), want...)) {
						t.Errorf("fresh\n%s\nwant prefix and\n%s", got, want)
					}
					if n != m.NumOps() {
						t.Errorf("fresh ops %d, want %d", n, m.NumOps())
					}
				})
			}
		}
	}
}

// TestFreshMisuse checks that the bridge refuses what is not its own and
// an index out of range, without a panic.
func TestFreshMisuse(t *testing.T) {
	c, err := EncodeContainer(corev1.Container{Name: "proxy"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := encoded.Fresh([]interface{}{"x"}, nil, nil, nil); err == nil {
		t.Error("Fresh took a string for a container")
	}
	if _, err := encoded.Fresh([]interface{}{(*EncodedContainer)(nil)}, nil, nil, nil); err == nil {
		t.Error("Fresh took a nil container")
	}
	if _, err := encoded.Fresh([]interface{}{c}, []interface{}{c}, nil, nil); err == nil {
		t.Error("Fresh took a container for a volume")
	}
	if _, err := encoded.Fresh([]interface{}{c}, []interface{}{(*EncodedVolume)(nil)}, nil, nil); err == nil {
		t.Error("Fresh took a nil volume")
	}
	fx, err := encoded.Fresh([]interface{}{c}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := DecodeAs([]byte(`{"spec":{"initContainers":[{"name":"i"}]}}`), "Pod")
	if err != nil {
		t.Fatal(err)
	}
	ann := prepareAnnotation("k", "v")
	for _, tc := range []struct {
		name          string
		plan, obj, an interface{}
		at            int
	}{
		{"plan", "x", obj, ann, 0},
		{"object", fx, "x", ann, 0},
		{"annotation", fx, obj, "x", 0},
		{"nil plan", (*freshPlan)(nil), obj, ann, 0},
		{"nil object", fx, (*Object)(nil), ann, 0},
		{"nil annotation", fx, obj, (*preparedAnnotation)(nil), 0},
		{"no spec", fx, &Object{Kind: "Pod"}, ann, 0},
		{"index below", fx, obj, ann, -1},
		{"index above", fx, obj, ann, 2},
		{"a root without pod metadata", fx, &Object{Kind: "Pod", Root: "/x", Spec: obj.Spec}, ann, 0},
	} {
		if b, n, err := encoded.AppendFresh(nil, tc.plan, tc.obj, tc.at, tc.an); err == nil || b != nil || n != 0 {
			t.Errorf("%s: %q, %d, %v; want an error", tc.name, b, n, err)
		}
	}
	want, _, err := encoded.AppendFresh(nil, fx, obj, 1, ann)
	if err != nil {
		t.Fatalf("at the end: %v", err)
	}
	// An Object made by hand, without a Root, is a Pod's.
	got, _, err := encoded.AppendFresh(nil, fx, &Object{Kind: "Pod", Meta: obj.Meta, Spec: obj.Spec}, 1, ann)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("without a Root: %s, %v; want %s", got, err, want)
	}
}

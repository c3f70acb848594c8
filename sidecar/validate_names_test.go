package sidecar_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/internal/optioncases"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestValidatePodDuplicateNames: container names are unique across
// containers, initContainers and ephemeralContainers. Like the API server
// (k8s.io/kubernetes pkg/apis/core/validation: validateContainers, then
// validateInitContainers seeded with the regular names, then
// validateEphemeralContainers seeded with both), a clash is reported on
// the element of the list validated later (containers, then
// initContainers, then ephemeralContainers), whichever list the name comes
// first in within the document, with the exact path and text. Each pair of
// lists, and each list with itself, in both positions.
func TestValidatePodDuplicateNames(t *testing.T) {
	ctrs := func(names ...string) []corev1.Container {
		var out []corev1.Container
		for _, n := range names {
			out = append(out, corev1.Container{Name: n, Image: "img"})
		}
		return out
	}
	eph := func(names ...string) []corev1.EphemeralContainer {
		var out []corev1.EphemeralContainer
		for _, n := range names {
			out = append(out, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: n, Image: "img"}})
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		init, regular []string
		ephemeral     []string
		want          []string
	}{
		{"regular twice", nil, []string{"a", "b", "a"}, nil,
			[]string{`spec.containers[2].name: Duplicate value: "a"`}},
		{"regular twice, adjacent", nil, []string{"a", "a", "b"}, nil,
			[]string{`spec.containers[1].name: Duplicate value: "a"`}},
		{"init twice", []string{"a", "b", "a"}, []string{"app"}, nil,
			[]string{`spec.initContainers[2].name: Duplicate value: "a"`}},
		{"init twice, adjacent", []string{"b", "a", "a"}, []string{"app"}, nil,
			[]string{`spec.initContainers[2].name: Duplicate value: "a"`}},
		{"ephemeral twice", nil, []string{"app"}, []string{"a", "a"},
			[]string{`spec.ephemeralContainers[1].name: Duplicate value: "a"`}},
		{"ephemeral twice, apart", nil, []string{"app"}, []string{"a", "b", "a"},
			[]string{`spec.ephemeralContainers[2].name: Duplicate value: "a"`}},
		{"init, then regular: reported on the init container", []string{"x", "a"}, []string{"a", "y"}, nil,
			[]string{`spec.initContainers[1].name: Duplicate value: "a"`}},
		{"regular, then init: reported on the init container", []string{"a", "x"}, []string{"y", "a"}, nil,
			[]string{`spec.initContainers[0].name: Duplicate value: "a"`}},
		{"regular and ephemeral", nil, []string{"app", "a"}, []string{"b", "a"},
			[]string{`spec.ephemeralContainers[1].name: Duplicate value: "a"`}},
		{"ephemeral first, then regular: reported on the ephemeral container", nil, []string{"a"}, []string{"a"},
			[]string{`spec.ephemeralContainers[0].name: Duplicate value: "a"`}},
		{"init and ephemeral", []string{"x", "a"}, []string{"app"}, []string{"a"},
			[]string{`spec.ephemeralContainers[0].name: Duplicate value: "a"`}},
		{"init and ephemeral, ephemeral later in its list", []string{"a"}, []string{"app"}, []string{"b", "c", "a"},
			[]string{`spec.ephemeralContainers[2].name: Duplicate value: "a"`}},
		{"one name in all three lists", []string{"a"}, []string{"a"}, []string{"a"},
			[]string{`spec.initContainers[0].name: Duplicate value: "a"`, `spec.ephemeralContainers[0].name: Duplicate value: "a"`}},
		{"two clashes of different names", []string{"a", "b"}, []string{"b", "c"}, []string{"a", "c"},
			[]string{`spec.initContainers[1].name: Duplicate value: "b"`, `spec.ephemeralContainers[0].name: Duplicate value: "a"`, `spec.ephemeralContainers[1].name: Duplicate value: "c"`}},
		{"no clash: same prefix, different names", []string{"a1"}, []string{"a"}, []string{"a2"}, nil},
		// An init container without a name is reported as required, not
		// as a duplicate of another nameless one (the API server records
		// only non-empty init names).
		{"nameless init containers", []string{"", ""}, []string{"app"}, nil,
			[]string{`spec.initContainers[0].name: Required value`, `spec.initContainers[1].name: Required value`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{InitContainers: ctrs(tc.init...), Containers: ctrs(tc.regular...), EphemeralContainers: eph(tc.ephemeral...)}
			var got []string
			for _, e := range sidecar.ValidatePod(spec) {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestInjectNameClashes: a sidecar whose name a container of the Pod
// already has, in any of the three lists, is refused with that
// container's path; Inject validates what it changes, so the clash is
// caught whichever list the sidecar goes to (native: initContainers;
// legacy: containers).
func TestInjectNameClashes(t *testing.T) {
	spec := sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "proxy:1"}}
	for _, mode := range []sidecar.Mode{sidecar.Native, sidecar.Legacy} {
		for _, tc := range []struct {
			name string
			pod  corev1.PodSpec
			path string
		}{
			{"an init container", corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "setup", Image: "s"}, {Name: "proxy", Image: "other"}},
				Containers:     []corev1.Container{{Name: "app", Image: "a"}},
			}, "spec.initContainers[1].name"},
			{"a regular container", corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "a"}, {Name: "proxy", Image: "other"}},
			}, "spec.containers[1].name"},
			{"an ephemeral container", corev1.PodSpec{
				Containers: []corev1.Container{{Name: "app", Image: "a"}},
				EphemeralContainers: []corev1.EphemeralContainer{
					{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "d"}},
					{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "proxy", Image: "d"}},
				},
			}, "spec.ephemeralContainers[1].name"},
		} {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) {
				_, err := sidecar.Inject(nil, &tc.pod, spec, optioncases.NativeOrdered, sidecar.Options{Mode: mode})
				if err == nil {
					t.Fatal("Inject accepted a sidecar whose name is taken")
				}
				if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), `"proxy"`) {
					t.Errorf("error %q does not name %s and \"proxy\"", err, tc.path)
				}
			})
		}
	}
}

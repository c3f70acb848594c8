package sidecar_test

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestParseMode: every mode's text form parses back to it, whatever its
// case and surrounding space; anything else is an error listing them.
func TestParseMode(t *testing.T) {
	for _, m := range []sidecar.Mode{sidecar.Auto, sidecar.Native, sidecar.Legacy, sidecar.Pinned, sidecar.Universal} {
		for _, s := range []string{m.String(), " " + strings.ToUpper(m.String()) + "\t"} {
			got, err := sidecar.ParseMode(s)
			if err != nil || got != m {
				t.Errorf("ParseMode(%q) = %q, %v; want %q", s, got, err, m)
			}
		}
	}
	if got, err := sidecar.ParseMode(""); err != nil || got != sidecar.Auto {
		t.Errorf("ParseMode(\"\") = %q, %v; want auto", got, err)
	}
	if sidecar.Auto.String() != "auto" || sidecar.Native.String() != "native" {
		t.Errorf("String: %q, %q", sidecar.Auto.String(), sidecar.Native.String())
	}
	for _, s := range []string{"sideways", "nativ", "auto-native"} {
		got, err := sidecar.ParseMode(s)
		if err == nil || got != sidecar.Auto || !strings.Contains(err.Error(), `unknown mode "`+s+`"`) || !strings.Contains(err.Error(), "auto, native, legacy, pinned, universal") {
			t.Errorf("ParseMode(%q) = %q, %v; want an error listing the modes", s, got, err)
		}
	}
}

// TestSpecValidate: one row per rule, with the path and text of each
// error; a valid Spec has none.
func TestSpecValidate(t *testing.T) {
	c := corev1.Container{Name: "proxy", Image: "p:1"}
	vol := func(name string) corev1.Volume {
		return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	}
	for _, tc := range []struct {
		name string
		spec sidecar.Spec
		want []string
	}{
		{"valid", sidecar.Spec{Container: c, Volumes: []corev1.Volume{vol("a"), vol("b")},
			AppMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}, {Name: "a", MountPath: "/b"}},
			AppEnv:    []corev1.EnvVar{{Name: "A"}, {Name: "B"}},
			Placement: sidecar.Placement{Position: sidecar.After, Name: "istio-proxy"}}, nil},
		{"first and last name nothing", sidecar.Spec{Container: c, Placement: sidecar.Placement{Position: sidecar.Last}}, nil},
		{"no name", sidecar.Spec{Container: corev1.Container{Image: "p"}}, []string{"sidecar.container.name: Required value: the sidecar needs a name"}},
		{"bad name", sidecar.Spec{Container: corev1.Container{Name: "Proxy", Image: "p"}}, []string{`sidecar.container.name: Invalid value: "Proxy"`}},
		{"no image", sidecar.Spec{Container: corev1.Container{Name: "proxy"}}, []string{"sidecar.container.image: Required value: the sidecar needs an image"}},
		{"volume without a name", sidecar.Spec{Container: c, Volumes: []corev1.Volume{vol("")}}, []string{"sidecar.volumes[0].name: Required value"}},
		{"bad volume name", sidecar.Spec{Container: c, Volumes: []corev1.Volume{vol("a"), vol("B_1")}}, []string{`sidecar.volumes[1].name: Invalid value: "B_1": a lowercase RFC 1123 label`}},
		{"duplicate volume", sidecar.Spec{Container: c, Volumes: []corev1.Volume{vol("a"), vol("b"), vol("a")}}, []string{`sidecar.volumes[2].name: Duplicate value: "a (also sidecar.volumes[0])"`}},
		{"app mount without a path", sidecar.Spec{Container: c, Volumes: []corev1.Volume{vol("a")}, AppMounts: []corev1.VolumeMount{{Name: "a"}}}, []string{"sidecar.appMounts[0].mountPath: Required value"}},
		{"duplicate app mount path", sidecar.Spec{Container: c, Volumes: []corev1.Volume{vol("a")}, AppMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}, {Name: "a", MountPath: "/a"}}},
			[]string{`sidecar.appMounts[1].mountPath: Duplicate value: "/a"`}},
		{"app mount without a volume name", sidecar.Spec{Container: c, AppMounts: []corev1.VolumeMount{{MountPath: "/a"}}}, []string{"sidecar.appMounts[0].name: Required value"}},
		{"app mount of a volume not in the spec", sidecar.Spec{Container: c, Volumes: []corev1.Volume{vol("a")}, AppMounts: []corev1.VolumeMount{{Name: "b", MountPath: "/a"}}},
			[]string{`sidecar.appMounts[0].name: Not found: "b"`}},
		{"app env without a name", sidecar.Spec{Container: c, AppEnv: []corev1.EnvVar{{Name: "A"}, {Value: "x"}}}, []string{"sidecar.appEnv[1].name: Required value"}},
		{"duplicate app env", sidecar.Spec{Container: c, AppEnv: []corev1.EnvVar{{Name: "A"}, {Name: "A"}}}, []string{`sidecar.appEnv[1].name: Duplicate value: "A"`}},
		{"first with a name", sidecar.Spec{Container: c, Placement: sidecar.Placement{Position: sidecar.First, Name: "x"}}, []string{`sidecar.placement.name: Invalid value: "x": only Before and After name a container`}},
		{"zero position with a name", sidecar.Spec{Container: c, Placement: sidecar.Placement{Name: "x"}}, []string{`sidecar.placement.name: Invalid value: "x"`}},
		{"before without a name", sidecar.Spec{Container: c, Placement: sidecar.Placement{Position: sidecar.Before}}, []string{"sidecar.placement.name: Required value: Before needs the name of a container"}},
		{"after itself", sidecar.Spec{Container: c, Placement: sidecar.Placement{Position: sidecar.After, Name: "proxy"}}, []string{`sidecar.placement.name: Invalid value: "proxy": the sidecar cannot be placed relative to itself`}},
		{"unknown position", sidecar.Spec{Container: c, Placement: sidecar.Placement{Position: "Middle"}}, []string{`sidecar.placement.position: Unsupported value: "Middle": supported values: "First", "Last", "Before", "After"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: no error, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v\nwant %q", err, w)
				}
			}
			var agg utilerrors.Aggregate
			if !errors.As(err, &agg) || len(agg.Errors()) != len(tc.want) {
				n := -1
				if agg != nil {
					n = len(agg.Errors())
				}
				t.Errorf("Validate: %d errors (%v), want %d", n, err, len(tc.want))
			}
		})
	}
}

// TestLoadSpecErrors: each way a document can fail says how.
func TestLoadSpecErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"not YAML", "container: [", "sidecar: load spec: yaml: "},
		{"empty", "  \n", "sidecar: load spec: empty document"},
		{"null", "null", "sidecar: load spec: empty document"},
		{"not an object", "- a\n- b\n", "sidecar: load spec: want an object"},
		{"unknown field, full form", "container: {name: proxy, image: p}\nvolume: []\n", `sidecar: load spec: error unmarshaling JSON: while decoding JSON: json: unknown field "volume"`},
		{"unknown field, plain form", "name: proxy\nimage: p\nimages: []\n", `sidecar: load spec (a plain container): error unmarshaling JSON: while decoding JSON: json: unknown field "images"`},
		{"invalid", "name: proxy\n", "sidecar: load spec: sidecar.container.image: Required value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sidecar.LoadSpec([]byte(tc.doc))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("LoadSpec: %v, want %q", err, tc.want)
			}
		})
	}
	s, err := sidecar.LoadSpec([]byte(`{"name":"proxy","image":"p:1","args":["a"]}`))
	if err != nil || s.Container.Name != "proxy" || len(s.Container.Args) != 1 || s.Volumes != nil {
		t.Errorf("LoadSpec of a plain container: %+v, %v", s, err)
	}
}

// TestModeChoiceErrors: an unknown mode or fallback is an error naming it.
func TestModeChoiceErrors(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}}}
	s := sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1"}}
	for _, tc := range []struct {
		name string
		o    sidecar.Options
		want string
	}{
		{"mode", sidecar.Options{Mode: "sideways"}, `sidecar: unknown mode "sideways" (want one of auto, native, legacy, pinned, universal)`},
		{"fallback", sidecar.Options{Fallback: "sideways"}, `sidecar: Options.Fallback: unknown mode "sideways"`},
	} {
		_, err := sidecar.Inject(nil, spec, s, compat.Capability{}, tc.o)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	// An explicit Auto fallback is Legacy's.
	res, err := sidecar.Inject(nil, spec, s, compat.Capability{}, sidecar.Options{Fallback: sidecar.Auto})
	if err != nil || res.Mode != sidecar.Legacy {
		t.Errorf("fallback auto: %s, %v; want legacy", res.Mode, err)
	}
}

// TestForcedWarnings: a forced mode warns of what the capability says
// will go wrong, and of nothing else.
func TestForcedWarnings(t *testing.T) {
	spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a"}}}
	s := sidecar.Spec{Container: corev1.Container{Name: "proxy", Image: "p:1"}}
	const (
		drops   = "drops restartPolicy"
		unknown = "does not know restartPolicy"
		strips  = "ignore restartPolicy"
		rejects = "reject pods with native sidecars"
	)
	for _, tc := range []struct {
		name string
		mode sidecar.Mode
		c    compat.Capability
		want []string
	}{
		{"native, API server drops", sidecar.Native, compat.Capability{Kubelet: compat.KubeletNative, APIServer: compat.APIServerDrops}, []string{drops}},
		{"native, API server unknown field", sidecar.Native, compat.Capability{Kubelet: compat.KubeletNative, APIServer: compat.APIServerUnknownField}, []string{unknown}},
		{"native, strips", sidecar.Native, compat.Capability{Kubelet: compat.KubeletStrips, APIServer: compat.APIServerStores}, []string{strips}},
		{"native, rejects", sidecar.Native, compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerStores}, []string{rejects}},
		{"native, both", sidecar.Native, compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerUnknownField}, []string{unknown, rejects}},
		{"native, fine", sidecar.Native, compat.Capability{Kubelet: compat.KubeletNative, APIServer: compat.APIServerStores}, nil},
		{"pinned, rejects and unknown field", sidecar.Pinned, compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerUnknownField}, []string{unknown}},
		{"legacy, everything", sidecar.Legacy, compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerDrops}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := sidecar.Inject(nil, spec, s, tc.c, sidecar.Options{Mode: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warnings) != len(tc.want) {
				t.Fatalf("warnings %q, want %d containing %q", res.Warnings, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(text(res.Warnings[i]), w) {
					t.Errorf("warning %d %q, want %q", i, res.Warnings[i], w)
				}
			}
			if res.Reason != string(tc.mode)+" mode was requested" || res.Code != "" {
				t.Errorf("reason %q, code %q", res.Reason, res.Code)
			}
		})
	}
}

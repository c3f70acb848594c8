package sidecar_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Uninject's refusals and edge cases, on raw Pods.
func TestUninjectRefusals(t *testing.T) {
	raw, _ := injected(t, "several-init", sidecar.Native)
	for _, tc := range []struct {
		name string
		doc  []byte
		want string
	}{
		{"a volume the author still mounts", apply(t, raw, patch.Ops{op("add", "/spec/containers/1/volumeMounts/-", `{"name":"proxy-socket","mountPath":"/mine"}`)}),
			`sidecar: uninject: spec.containers[1].volumeMounts[1]: still mounts volume "proxy-socket" that the sidecar added`},
		{"a volume an init container mounts", apply(t, raw, patch.Ops{op("add", "/spec/initContainers/2/volumeMounts", `[{"name":"proxy-socket","mountPath":"/mine"}]`)}),
			`sidecar: uninject: spec.initContainers[1].volumeMounts[0]: still mounts volume "proxy-socket" that the sidecar added`},
		{"a volume mounted many times: the first mount is named", apply(t, raw, patch.Ops{
			op("add", "/spec/containers/1/volumeMounts/-", `{"name":"proxy-socket","mountPath":"/mine"}`),
			op("add", "/spec/initContainers/1/volumeMounts", `[{"name":"proxy-socket","mountPath":"/b"},{"name":"proxy-socket","mountPath":"/c"}]`),
			op("add", "/spec/initContainers/2/volumeMounts", `[{"name":"proxy-socket","mountPath":"/a"}]`),
		}), `sidecar: uninject: spec.initContainers[0].volumeMounts[0]: still mounts volume "proxy-socket" that the sidecar added`},
		{"init containers of the name without a record", apply(t, raw, patch.Ops{op("remove", "/metadata/annotations/sidecar.sidecarkit.io~1proxy", ""),
			op("add", "/spec/initContainers/-", `{"name":"proxy","image":"mine"}`)}),
			`sidecar: uninject: spec.initContainers[0]: container "proxy" was not injected by sidecarkit (no sidecar.sidecarkit.io/proxy annotation)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, tc.doc)
			_, err := sidecar.Uninject(obj.Meta, obj.Spec, "proxy")
			if err == nil || err.Error() != tc.want {
				t.Errorf("Uninject: %v\nwant %s", err, tc.want)
			}
		})
	}
	if _, err := sidecar.Uninject(nil, nil, "proxy"); err == nil || err.Error() != "sidecar: uninject: nil pod spec" {
		t.Errorf("Uninject(nil spec): %v", err)
	}
}

// Uninject removes the first container of the sidecar's name it
// verifies, never a second of that name (which a Pod may carry, the API
// server refusing it): here the second still mounts the sidecar's volume,
// so Uninject refuses, naming it.
func TestUninjectDuplicateSidecar(t *testing.T) {
	raw, _ := injected(t, "no-init", sidecar.Native)
	obj := decode(t, raw)
	dup := mustJSON(t, obj.Spec.InitContainers[0])
	twice := decode(t, apply(t, raw, patch.Ops{op("add", "/spec/initContainers/-", string(dup))}))
	_, err := sidecar.Uninject(twice.Meta, twice.Spec, "proxy")
	if want := `sidecar: uninject: spec.initContainers[0].volumeMounts[0]: still mounts volume "proxy-socket" that the sidecar added`; err == nil || err.Error() != want {
		t.Errorf("Uninject: %v, want %s", err, want)
	}
}

// A legacy sidecar whose own mount and env equal what application
// containers get is removed whole, and its items are not removed a
// second time.
func TestUninjectLegacySidecarWithAppItems(t *testing.T) {
	s := fullWith(t, func(s *sidecar.Spec) {
		s.Container.VolumeMounts = []corev1.VolumeMount{s.AppMounts[0]}
		s.Container.Env = []corev1.EnvVar{s.AppEnv[0]}
	})
	raw, _, _ := injectRaw(t, pod(t, "several-init"), s, sidecar.Options{Mode: sidecar.Legacy}, native)
	back := decode(t, uninjectRaw(t, raw))
	orig := decode(t, pod(t, "several-init"))
	if got, want := names(back.Spec.Containers), names(orig.Spec.Containers); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("containers %v, want %v", got, want)
	}
	for _, c := range back.Spec.Containers {
		if hasMount(c.VolumeMounts, "/var/run/proxy") || hasEnv(c.Env, "PROXY_SOCKET") {
			t.Errorf("%s keeps the injection's items: %+v", c.Name, c)
		}
	}
	if findVolume(back.Spec.Volumes, "proxy-socket") != nil {
		t.Error("the sidecar's volume stays")
	}
}

// A Spec of several volumes, mounts and env vars: each is recorded with
// its own digest, so that Uninject verifies and removes every one.
func TestUninjectSeveralOfEach(t *testing.T) {
	s := sidecar.Spec{
		Container: corev1.Container{Name: "proxy", Image: "p:1", VolumeMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}, {Name: "b", MountPath: "/b"}}},
		Volumes: []corev1.Volume{
			{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "b", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		},
		AppMounts: []corev1.VolumeMount{{Name: "a", MountPath: "/a"}, {Name: "b", MountPath: "/b", ReadOnly: true}},
		AppEnv:    []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
	}
	raw, _, _ := injectRaw(t, pod(t, "several-init"), s, sidecar.Options{Mode: sidecar.Native}, native)
	back := decode(t, uninjectRaw(t, raw))
	orig := decode(t, pod(t, "several-init"))
	if got, want := volumeNames(back.Spec.Volumes), volumeNames(orig.Spec.Volumes); got != want {
		t.Errorf("volumes %s, want %s", got, want)
	}
	for i, c := range back.Spec.Containers {
		if len(c.VolumeMounts) != len(orig.Spec.Containers[i].VolumeMounts) || len(c.Env) != len(orig.Spec.Containers[i].Env) {
			t.Errorf("%s keeps some of the injection's items: %+v", c.Name, c)
		}
	}
}

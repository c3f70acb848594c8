package sidecar

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sidecarkit/sidecarkit/internal/podview"
	"github.com/sidecarkit/sidecarkit/patch"
)

// TestQuickNameChecks: the quick checks accept only what apimachinery's
// regular expressions accept, and portNameErrors returns exactly their
// messages.
func TestQuickNameChecks(t *testing.T) {
	names := []string{"", "a", "z", "0", "-", "a-", "-a", "a-b", "a--b", "ab9", "9ab", "99", "A", "aB", "a.b", "a_b",
		"proxy", "istio-proxy", "http", "metrics", "h2c", "p-1", "123456789012345", "a23456789012345", "a234567890123456",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "é", "a b", "a\x00", "-" + strings.Repeat("a", 10)}
	for i := 0; i < 300; i++ { // every string of up to two characters from a small alphabet, and some of three
		const alpha = "a0-Z."
		s := string(alpha[i%5])
		if i >= 5 {
			s += string(alpha[(i/5)%5])
		}
		if i >= 25 {
			s += string(alpha[(i/25)%5])
		}
		names = append(names, s)
	}
	for _, n := range names {
		if isDNS1123Label(n) && len(validation.IsDNS1123Label(n)) > 0 {
			t.Errorf("isDNS1123Label(%q) accepts what IsDNS1123Label rejects", n)
		}
		if !isDNS1123Label(n) && len(validation.IsDNS1123Label(n)) == 0 {
			t.Errorf("isDNS1123Label(%q) rejects a valid label", n)
		}
		got, want := portNameErrors(n), validation.IsValidPortName(n)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("portNameErrors(%q) = %q, want %q", n, got, want)
		}
	}
}

// TestValidateMountsKeptAside: validation sees the volume mounts a
// Mutation keeps aside (see internal/podview's View) in every list and
// for whole containers as well as for the mounts an injection added:
// one naming no volume, and one repeating a mountPath, are errors at
// their index in the container's list.
func TestValidateMountsKeptAside(t *testing.T) {
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
		Containers:     []corev1.Container{{Name: "app"}, {Name: "web", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
		Volumes:        []corev1.Volume{{Name: "data"}},
	}
	m := patch.New(nil, spec)
	for _, e := range []struct {
		l patch.List
		c string
		m corev1.VolumeMount
	}{
		{patch.InitContainers, "init", corev1.VolumeMount{Name: "gone", MountPath: "/g"}},
		{patch.Containers, "app", corev1.VolumeMount{Name: "data", MountPath: "/d"}},
		{patch.Containers, "app", corev1.VolumeMount{Name: "gone", MountPath: "/g"}},
		{patch.Containers, "web", corev1.VolumeMount{Name: "gone", MountPath: "/g"}},
	} {
		if err := m.AddVolumeMount(e.l, e.c, e.m); err != nil {
			t.Fatal(err)
		}
	}
	v := podview.OfMutation(m)
	if v.InitMounts == nil || v.ContainerMounts == nil {
		t.Fatalf("no mounts kept aside: %+v", v)
	}
	for _, tc := range []struct {
		touched map[string]bool
		mounted map[string][]string
		want    []string
	}{
		{nil, nil, []string{
			`spec.containers[0].volumeMounts[1].name: Not found: "gone"`,
			`spec.containers[1].volumeMounts[1].name: Not found: "gone"`,
			`spec.initContainers[0].volumeMounts[1].name: Not found: "gone"`,
		}},
		{map[string]bool{"app": true}, nil, []string{`spec.containers[0].volumeMounts[1].name: Not found: "gone"`}},
		{map[string]bool{"x": true}, map[string][]string{"web": {"/g"}}, []string{`spec.containers[1].volumeMounts[1].name: Not found: "gone"`}},
		{map[string]bool{"x": true}, map[string][]string{"app": {"/d"}}, nil},
	} {
		var got []string
		for _, err := range validatePod(v, tc.touched, tc.mounted) {
			got = append(got, err.Error())
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("touched %v, mounted %v:\n%s\nwant\n%s", tc.touched, tc.mounted, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

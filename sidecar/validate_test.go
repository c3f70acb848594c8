package sidecar_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestValidatePod: one row per rule of the pre-flight subset, with the
// API server's path and text (docs/native-sidecars.md#validation).
func TestValidatePod(t *testing.T) {
	rp := func(p string) *corev1.ContainerRestartPolicy {
		v := corev1.ContainerRestartPolicy(p)
		return &v
	}
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	app := func() corev1.Container { return corev1.Container{Name: "app", Image: "a"} }
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want []string // the errors, in order; none for a valid spec
	}{
		{"valid", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "proxy", Image: "p", RestartPolicy: rp("Always"), StartupProbe: probe}},
			Containers:     []corev1.Container{app()},
		}, nil},
		{"duplicate across lists", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "app", Image: "p"}},
			Containers:     []corev1.Container{app()},
		}, []string{`spec.initContainers[0].name: Duplicate value: "app"`}},
		{"bad name", corev1.PodSpec{Containers: []corev1.Container{{Name: "App_1", Image: "a"}}},
			[]string{`spec.containers[0].name: Invalid value: "App_1"`}},
		{"mount of a missing volume", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a",
			VolumeMounts: []corev1.VolumeMount{{Name: "gone", MountPath: "/x"}}}}},
			[]string{`spec.containers[0].volumeMounts[0].name: Not found: "gone"`}},
		{"duplicate mountPath", corev1.PodSpec{
			Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			Containers: []corev1.Container{{Name: "app", Image: "a",
				VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/x"}, {Name: "v", MountPath: "/x"}}}}},
			[]string{`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/x"`}},
		{"probe on a plain init container", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "i", ReadinessProbe: probe}},
			Containers:     []corev1.Container{app()},
		}, []string{`spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always`}},
		{"probe on an init container with restartPolicy Never", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "i", RestartPolicy: rp("Never"), LivenessProbe: probe}},
			Containers:     []corev1.Container{app()},
		}, []string{`spec.initContainers[0].livenessProbe: Forbidden`}},
		{"unknown init restartPolicy", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "i", RestartPolicy: rp("Sometimes")}},
			Containers:     []corev1.Container{app()},
		}, []string{`spec.initContainers[0].restartPolicy: Unsupported value: "Sometimes"`}},
		// ContainerRestartRules (beta, on by default from 1.35) allows these;
		// the library leaves the gate to the API server.
		{"regular container with restartPolicy OnFailure", corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "a", RestartPolicy: rp("OnFailure")}},
		}, nil},
		{"init container with restartPolicy Never", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "i", RestartPolicy: rp("Never")}},
			Containers:     []corev1.Container{app()},
		}, nil},
		{"unknown regular restartPolicy", corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "a", RestartPolicy: rp("Sometimes")}},
		}, []string{`spec.containers[0].restartPolicy: Unsupported value: "Sometimes"`}},
		{"hostPort clash between regular containers", corev1.PodSpec{
			Containers: []corev1.Container{
				{Name: "a", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP}}},
				{Name: "b", Image: "b", Ports: []corev1.ContainerPort{{ContainerPort: 81, HostPort: 8080, Protocol: corev1.ProtocolTCP}}},
			}}, // protocol/hostIP/port, as the API server's AccumulateUniqueHostPorts formats it
			[]string{`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"`}},
		{"duplicate port name", corev1.PodSpec{
			Containers: []corev1.Container{{Name: "a", Image: "a", Ports: []corev1.ContainerPort{
				{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP}, {Name: "http", ContainerPort: 81, Protocol: corev1.ProtocolTCP}}}},
		}, []string{`spec.containers[0].ports[1].name: Duplicate value: "http"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := sidecar.ValidatePod(&tc.spec)
			if len(errs) != len(tc.want) {
				t.Fatalf("got %d errors %v, want %d %q", len(errs), errs, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if got := errs[i].Error(); !strings.HasPrefix(got, w) {
					t.Errorf("error %d: %q, want prefix %q", i, got, w)
				}
			}
		})
	}
}

// TestValidatePodNil: a nil spec is an empty one: nothing to refuse.
func TestValidatePodNil(t *testing.T) {
	if errs := sidecar.ValidatePod(nil); len(errs) != 0 {
		t.Errorf("ValidatePod(nil) = %v, want no errors", errs)
	}
}

package sidecar_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestValidatePodRules: the rules of the pre-flight subset that
// TestValidatePod leaves out, each with the API server's path and text,
// in the order the API server reports them.
func TestValidatePodRules(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	exec := corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}
	vol := corev1.Volume{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	app := corev1.Container{Name: "app", Image: "a"}
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want []string
	}{
		{"lifecycle and every probe on a plain init container", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "i", Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: exec.Exec}},
				LivenessProbe: &corev1.Probe{ProbeHandler: exec}, ReadinessProbe: &corev1.Probe{ProbeHandler: exec}, StartupProbe: &corev1.Probe{ProbeHandler: exec}}},
			Containers: []corev1.Container{app},
		}, []string{
			"spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always",
			"spec.initContainers[0].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
			"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
			"spec.initContainers[0].startupProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
		}},
		{"lifecycle and probes on a native sidecar", corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "i", RestartPolicy: &always, Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: exec.Exec}},
				LivenessProbe: &corev1.Probe{ProbeHandler: exec}, ReadinessProbe: &corev1.Probe{ProbeHandler: exec}, StartupProbe: &corev1.Probe{ProbeHandler: exec}}},
			Containers: []corev1.Container{app},
		}, nil},
		{"ports", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "a", Ports: []corev1.ContainerPort{
			{Name: "a", ContainerPort: 0},
			{Name: "b", ContainerPort: 70000},
			{Name: "c", ContainerPort: 80, HostPort: 65536},
			{Name: "d", ContainerPort: 65535, HostPort: 1},
			{Name: "Bad_Name", ContainerPort: 81},
		}}}}, []string{
			"spec.containers[0].ports[0].containerPort: Required value",
			`spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`,
			`spec.containers[0].ports[2].hostPort: Invalid value: 65536: must be between 1 and 65535, inclusive`,
			`spec.containers[0].ports[4].name: Invalid value: "Bad_Name"`,
		}},
		{"mounts", corev1.PodSpec{Volumes: []corev1.Volume{vol}, Containers: []corev1.Container{{Name: "app", Image: "a", VolumeMounts: []corev1.VolumeMount{
			{Name: "", MountPath: "/a"},
			{Name: "v", MountPath: ""},
			{Name: "v", MountPath: "/b"},
		}}}}, []string{
			"spec.containers[0].volumeMounts[0].name: Required value",
			`spec.containers[0].volumeMounts[0].name: Not found: ""`,
			"spec.containers[0].volumeMounts[1].mountPath: Required value",
		}},
		{"no name", corev1.PodSpec{Containers: []corev1.Container{{Image: "a"}}}, []string{"spec.containers[0].name: Required value"}},
		{"hostPort clash within an init container, not across them", corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "a", Image: "i", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81, HostPort: 8080}}},
				{Name: "b", Image: "i", Ports: []corev1.ContainerPort{{ContainerPort: 82, HostPort: 8080}}},
			},
			Containers: []corev1.Container{{Name: "app", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 83, HostPort: 8080}}}},
		}, []string{`spec.initContainers[0].ports[1].hostPort: Duplicate value: "TCP//8080"`}},
		{"hostPorts of other protocols or addresses", corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Image: "a", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolUDP}}},
			{Name: "b", Image: "b", Ports: []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, HostIP: "10.0.0.1"}, {ContainerPort: 81}}},
			{Name: "c", Image: "c", Ports: []corev1.ContainerPort{{ContainerPort: 82, HostPort: 8080, Protocol: corev1.ProtocolTCP}}},
		}}, []string{`spec.containers[2].ports[0].hostPort: Duplicate value: "TCP//8080"`}},
		{"a nameless init container after a nameless regular one", corev1.PodSpec{
			InitContainers: []corev1.Container{{Image: "i"}},
			Containers:     []corev1.Container{{Image: "a"}},
		}, []string{"spec.containers[0].name: Required value", "spec.initContainers[0].name: Required value", `spec.initContainers[0].name: Duplicate value: ""`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range sidecar.ValidatePod(&tc.spec) {
				got = append(got, e.Error())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("error %d: %q, want %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

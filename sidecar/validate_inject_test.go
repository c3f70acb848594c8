package sidecar_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/sidecar"
)

// TestInjectValidatesWhatItChanges: Inject judges the containers it adds
// and the mounts it adds to application containers, and hostPort clashes
// on either side of a container it adds; what an application container
// already had is the API server's to judge.
func TestInjectValidatesWhatItChanges(t *testing.T) {
	spec := sidecar.Spec{
		Container: corev1.Container{Name: "proxy", Image: "proxy:1",
			Ports: []corev1.ContainerPort{{Name: "admin", ContainerPort: 15000, HostPort: 15000, Protocol: corev1.ProtocolTCP}}},
		Volumes:   []corev1.Volume{{Name: "sock", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		AppMounts: []corev1.VolumeMount{{Name: "sock", MountPath: "/var/run/proxy"}},
	}
	app := func(ports ...corev1.ContainerPort) corev1.Container {
		return corev1.Container{Name: "app", Image: "app:1", Ports: ports}
	}
	native := capabilities["native"]
	tests := []struct {
		name    string
		pod     corev1.PodSpec
		mode    sidecar.Mode
		wantErr string // "" for success
	}{
		{name: "legacy sidecar first, application container with the same hostPort after it (and no mounts, so untouched)",
			pod:     corev1.PodSpec{Containers: []corev1.Container{app(corev1.ContainerPort{ContainerPort: 8080, HostPort: 15000, Protocol: corev1.ProtocolTCP})}},
			mode:    sidecar.Legacy,
			wantErr: `spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//15000"`},
		{name: "legacy sidecar placed last, after the clashing application container",
			pod:     corev1.PodSpec{Containers: []corev1.Container{app(corev1.ContainerPort{ContainerPort: 8080, HostPort: 15000})}},
			mode:    sidecar.Legacy,
			wantErr: `spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//15000"`},
		{name: "native sidecar: init containers' host ports are checked one by one",
			pod:  corev1.PodSpec{Containers: []corev1.Container{app(corev1.ContainerPort{ContainerPort: 8080, HostPort: 15000})}},
			mode: sidecar.Native},
		{name: "an application container that was already invalid is not the injection's to judge",
			pod:  corev1.PodSpec{Containers: []corev1.Container{app(corev1.ContainerPort{Name: "NOT_A_PORT_NAME", ContainerPort: 8080})}},
			mode: sidecar.Native},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			s := spec
			if strings.Contains(tc.name, "placed last") {
				s.Placement = sidecar.Placement{Position: sidecar.Last}
			}
			if strings.Contains(tc.name, "no mounts") {
				s.AppMounts = nil
			}
			res, err := sidecar.Inject(&metav1.ObjectMeta{}, &tc.pod, s, native, sidecar.Options{Mode: tc.mode})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Inject: %v", err)
				}
				if errs := sidecar.ValidatePod(&tc.pod); strings.Contains(tc.name, "already invalid") && len(errs) == 0 {
					t.Errorf("the test pod should be invalid to ValidatePod")
				}
				after := res.Mutation.Spec()
				if got := after.Containers[len(after.Containers)-1].VolumeMounts; len(got) != 1 || got[0].MountPath != "/var/run/proxy" {
					t.Errorf("the application container's mounts: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Inject: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

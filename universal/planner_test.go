package universal_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/sidecar"
	"github.com/sidecarkit/sidecarkit/universal"
	"github.com/sidecarkit/sidecarkit/universal/internal/protocol"
)

func TestPlanErrors(t *testing.T) {
	base := func() sidecar.Spec {
		return sidecar.Spec{Container: corev1.Container{Name: "agent", Image: "agent:1", Command: []string{"/agent"}}}
	}
	cases := []struct {
		name    string
		planner universal.Planner
		spec    func(*sidecar.Spec)
		err     string
	}{
		{name: "both", planner: universal.Planner{Handshake: []string{"/h"}, Copier: &universal.Copier{Image: "i", Handshake: []string{"/h"}}}, err: "not both"},
		{name: "copier-without-image", planner: universal.Planner{Copier: &universal.Copier{Handshake: []string{"/h"}}}, err: "needs an Image"},
		{name: "relative-mount", planner: universal.Planner{Handshake: []string{"/h"}, MountPath: "handshake"}, err: "clean absolute path"},
		{name: "root-mount", planner: universal.Planner{Handshake: []string{"/h"}, MountPath: "/"}, err: "clean absolute path"},
		{name: "negative-timeout", planner: universal.Planner{Handshake: []string{"/h"}, ConfirmTimeout: -1}, err: "is negative"},
		{name: "long-name", spec: func(s *sidecar.Spec) { s.Container.Name = strings.Repeat("a", 60) }, err: "shorten the sidecar's name"},
		{name: "reserved-env", spec: func(s *sidecar.Spec) { s.Container.Env = []corev1.EnvVar{{Name: protocol.EnvRole, Value: "x"}} }, err: "is set by the Planner"},
		{name: "mount-overlap", spec: func(s *sidecar.Spec) {
			s.Container.VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/sidecarkit"}}
		}, err: "overlaps the handshake volume's mount path"},
		{name: "mount-inside", spec: func(s *sidecar.Spec) {
			s.Container.VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/sidecarkit/handshake/x"}}
		}, err: "overlaps"},
		{name: "volume-name", spec: func(s *sidecar.Spec) { s.Volumes = []corev1.Volume{{Name: "agent-handshake"}} }, err: "is the handshake volume's name"},
		{name: "tcp-hook", spec: func(s *sidecar.Spec) {
			s.Container.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{}}}
		}, err: "lifecycle.preStop: a tcpSocket hook"},
		{name: "empty-exec", spec: func(s *sidecar.Spec) {
			s.Container.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}}}
		}, err: "livenessProbe: exec has no command"},
		{name: "grpc-startup", spec: func(s *sidecar.Spec) {
			s.Container.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9}}}
		}, err: "native twin: startupProbe: a grpc check"},
		{name: "no-handler", spec: func(s *sidecar.Spec) { s.Container.ReadinessProbe = &corev1.Probe{} }, err: "readinessProbe: no handler"},
		{name: "port-out-of-range", spec: func(s *sidecar.Spec) {
			s.Container.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}}
		}, err: "port 0: want 1 to 65535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.planner
			if p.Handshake == nil && p.Copier == nil {
				p.Handshake = []string{"/h"}
			}
			s := base()
			if tc.spec != nil {
				tc.spec(&s)
			}
			_, err := p.Plan(s, &corev1.PodSpec{})
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "universal: plan ") {
				t.Fatalf("Plan: %v; want an error containing %q", err, tc.err)
			}
		})
	}
}

func TestPlanNilPodAndDefaults(t *testing.T) {
	p := universal.Planner{Handshake: []string{"/h"}}
	plan, err := p.Plan(sidecar.Spec{Container: corev1.Container{Name: "a", Image: "a", Command: []string{"/a"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, l := plan.InitContainers[0], plan.Containers[0]
	if n.Name != "a" || l.Name != "a-legacy" || plan.Volumes[0].Name != "a-handshake" {
		t.Errorf("names %s %s %s", n.Name, l.Name, plan.Volumes[0].Name)
	}
	for _, e := range n.Env {
		if e.Name == protocol.EnvRestartPolicy && e.Value != "Always" {
			t.Errorf("restart policy of a nil pod: %q, want Always", e.Value)
		}
	}
	if got := strings.Join(n.Command, " "); got != "/h --role=native --dir=/sidecarkit/handshake -- /a" {
		t.Errorf("native command %q", got)
	}
	if sp := n.StartupProbe; sp == nil || sp.PeriodSeconds != 1 || sp.FailureThreshold != 33 {
		t.Errorf("startup probe %+v: want period 1 and 30+3 failures for the default 30s timeout", sp)
	}
	if len(plan.Warnings) != 0 {
		t.Errorf("warnings %q for a sidecar without resources in an Always pod", plan.Warnings)
	}
}

// TestPlanHostNetwork: the twins of a hostNetwork Pod add the sandbox
// token to the identity in every handshake invocation (run, probes,
// hooks); with hostIPC as well, or a mount over the token's directory,
// the Planner refuses with the reason.
func TestPlanHostNetwork(t *testing.T) {
	p := universal.Planner{Handshake: []string{"/h"}}
	spec := func() sidecar.Spec {
		return sidecar.Spec{Container: corev1.Container{Name: "a", Image: "a", Command: []string{"/a"},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/ready"}}}},
			Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/stop"}}}},
		}}
	}
	plan, err := p.Plan(spec(), &corev1.PodSpec{HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	n, l := plan.InitContainers[0], plan.Containers[0]
	const flag = "--sandbox-token=/dev/shm"
	for name, cmd := range map[string][]string{
		"native run": n.Command, "legacy run": l.Command,
		"native startup probe": n.StartupProbe.Exec.Command, "legacy readiness probe": l.ReadinessProbe.Exec.Command,
		"native preStop": n.Lifecycle.PreStop.Exec.Command, "legacy preStop": l.Lifecycle.PreStop.Exec.Command,
	} {
		if got := strings.Join(cmd, " "); !strings.Contains(got, " "+flag+" ") {
			t.Errorf("%s: %q lacks %s", name, got, flag)
		}
	}
	plain, err := p.Plan(spec(), &corev1.PodSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plain.InitContainers[0].Command, " "); strings.Contains(got, "--sandbox-token") {
		t.Errorf("a Pod with its own network namespace got a sandbox token: %q", got)
	}
	if _, err := p.Plan(spec(), &corev1.PodSpec{HostNetwork: true, HostIPC: true}); err == nil || !strings.Contains(err.Error(), "hostNetwork and hostIPC") || !strings.HasPrefix(err.Error(), "universal: plan \"a\": spec.hostIPC: ") {
		t.Errorf("hostNetwork and hostIPC: %v; want a refusal", err)
	}
	if _, err := p.Plan(spec(), &corev1.PodSpec{HostIPC: true}); err != nil {
		t.Errorf("hostIPC alone (the network namespace tells sandboxes apart): %v", err)
	}
	for _, mp := range []string{"/dev/shm", "/dev/shm/", "/dev"} {
		s := spec()
		s.Container.VolumeMounts = []corev1.VolumeMount{{Name: "shm", MountPath: mp}}
		if _, err := p.Plan(s, &corev1.PodSpec{HostNetwork: true}); err == nil || !strings.Contains(err.Error(), "volumeMounts[0].mountPath: ") || !strings.Contains(err.Error(), "covers /dev/shm") {
			t.Errorf("mount %s over the token: %v; want a refusal", mp, err)
		}
	}
}

// TestPlanTerminationLog: a twin that cannot decide writes why to the
// sidecar's terminationMessagePath.
func TestPlanTerminationLog(t *testing.T) {
	p := universal.Planner{Handshake: []string{"/h"}}
	s := sidecar.Spec{Container: corev1.Container{Name: "a", Image: "a", Command: []string{"/a"}, TerminationMessagePath: "/var/log/why"}}
	plan, err := p.Plan(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []corev1.Container{plan.InitContainers[0], plan.Containers[0]} {
		if got := strings.Join(c.Command, " "); !strings.Contains(got, " --termination-log=/var/log/why -- /a") {
			t.Errorf("%s: %q", c.Name, got)
		}
	}
	s.Container.TerminationMessagePath = "why"
	if _, err := p.Plan(s, nil); err == nil || !strings.Contains(err.Error(), "want an absolute path") {
		t.Errorf("relative terminationMessagePath: %v", err)
	}
}

package compat

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestLineScannerAtEnd: the scanner's readers never read past the end of
// the line; at its end they report what is missing.
func TestLineScannerAtEnd(t *testing.T) {
	for _, colon := range []bool{true, false} {
		s := lineScanner{b: []byte("abc"), pos: 3}
		if name, err := s.name(colon); err == nil || err.Error() != "expected a name, found end of line" || name != "" {
			t.Errorf("name(%v) at the end: %q, %v", colon, name, err)
		}
	}
	s := lineScanner{b: []byte(`"abc`)}
	if q, err := s.quoted(); err == nil || q != "" {
		t.Errorf("quoted: %q, %v", q, err)
	}
}

// TestStateText: how a blocking container's status is described, for
// every state the kubelet writes.
func TestStateText(t *testing.T) {
	for _, c := range []struct {
		s    *corev1.ContainerStatus
		want string
	}{
		{nil, "no status yet"},
		{&corev1.ContainerStatus{}, "no state"},
		{&corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}, "waiting: ErrImagePull"},
		{&corev1.ContainerStatus{RestartCount: 3, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137}}}, "terminated with exit code 137, restarted 3 times"},
		{&corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}, "running"},
	} {
		if got := stateText(c.s); got != c.want {
			t.Errorf("stateText(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}

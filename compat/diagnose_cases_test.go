package compat_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// brief is the part of a Finding the table below checks; the messages are
// covered by the golden files.
type brief struct {
	Code     compat.Code
	Severity compat.Severity
	Path     string
}

func briefs(fs []compat.Finding) []brief {
	var out []brief
	for _, f := range fs {
		out = append(out, brief{f.Code, f.Severity, f.Path})
	}
	return out
}

func always() *corev1.ContainerRestartPolicy {
	p := corev1.ContainerRestartPolicyAlways
	return &p
}

func running(name string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func exited(name string, code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Error"}}}
}

func waitingFor(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func pendingPod(inits []corev1.Container, statuses ...corev1.ContainerStatus) *corev1.Pod {
	return &corev1.Pod{
		Spec: corev1.PodSpec{NodeName: "n1", InitContainers: inits, Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: statuses,
			ContainerStatuses: []corev1.ContainerStatus{waitingFor("app", "PodInitializing")}},
	}
}

func TestDiagnoseCases(t *testing.T) {
	sidecar := corev1.Container{Name: "side", RestartPolicy: always()}
	plain := corev1.Container{Name: "side"}
	job := corev1.Container{Name: "job"}
	mfWith := []metav1.ManagedFieldsEntry{{Manager: "kubectl", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:initContainers":{"k:{\"name\":\"side\"}":{"f:restartPolicy":{}}}}}`)}}}
	mfWithout := []metav1.ManagedFieldsEntry{{Manager: "m", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{"f:containers":{}}}`)}}}
	stores := compat.Capability{APIServer: compat.APIServerStores}
	tests := []struct {
		name     string
		facts    compat.Facts
		want     []brief
		contains string
		reason   string
	}{
		{name: "nil-pod", facts: compat.Facts{}, want: nil},
		{name: "no-sidecars", facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}},
			Capability: compat.Capability{Kubelet: compat.KubeletRejects, APIServer: compat.APIServerDrops}}, want: nil,
			reason: "gates do not matter to a Pod without sidecars"},
		{name: "unscheduled", facts: compat.Facts{Pod: func() *corev1.Pod {
			p := pendingPod([]corev1.Container{job})
			p.Spec.NodeName = ""
			return p
		}()}, want: nil, reason: "a Pod that waits for a node is not stuck in Init"},
		{name: "drop-cause-unknown", facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{plain}}},
			Intended: &corev1.PodSpec{InitContainers: []corev1.Container{sidecar}}},
			want: []brief{{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}}, contains: "either the API server dropped it"},
		{name: "drop-cause-unknown-field", facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{plain}}},
			Intended: &corev1.PodSpec{InitContainers: []corev1.Container{sidecar}}, Capability: compat.Capability{APIServer: compat.APIServerUnknownField}},
			want:     []brief{{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}, {compat.CodeAPIServerUnknownField, compat.SeverityError, ""}},
			contains: "(≤1.27) does not know the field"},
		{name: "drop-cause-drops", facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{plain}}},
			Intended: &corev1.PodSpec{InitContainers: []corev1.Container{sidecar}}, Capability: compat.Capability{APIServer: compat.APIServerDrops}},
			want:     []brief{{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}, {compat.CodeAPIServerDrops, compat.SeverityError, ""}},
			contains: "the API server drops it"},
		{name: "drop-cause-stores", facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{plain}}},
			Intended: &corev1.PodSpec{InitContainers: []corev1.Container{sidecar}}, Capability: stores},
			want: []brief{{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}}, contains: "a mutating webhook or controller most likely removed it"},
		{name: "drop-cause-managed-without", facts: compat.Facts{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ManagedFields: mfWithout},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{plain}}}, Intended: &corev1.PodSpec{InitContainers: []corev1.Container{sidecar}}},
			want: []brief{{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}}, contains: "no field manager recorded it"},
		{name: "drop-cause-managed-stores", facts: compat.Facts{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ManagedFields: mfWith},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{plain}}}, Capability: stores},
			want: []brief{{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}}, contains: "so a mutating webhook removed it",
			reason: "the client's field manager lists the field and the API server stores it: only a webhook can have removed it"},
		{name: "drop-cause-managed-unknown", facts: compat.Facts{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ManagedFields: mfWith},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{plain}}}},
			want: []brief{{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}}, contains: "either the SidecarContainers gate is off on the API server or a mutating webhook removed it"},
		{name: "drop-cause-managed-drops", facts: compat.Facts{Pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ManagedFields: mfWith},
			Spec: corev1.PodSpec{InitContainers: []corev1.Container{plain}}}, Capability: compat.Capability{APIServer: compat.APIServerDrops}},
			want:     []brief{{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}, {compat.CodeAPIServerDrops, compat.SeverityError, ""}},
			contains: "the sign of the SidecarContainers gate being off"},
		{name: "default-annotation-native-sidecar", facts: compat.Facts{Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "side"}},
			Spec:       corev1.PodSpec{InitContainers: []corev1.Container{sidecar}, Containers: []corev1.Container{{Name: "app"}}}}},
			want:     []brief{{compat.CodeSidecarDefault, compat.SeverityWarning, "metadata.annotations[kubectl.kubernetes.io/default-container]"}},
			contains: `native sidecar "side"`},
		{name: "default-annotation-app", facts: compat.Facts{Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "app"}},
			Spec:       corev1.PodSpec{InitContainers: []corev1.Container{sidecar}, Containers: []corev1.Container{{Name: "proxy"}, {Name: "app"}}}}},
			want: nil, reason: "the annotation names the application: a sidecar-like first container does not matter"},
		{name: "default-annotation-plain-init", facts: compat.Facts{Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "job"}},
			Spec:       corev1.PodSpec{InitContainers: []corev1.Container{job}, Containers: []corev1.Container{{Name: "app"}}}}},
			want: nil, reason: "an init container that is no sidecar is the author's choice"},
		{name: "default-first-recorded-legacy", facts: compat.Facts{Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"sidecar.sidecarkit.io/" + "mesh": `{"v":2,"mode":"legacy","containers":{"mesh":"00"}}`}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "mesh"}, {Name: "web"}}}}},
			want:     []brief{{compat.CodeSidecarDefault, compat.SeverityWarning, "spec.containers[0]"}},
			contains: `sidecar "mesh" is the first regular container`},
		{name: "default-first-recorded-legacy-annotated", facts: compat.Facts{Pod: &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"sidecar.sidecarkit.io/" + "mesh": `{"v":2,"mode":"legacy","containers":{"mesh":"00"}}`,
				"kubectl.kubernetes.io/default-container": "mesh"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mesh"}, {Name: "web"}}}}},
			want:     []brief{{compat.CodeSidecarDefault, compat.SeverityWarning, "metadata.annotations[kubectl.kubernetes.io/default-container]"}},
			contains: `the annotation makes sidecar "mesh"`},
		{name: "default-first-named-like-sidecar", facts: compat.Facts{Pod: &corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "envoy"}, {Name: "web"}}}}},
			want: []brief{{compat.CodeSidecarDefault, compat.SeverityInfo, "spec.containers[0]"}}, contains: `named like a sidecar ("envoy")`},
		{name: "default-single-container", facts: compat.Facts{Pod: &corev1.Pod{
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "envoy"}}}}},
			want: nil, reason: "a Pod of one container has nothing else to default to"},
		{name: "moved-to-containers", facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "side"}}}},
			Intended: &corev1.PodSpec{InitContainers: []corev1.Container{sidecar}}},
			want: []brief{{compat.CodeSidecarMissing, compat.SeverityWarning, "spec.initContainers"}}, contains: "is a regular container instead"},
		{name: "last-sidecar-running-unknown-kubelet", facts: compat.Facts{Pod: pendingPod([]corev1.Container{job, sidecar}, exited("job", 0), running("side"))},
			want:     []brief{{compat.CodeSidecarBlocksInit, compat.SeverityWarning, "spec.initContainers[1]"}, {compat.CodeSidecarAfterInit, compat.SeverityInfo, "spec.initContainers[1]"}},
			contains: "as kubelets ≤1.27 do"},
		{name: "last-sidecar-running-native-kubelet", facts: compat.Facts{Pod: pendingPod([]corev1.Container{sidecar}, running("side")),
			Capability: compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported}},
			want: []brief{{compat.CodeSidecarBlocksInit, compat.SeverityInfo, "spec.initContainers[0]"}}, contains: "should resolve"},
		{name: "last-sidecar-initialized", facts: compat.Facts{Pod: func() *corev1.Pod {
			p := pendingPod([]corev1.Container{sidecar}, running("side"))
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}}
			return p
		}()}, want: nil, reason: "initialized: the app is just being started"},
		{name: "init-failed", facts: compat.Facts{Pod: pendingPod([]corev1.Container{job}, exited("job", 3))},
			want: []brief{{compat.CodeStuckInInit, compat.SeverityError, "spec.initContainers[0]"}}, contains: "failed with exit code 3"},
		{name: "image-pull", facts: compat.Facts{Pod: pendingPod([]corev1.Container{job}, waitingFor("job", "ImagePullBackOff"))},
			want: []brief{{compat.CodeStuckInInit, compat.SeverityError, "spec.initContainers[0]"}}, contains: "waiting: ImagePullBackOff"},
		{name: "next-not-started", facts: compat.Facts{Pod: pendingPod([]corev1.Container{job, {Name: "second"}}, exited("job", 0))},
			want: []brief{{compat.CodeStuckInInit, compat.SeverityWarning, "spec.initContainers[1]"}}, contains: "has not started (no status yet)"},
		{name: "sidecar-then-waiting-regular", facts: compat.Facts{Pod: pendingPod([]corev1.Container{sidecar, job}, running("side"), waitingFor("job", "PodInitializing")),
			Capability: compat.Capability{Kubelet: compat.KubeletStrips}},
			want: []brief{{compat.CodeSidecarBlocksInit, compat.SeverityError, "spec.initContainers[0]"}, {compat.CodeNodeStrips, compat.SeverityError, "spec.nodeName"}}},
		{name: "sidecar-then-crashing-regular", facts: compat.Facts{Pod: pendingPod([]corev1.Container{sidecar, job}, running("side"), waitingFor("job", "CrashLoopBackOff"))},
			want: []brief{{compat.CodeStuckInInit, compat.SeverityError, "spec.initContainers[1]"}}, reason: "the kubelet did move on: the regular one fails by itself"},
		{name: "exited-sidecar-already-passed", facts: compat.Facts{Pod: pendingPod([]corev1.Container{sidecar, job}, exited("side", 0), running("job"))},
			want:   []brief{{compat.CodeStuckInInit, compat.SeverityWarning, "spec.initContainers[1]"}},
			reason: "a sidecar that exits after the next container started does not block; an old kubelet runs the next one after it"},
		{name: "probe-on-stored-init", facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{
			{Name: "x", Lifecycle: &corev1.Lifecycle{}}}}}},
			want: []brief{{compat.CodeProbeOnInit, compat.SeverityError, "spec.initContainers[0].lifecycle"}}, contains: "stored init container"},
		{name: "sidecar-probe-stores", facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{
			{Name: "x", RestartPolicy: always(), LivenessProbe: &corev1.Probe{}}}}}, Capability: stores}, want: nil},
	}
	for _, tc := range tests {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			got := compat.Diagnose(tc.facts)
			if diff := cmp.Diff(tc.want, briefs(got)); diff != "" {
				t.Errorf("findings (-want +got):\n%s\n%v", diff, got)
			}
			if tc.contains != "" && (len(got) == 0 || !strings.Contains(got[0].Message, tc.contains)) {
				t.Errorf("first finding %v does not contain %q", got, tc.contains)
			}
		})
	}
}

func TestFindingString(t *testing.T) {
	f := compat.Finding{Code: compat.CodeFieldDropped, Severity: compat.SeverityError, Path: "spec.x", Message: "m"}
	if got := f.String(); got != "error field-dropped spec.x: m" {
		t.Errorf("String() = %q", got)
	}
	f.Path = ""
	if got := f.String(); got != "error field-dropped: m" {
		t.Errorf("String() = %q", got)
	}
}

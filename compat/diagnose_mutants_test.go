package compat_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// finding is what the tables below expect of one Finding: its code,
// severity and path, and a part of its message ("" checks none).
type finding struct {
	brief
	msg string
}

func checkFindings(t *testing.T, got []compat.Finding, want []finding) {
	t.Helper()
	var wantBriefs []brief
	for _, w := range want {
		wantBriefs = append(wantBriefs, w.brief)
	}
	if diff := cmp.Diff(wantBriefs, briefs(got)); diff != "" {
		t.Fatalf("findings (-want +got):\n%s\n%s", diff, messages(got))
	}
	for i, w := range want {
		if !strings.Contains(got[i].Message, w.msg) {
			t.Errorf("finding %d: message %q lacks %q", i, got[i].Message, w.msg)
		}
	}
}

func messages(fs []compat.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func withProbe(c corev1.Container) corev1.Container {
	c.StartupProbe = &corev1.Probe{}
	return c
}

func started(s corev1.ContainerStatus, v bool) corev1.ContainerStatus {
	s.Started = &v
	return s
}

func restarted(s corev1.ContainerStatus, n int32) corev1.ContainerStatus {
	s.RestartCount = n
	return s
}

// TestDiagnoseStatusStates: the init container that blocks a Pod, read
// from each kind of container status the kubelet writes.
func TestDiagnoseStatusStates(t *testing.T) {
	sidecar := corev1.Container{Name: "side", RestartPolicy: always()}
	job := corev1.Container{Name: "job"}
	stuck := func(i string, sev compat.Severity, msg string) finding {
		return finding{brief{compat.CodeStuckInInit, sev, "spec.initContainers[" + i + "]"}, msg}
	}
	blocks := func(i string, sev compat.Severity, msg string) finding {
		return finding{brief{compat.CodeSidecarBlocksInit, sev, "spec.initContainers[" + i + "]"}, msg}
	}
	pod := func(inits []corev1.Container, statuses []corev1.ContainerStatus, mod func(*corev1.Pod)) *corev1.Pod {
		p := pendingPod(inits, statuses...)
		if mod != nil {
			mod(p)
		}
		return p
	}
	appStarted := func(p *corev1.Pod) {
		// One app container runs, another is still being created: the
		// Pod stays Pending until every container is created.
		p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app"), waitingFor("app2", "ContainerCreating")}
	}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		native bool // the node's kubelet runs native sidecars
		want   []finding
	}{
		{name: "rejected by the kubelet: nothing else is read from the status",
			pod: pod([]corev1.Container{sidecar}, nil, func(p *corev1.Pod) {
				p.Status.Reason, p.Status.Message = "InitContainerRestartPolicyForbidden", "Pod was rejected"
			}),
			want: []finding{{brief{compat.CodeKubeletRejected, compat.SeverityError, "status.reason"}, `node "n1" refused the Pod`}}},
		{name: "first init container without a status",
			pod:  pod([]corev1.Container{job}, nil, nil),
			want: []finding{stuck("0", compat.SeverityWarning, `"job" (1 of 1): it has not started (no status yet)`)}},
		{name: "a status without a state",
			pod:  pod([]corev1.Container{sidecar}, []corev1.ContainerStatus{{Name: "side"}}, nil),
			want: []finding{stuck("0", compat.SeverityWarning, "is a sidecar that is not running (no state)")}},
		{name: "sidecar being created",
			pod:  pod([]corev1.Container{sidecar}, []corev1.ContainerStatus{waitingFor("side", "ContainerCreating")}, nil),
			want: []finding{stuck("0", compat.SeverityWarning, "not running (waiting: ContainerCreating)")}},
		{name: "sidecar exited with an error",
			pod:  pod([]corev1.Container{sidecar}, []corev1.ContainerStatus{restarted(exited("side", 1), 2)}, nil),
			want: []finding{stuck("0", compat.SeverityError, "not running (terminated with exit code 1, restarted 2 times)")}},
		{name: "sidecar exited 0: restarted, not a failure",
			pod:  pod([]corev1.Container{sidecar}, []corev1.ContainerStatus{exited("side", 0)}, nil),
			want: []finding{stuck("0", compat.SeverityWarning, "not running (terminated with exit code 0, restarted 0 times)")}},
		{name: "startupProbe without a started flag",
			pod:  pod([]corev1.Container{withProbe(sidecar), job}, []corev1.ContainerStatus{running("side")}, nil),
			want: []finding{stuck("0", compat.SeverityWarning, "its startupProbe has not passed yet")}},
		{name: "startupProbe passed: the next one should start",
			pod:    pod([]corev1.Container{withProbe(sidecar), job}, []corev1.ContainerStatus{started(running("side"), true)}, nil),
			native: true,
			want:   []finding{blocks("0", compat.SeverityInfo, `sidecar "side" is running but nothing after it has started yet`)}},
		{name: "startupProbe not passed yet",
			pod:  pod([]corev1.Container{withProbe(sidecar), job}, []corev1.ContainerStatus{started(running("side"), false)}, nil),
			want: []finding{stuck("0", compat.SeverityWarning, "its startupProbe has not passed yet")}},
		{name: "restarting sidecar, the next one not started",
			pod:  pod([]corev1.Container{sidecar, job}, []corev1.ContainerStatus{waitingFor("side", "CrashLoopBackOff"), waitingFor("job", "PodInitializing")}, nil),
			want: []finding{stuck("0", compat.SeverityError, "(waiting: CrashLoopBackOff)")}},
		{name: "sidecar without a status, the kubelet moved on to the app",
			pod:  pod([]corev1.Container{sidecar, job}, nil, appStarted),
			want: []finding{stuck("1", compat.SeverityWarning, `"job" (2 of 2): it has not started (no status yet)`)}},
		{name: "every init container done, the app not started yet",
			pod:  pod([]corev1.Container{job}, []corev1.ContainerStatus{exited("job", 0)}, nil),
			want: nil},
		{name: "running sidecar, an app container started",
			pod:  pod([]corev1.Container{sidecar}, []corev1.ContainerStatus{running("side")}, appStarted),
			want: nil},
		{name: "running sidecar, the Pod initialized (the first condition of a type counts, as in k8s.io/kubernetes/pkg/api/v1/pod)",
			pod: pod([]corev1.Container{sidecar}, []corev1.ContainerStatus{running("side")}, func(p *corev1.Pod) {
				p.Status.Conditions = []corev1.PodCondition{
					{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
					{Type: corev1.PodInitialized, Status: corev1.ConditionFalse},
				}
			}),
			want: nil},
		{name: "a name twice among the statuses: the later entry counts",
			pod:  pod([]corev1.Container{sidecar}, []corev1.ContainerStatus{running("side"), waitingFor("side", "CrashLoopBackOff")}, nil),
			want: []finding{stuck("0", compat.SeverityError, "(waiting: CrashLoopBackOff)")}},
		{name: "a sidecar-like name is a weak hint: not reported as a sidecar while it waits",
			pod:  pod([]corev1.Container{{Name: "proxy"}}, []corev1.ContainerStatus{waitingFor("proxy", "ContainerCreating")}, nil),
			want: []finding{stuck("0", compat.SeverityWarning, "has not started (waiting: ContainerCreating)")}},
		{name: "a sidecar-like name of a running init container",
			pod:  pod([]corev1.Container{{Name: "proxy"}}, []corev1.ContainerStatus{running("proxy")}, nil),
			want: []finding{blocks("0", compat.SeverityWarning, `its name contains "proxy"`)}},
		{name: "probes are a weak hint too",
			pod: pod([]corev1.Container{withProbe(job)}, []corev1.ContainerStatus{running("job")}, nil),
			want: []finding{
				{brief{compat.CodeProbeOnInit, compat.SeverityError, "spec.initContainers[0].startupProbe"}, ""},
				blocks("0", compat.SeverityWarning, "it has startupProbe, which only sidecars may have"),
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := compat.Facts{Pod: tc.pod}
			if tc.native {
				f.Capability = compat.Capability{Kubelet: compat.KubeletNative, OrderedTermination: compat.Supported, APIServer: compat.APIServerStores}
			}
			checkFindings(t, compat.Diagnose(f), tc.want)
		})
	}
}

// TestDiagnoseStrongEvidenceFailed: an init container that the intended
// spec makes a sidecar and that failed is a sidecar that lost its
// restartPolicy, even though it is not running.
func TestDiagnoseStrongEvidenceFailed(t *testing.T) {
	p := pendingPod([]corev1.Container{{Name: "job"}}, exited("job", 1))
	got := compat.Diagnose(compat.Facts{Pod: p, Intended: &corev1.PodSpec{InitContainers: []corev1.Container{{Name: "job", RestartPolicy: always()}}}})
	checkFindings(t, got, []finding{
		{brief{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[0].restartPolicy"}, ""},
		{brief{compat.CodeSidecarBlocksInit, compat.SeverityError, "spec.initContainers[0]"}, "failed with exit code 1 (Error); it looks like a sidecar that lost restartPolicy: Always (the intended spec makes it a sidecar)"},
	})
}

func record(mode, name string) string {
	return `{"v":2,"mode":"` + mode + `","initContainers":{"` + name + `":"0e4a6b3c1d2f5a79"}}`
}

func fieldsV1(raw string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(raw)} }

const restartPolicyOfSide = `{"f:spec":{"f:initContainers":{"k:{\"name\":\"side\"}":{".":{},"f:name":{},"f:restartPolicy":{}}}}}`

// TestDiagnoseIntentEvidence: what counts as evidence that a stored init
// container was meant to be a sidecar (the intended spec, managedFields,
// sidecarkit's record), what is ignored, and in which order the findings
// come.
func TestDiagnoseIntentEvidence(t *testing.T) {
	plain := func(names ...string) *corev1.Pod {
		p := &corev1.Pod{}
		for _, n := range names {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n})
		}
		return p
	}
	intended := func(cs ...corev1.Container) *corev1.PodSpec { return &corev1.PodSpec{InitContainers: cs} }
	sidecar := func(n string) corev1.Container { return corev1.Container{Name: n, RestartPolicy: always()} }
	withFields := func(p *corev1.Pod, e ...metav1.ManagedFieldsEntry) *corev1.Pod {
		p.ManagedFields = e
		return p
	}
	annotated := func(p *corev1.Pod, k, v string) *corev1.Pod {
		p.Annotations = map[string]string{k: v}
		return p
	}
	dropped := func(i, msg string) finding {
		return finding{brief{compat.CodeFieldDropped, compat.SeverityError, "spec.initContainers[" + i + "].restartPolicy"}, msg}
	}
	invalid := func(msg string) finding {
		return finding{brief{compat.CodeManagedFieldsInvalid, compat.SeverityInfo, "metadata.managedFields"}, msg}
	}
	tests := []struct {
		name  string
		facts compat.Facts
		want  []finding
	}{
		{name: "two dropped, in spec order",
			facts: compat.Facts{Pod: plain("a", "b"), Intended: intended(sidecar("a"), sidecar("b"))},
			want:  []finding{dropped("0", `init container "a"`), dropped("1", `init container "b"`)}},
		{name: "two missing, in intended order",
			facts: compat.Facts{Pod: plain(), Intended: intended(sidecar("x"), sidecar("y"))},
			want: []finding{
				{brief{compat.CodeSidecarMissing, compat.SeverityWarning, "spec.initContainers"}, `intended sidecar "x"`},
				{brief{compat.CodeSidecarMissing, compat.SeverityWarning, "spec.initContainers"}, `intended sidecar "y"`},
			}},
		{name: "a name twice in the intended spec: the first counts",
			facts: compat.Facts{Pod: plain("side"), Intended: intended(sidecar("side"), corev1.Container{Name: "side"})},
			want:  []finding{dropped("0", "the intended spec sets restartPolicy: Always")}},
		{name: "intended and recorded, nothing else known: no cause is singled out",
			facts: compat.Facts{Pod: annotated(plain("side"), "sidecar.sidecarkit.io/side", record("native", "side")), Intended: intended(sidecar("side"))},
			want:  []finding{dropped("0", "the intended spec sets restartPolicy: Always and annotation sidecar.sidecarkit.io/side records that sidecarkit injected it as a native sidecar: either the API server dropped it (gate off) or a mutating webhook removed it")}},
		{name: "a record of the legacy mode is no evidence",
			facts: compat.Facts{Pod: annotated(plain("side"), "sidecar.sidecarkit.io/side", record("legacy", "side"))},
			want:  nil},
		{name: "a record that does not decode is no evidence",
			facts: compat.Facts{Pod: annotated(plain("side"), "sidecar.sidecarkit.io/side", `{"mode":"native","initContainers":{"side":5}}`)},
			want:  nil},
		{name: "an annotation without the record prefix is no evidence",
			facts: compat.Facts{Pod: annotated(plain("side"), "side", record("native", "side"))},
			want:  nil},
		{name: "entries without fieldsV1 are skipped",
			facts: compat.Facts{Pod: withFields(plain("side"), metav1.ManagedFieldsEntry{Manager: "a"}, metav1.ManagedFieldsEntry{Manager: "b", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{}})},
			want:  nil},
		{name: "entries of another fields type are skipped",
			facts: compat.Facts{Pod: withFields(plain("side"), metav1.ManagedFieldsEntry{Manager: "a", FieldsType: "FieldsV2", FieldsV1: fieldsV1(restartPolicyOfSide)})},
			want:  nil},
		{name: "an entry without a fields type is read as FieldsV1",
			facts: compat.Facts{Pod: withFields(plain("side"), metav1.ManagedFieldsEntry{Manager: "kubectl", FieldsV1: fieldsV1(restartPolicyOfSide)})},
			want:  []finding{dropped("0", `metadata.managedFields show manager "kubectl" set restartPolicy`)}},
		{name: "an unnamed manager",
			facts: compat.Facts{Pod: withFields(plain("side"), metav1.ManagedFieldsEntry{FieldsType: "FieldsV1", FieldsV1: fieldsV1(restartPolicyOfSide)})},
			want:  []finding{dropped("0", `metadata.managedFields show manager "(unnamed)" set restartPolicy`)}},
		{name: "only keyed entries name a container",
			facts: compat.Facts{Pod: withFields(plain("side"), metav1.ManagedFieldsEntry{Manager: "m", FieldsV1: fieldsV1(`{"f:spec":{"f:initContainers":{"v:side":{"f:restartPolicy":{}}}}}`)})},
			want:  nil},
		{name: "unreadable entries, in order",
			facts: compat.Facts{Pod: withFields(plain("side"),
				metav1.ManagedFieldsEntry{Manager: "m0", FieldsV1: fieldsV1(`{`)},
				metav1.ManagedFieldsEntry{Manager: "m1", FieldsV1: fieldsV1(`{"f:spec":[]}`)},
				metav1.ManagedFieldsEntry{Manager: "m2", FieldsV1: fieldsV1(`{"f:spec":{"f:initContainers":[]}}`)},
				metav1.ManagedFieldsEntry{Manager: "m3", FieldsV1: fieldsV1(`{"f:spec":{"f:initContainers":{"k:{\"image\":\"x\"}":{"f:restartPolicy":{}}}}}`)},
			)},
			want: []finding{
				invalid(`metadata.managedFields[0] (manager "m0"): fieldsV1: unexpected end of JSON input`),
				invalid(`metadata.managedFields[1] (manager "m1"): fieldsV1 f:spec: json: cannot unmarshal array`),
				invalid(`metadata.managedFields[2] (manager "m2"): fieldsV1 f:spec.f:initContainers: json: cannot unmarshal array`),
				invalid(`metadata.managedFields[3] (manager "m3"): fieldsV1 f:spec.f:initContainers: key "k:{\"image\":\"x\"}" is not k:{"name":...}`),
			}},
		{name: "a liveness probe alone on an init container",
			facts: compat.Facts{Pod: &corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "job", LivenessProbe: &corev1.Probe{}}}}}},
			want:  []finding{{brief{compat.CodeProbeOnInit, compat.SeverityError, "spec.initContainers[0].livenessProbe"}, `stored init container "job" has livenessProbe without restartPolicy: Always`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkFindings(t, compat.Diagnose(tc.facts), tc.want)
		})
	}
}

// TestDiagnoseCapabilityEvidenceNote: a capability finding quotes the
// evidence when there are one to three items about its component, none
// when there are more (they are in the capability's own explanation).
func TestDiagnoseCapabilityEvidenceNote(t *testing.T) {
	api := func(n int) compat.Capability {
		c := compat.Capability{APIServer: compat.APIServerDrops}
		for i := 0; i < n; i++ {
			c.Evidence = append(c.Evidence, compat.Evidence{Source: "metrics", Subject: "kube-apiserver", Detail: string(rune('a' + i))})
		}
		// Evidence about the kubelet is not quoted for the API server.
		c.Evidence = append(c.Evidence, compat.Evidence{Source: "kubelet-version", Subject: "kubelet", Detail: "k"})
		return c
	}
	base := "the API server " + compat.APIServerDrops.Description()
	for _, tc := range []struct {
		n    int
		note string
	}{
		{0, ""},
		{1, " (evidence: kube-apiserver (metrics): a)"},
		{3, " (evidence: kube-apiserver (metrics): a; kube-apiserver (metrics): b; kube-apiserver (metrics): c)"},
		{4, ""},
	} {
		fs := compat.DiagnoseCapability(api(tc.n))
		if len(fs) != 1 || fs[0].Code != compat.CodeAPIServerDrops {
			t.Fatalf("%d items: findings %v", tc.n, fs)
		}
		if got, want := fs[0].Message, base+tc.note; got != want {
			t.Errorf("%d items: message %q, want %q", tc.n, got, want)
		}
	}
}

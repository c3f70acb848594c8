package compat_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

// TestDiagnoseDefaultContainer checks the sidecar-default-container
// finding against kubectl's choice of container (docs/doctor.md#kubectls-default-container):
// the annotation's container when it names one (an empty annotation is no
// choice; one naming no container makes kubectl fail, not fall back), else
// the first regular container. The fix names the first application
// container, the first regular container no record claims.
func TestDiagnoseDefaultContainer(t *testing.T) {
	const ann = "kubectl.kubernetes.io/default-container"
	record := func(names ...string) string {
		var b strings.Builder
		b.WriteString(`{"v":2,"mode":"legacy","containers":{`)
		for i, n := range names {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + n + `":"00"`)
		}
		b.WriteString("}}")
		return b.String()
	}
	native := func(name string) corev1.Container { return corev1.Container{Name: name, RestartPolicy: always()} }
	regular := func(names ...string) []corev1.Container {
		var cs []corev1.Container
		for _, n := range names {
			cs = append(cs, corev1.Container{Name: n})
		}
		return cs
	}
	tests := []struct {
		name        string
		annotations map[string]string
		spec        corev1.PodSpec
		want        []string // paths of the CodeSidecarDefault findings
		message     string   // in the (only) finding's message
		fix         string   // in the (only) finding's Fix
	}{
		{name: "recorded-legacy-first-fix-names-first-app",
			annotations: map[string]string{"sidecar.sidecarkit.io/mesh": record("mesh")},
			spec:        corev1.PodSpec{Containers: regular("mesh", "web", "worker")},
			want:        []string{"spec.containers[0]"}, message: `sidecar "mesh" is the first regular container`,
			fix: `Annotate the Pod (or its template) with kubectl.kubernetes.io/default-container: "web", so that kubectl logs and exec reach the application, or inject the legacy sidecar after the application containers.`},
		{name: "two-recorded-legacy-first-fix-skips-both",
			annotations: map[string]string{"sidecar.sidecarkit.io/mesh": record("mesh"), "sidecar.sidecarkit.io/log": record("log")},
			spec:        corev1.PodSpec{Containers: regular("mesh", "log", "web", "worker")},
			want:        []string{"spec.containers[0]"},
			fix:         `Annotate the Pod (or its template) with kubectl.kubernetes.io/default-container: "web", so that kubectl logs and exec reach the application, or inject the legacy sidecar after the application containers.`},
		{name: "every-regular-container-recorded",
			annotations: map[string]string{"sidecar.sidecarkit.io/mesh": record("mesh", "log")},
			spec:        corev1.PodSpec{Containers: regular("mesh", "log")},
			want:        []string{"spec.containers[0]"},
			fix:         `Annotate the Pod (or its template) with kubectl.kubernetes.io/default-container naming the application container, so that kubectl logs and exec reach it, or inject the legacy sidecar after the application containers.`},
		{name: "recorded-legacy-named-like-sidecar-reported-once",
			annotations: map[string]string{"sidecar.sidecarkit.io/envoy": record("envoy")},
			spec:        corev1.PodSpec{Containers: regular("envoy", "web")},
			want:        []string{"spec.containers[0]"}, message: `sidecar "envoy" is the first regular container`},
		{name: "foreign-annotation-is-no-record",
			annotations: map[string]string{"example.com/mesh": record("mesh"), "sidecar.sidecarkit.io/": record("mesh")},
			spec:        corev1.PodSpec{Containers: regular("mesh", "web")},
			want:        nil},
		{name: "malformed-record-is-no-record",
			annotations: map[string]string{"sidecar.sidecarkit.io/mesh": `{"v":2,"containers":{"mesh":"00","web":1}}`},
			spec:        corev1.PodSpec{Containers: regular("mesh", "web")},
			want:        nil},
		{name: "empty-annotation-is-no-choice",
			annotations: map[string]string{"sidecar.sidecarkit.io/mesh": record("mesh"), ann: ""},
			spec:        corev1.PodSpec{Containers: regular("mesh", "web")},
			want:        []string{"spec.containers[0]"}, message: `sidecar "mesh" is the first regular container`},
		{name: "annotation-names-no-container",
			annotations: map[string]string{"sidecar.sidecarkit.io/mesh": record("mesh"), ann: "gone"},
			spec:        corev1.PodSpec{Containers: regular("mesh", "web")},
			want:        nil},
		{name: "annotation-names-plain-init-first-recorded",
			annotations: map[string]string{"sidecar.sidecarkit.io/mesh": record("mesh"), ann: "setup"},
			spec:        corev1.PodSpec{InitContainers: regular("setup"), Containers: regular("mesh", "web")},
			want:        nil},
		{name: "annotation-names-recorded-legacy",
			annotations: map[string]string{"sidecar.sidecarkit.io/mesh": record("mesh"), ann: "mesh"},
			spec:        corev1.PodSpec{Containers: regular("web", "mesh")},
			want:        []string{"metadata.annotations[" + ann + "]"}, message: `the annotation makes sidecar "mesh"`,
			fix: `Annotate the Pod (or its template) with kubectl.kubernetes.io/default-container: "web", so that kubectl logs and exec reach the application.`},
		{name: "annotation-names-second-native-sidecar",
			annotations: map[string]string{ann: "proxy"},
			spec:        corev1.PodSpec{InitContainers: []corev1.Container{native("mesh"), native("proxy")}, Containers: regular("web")},
			want:        []string{"metadata.annotations[" + ann + "]"}, message: `native sidecar "proxy" (spec.initContainers[1])`,
			fix: `Annotate the Pod (or its template) with kubectl.kubernetes.io/default-container: "web", so that kubectl logs and exec reach the application.`},
		{name: "named-like-sidecar-fix",
			spec: corev1.PodSpec{Containers: regular("envoy", "web")},
			want: []string{"spec.containers[0]"}, message: `named like a sidecar ("envoy")`,
			fix: "Annotate the Pod (or its template) with kubectl.kubernetes.io/default-container"},
		{name: "no-containers",
			annotations: map[string]string{ann: "mesh"},
			spec:        corev1.PodSpec{InitContainers: []corev1.Container{native("mesh")}},
			want:        nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations}, Spec: tc.spec}
			var got []compat.Finding
			var paths []string
			for _, f := range compat.Diagnose(compat.Facts{Pod: pod}) {
				if f.Code == compat.CodeSidecarDefault {
					got = append(got, f)
					paths = append(paths, f.Path)
				}
			}
			if strings.Join(paths, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("%s findings at %q, want %q: %+v", compat.CodeSidecarDefault, paths, tc.want, got)
			}
			if len(got) == 0 {
				return
			}
			if !strings.Contains(got[0].Message, tc.message) {
				t.Errorf("message %q does not contain %q", got[0].Message, tc.message)
			}
			if !strings.Contains(got[0].Fix, tc.fix) || !strings.HasSuffix(got[0].Fix, ".") {
				t.Errorf("fix %q does not contain %q (and end in a full stop)", got[0].Fix, tc.fix)
			}
		})
	}
}

package admission_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// benchPod is a Pod of a typical production size (about 9 KB): three
// containers with env, probes, resources and mounts, an init container,
// volumes, labels and annotations.
func benchPod() string {
	var c []string
	for k := 0; k < 3; k++ {
		var env []string
		for e := 0; e < 15; e++ {
			env = append(env, fmt.Sprintf(`{"name":"VAR_%d_%d","value":"value-%d-of-container-%d"}`, k, e, e, k))
		}
		c = append(c, fmt.Sprintf(`{"name":"app-%d","image":"registry.example/team/app-%d:1.2.3","args":["--port=808%d","--verbose"],
"ports":[{"name":"http-%d","containerPort":808%d,"protocol":"TCP"}],"env":[%s],
"resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"256Mi"}},
"volumeMounts":[{"name":"data","mountPath":"/data/%d"},{"name":"kube-api-access","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}],
"livenessProbe":{"httpGet":{"path":"/healthz","port":808%d},"periodSeconds":10},
"readinessProbe":{"httpGet":{"path":"/ready","port":808%d},"periodSeconds":5},
"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent",
"securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]},"runAsNonRoot":true}}`, k, k, k, k, k, strings.Join(env, ","), k, k, k))
	}
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-7d9f8b6c5-","namespace":"shop",
"labels":{"app":"web","pod-template-hash":"7d9f8b6c5","team":"shop","version":"1.2.3"},
"annotations":{"prometheus.io/scrape":"true","prometheus.io/port":"8080","kubectl.kubernetes.io/restartedAt":"2026-01-01T00:00:00Z"},
"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d9f8b6c5","uid":"3a1e9c1e-8d4b-4b0b-9a8e-1f2e3d4c5b6a","controller":true,"blockOwnerDeletion":true}]},
"spec":{"initContainers":[{"name":"migrate","image":"registry.example/team/migrate:1.2.3","command":["/migrate"]}],
"containers":[` + strings.Join(c, ",") + `],
"volumes":[{"name":"data","emptyDir":{}},{"name":"kube-api-access","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}}],"defaultMode":420}}],
"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"web",
"securityContext":{"runAsUser":1000,"fsGroup":2000},"schedulerName":"default-scheduler","priority":0,"enableServiceLinks":true,
"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}}`
}

// BenchmarkReview measures the whole path, AdmissionReview bytes in to
// response bytes out, against the baseline of decoding the Pod alone
// (BenchmarkUnmarshalPod). The sidecar is a full Spec (volume, app mounts
// and env), so every application container is patched.
func BenchmarkReview(b *testing.B) {
	body := review(b, req{object: benchPod()})
	i := newWebhook(b, admission.Config{Capability: staticCap(nativeCap)})
	// Once, untimed: the response allows the Pod with a patch that touches
	// only what it means to.
	resp, out, err := i.Review(context.Background(), body)
	if err != nil {
		b.Fatal(err)
	}
	r, ops := decodeResponse(b, resp, "0f6d7a44-9d2e-4c1b-9c59-1d0d4a2c1e11")
	if !r.Allowed || len(ops) == 0 || len(ops) != out.Ops {
		b.Fatalf("allowed %v with %d ops (outcome says %d)", r.Allowed, len(ops), out.Ops)
	}
	if err := patchtest.Verify([]byte(benchPod()), ops); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		if _, out, err := i.Review(context.Background(), body); err != nil || out.Ops == 0 {
			b.Fatal(err, out)
		}
	}
}

// BenchmarkReviewAlreadyInjected is a reinvocation: nothing to patch.
func BenchmarkReviewAlreadyInjected(b *testing.B) {
	i := newWebhook(b, admission.Config{Capability: staticCap(nativeCap)})
	body := review(b, req{object: benchPod()})
	resp, _, err := i.Review(context.Background(), body)
	if err != nil {
		b.Fatal(err)
	}
	_, ops := decodeResponse(b, resp, "0f6d7a44-9d2e-4c1b-9c59-1d0d4a2c1e11")
	after := applyOps(b, []byte(benchPod()), ops)
	body = review(b, req{object: string(after)})
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		if _, out, err := i.Review(context.Background(), body); err != nil || out.Skipped != sidecar.SkipAlreadyInjected {
			b.Fatal(err, out)
		}
	}
}

// BenchmarkUnmarshalPod is the baseline: json.Unmarshal of the same Pod
// into corev1.Pod.
func BenchmarkUnmarshalPod(b *testing.B) {
	raw := []byte(benchPod())
	var once corev1.Pod
	if err := json.Unmarshal(raw, &once); err != nil || len(once.Spec.Containers) != 3 || len(once.Spec.InitContainers) != 1 {
		b.Fatalf("benchPod decodes to %d containers, %d init containers: %v", len(once.Spec.Containers), len(once.Spec.InitContainers), err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		var p corev1.Pod
		if err := json.Unmarshal(raw, &p); err != nil {
			b.Fatal(err)
		}
	}
}

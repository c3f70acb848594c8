package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
)

const (
	smokeAnnotation = "e2e.sidecarkit.io/smoke"
	testLabel       = "e2e.sidecarkit.io/test"
)

// TestSmoke starts a cluster, registers a webhook that adds an annotation
// with a JSON patch, and checks what the API server stores.
func TestSmoke(t *testing.T) {
	begin := time.Now()
	c := cluster.ForTest(t, cluster.Options{})
	t.Logf("timing: PKI %v, etcd healthy %v, kube-apiserver ready %v, start total %v",
		c.Timings.PKI.Round(time.Millisecond), c.Timings.Etcd.Round(time.Millisecond),
		c.Timings.APIServer.Round(time.Millisecond), c.Timings.Start.Round(time.Millisecond))
	t.Cleanup(func() { t.Logf("timing: whole test %v", time.Since(begin).Round(time.Millisecond)) })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := c.Client()

	v, err := client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if want := c.Options().KubeVersion; v.GitVersion != want {
		t.Errorf("server version %s, want %s", v.GitVersion, want)
	}

	ns := c.TestNamespace(t, map[string]string{testLabel: "smoke"})
	start := time.Now()
	wh, err := c.ServeWebhook(ctx, http.HandlerFunc(annotateHandler), cluster.WebhookOptions{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{testLabel: "smoke"}},
		ProbeNamespace:    ns,
	})
	if err != nil {
		t.Fatalf("serve webhook: %v", err)
	}
	t.Logf("timing: webhook registered and called after %v (ServeWebhook %v)",
		wh.Ready.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		start := time.Now()
		if err := wh.Close(context.Background()); err != nil {
			t.Errorf("close webhook: %v", err)
		}
		t.Logf("timing: webhook closed (deregistration observed) in %v", time.Since(start).Round(time.Millisecond))
	})

	t.Run("webhook patch is stored", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "annotated", Namespace: ns},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:v1"}}},
		}
		start := time.Now()
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod: %v", err)
		}
		t.Logf("timing: pod create through the webhook %v", time.Since(start).Round(time.Millisecond))
		got, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get pod: %v", err)
		}
		if v := got.Annotations[smokeAnnotation]; v != "patched" {
			t.Errorf("stored annotations %v: want %s=patched", got.Annotations, smokeAnnotation)
		}
		if wh.Calls() < 1 {
			t.Errorf("webhook handler calls = %d, want at least 1", wh.Calls())
		}
		// The API server fills in defaults.
		if p := got.Spec.Containers[0].TerminationMessagePath; p == "" {
			t.Errorf("stored pod has no default terminationMessagePath")
		}
	})

	t.Run("init container restartPolicy", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "native-sidecar", Namespace: ns},
			Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "sidecar", Image: "registry.invalid/sidecar:v1", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}},
				Containers:     []corev1.Container{{Name: "app", Image: "registry.invalid/app:v1"}},
			},
		}
		created, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create pod: %v", err)
		}
		got, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get pod: %v", err)
		}
		if created.ResourceVersion != got.ResourceVersion {
			t.Errorf("pod changed after create: resourceVersion %s then %s", created.ResourceVersion, got.ResourceVersion)
		}
		stored := got.Spec.InitContainers[0].RestartPolicy
		inManagedFields, err := managedFieldsHave(got, "f:spec", "f:initContainers", `k:{"name":"sidecar"}`, "f:restartPolicy")
		if err != nil {
			t.Fatalf("managedFields: %v", err)
		}

		if enabled, set := c.Options().FeatureGate("SidecarContainers"); set && !enabled {
			// Gate off (the v1.32 leg): the field is dropped silently, and
			// only managedFields remembers that the client sent it.
			if stored != nil {
				t.Errorf("SidecarContainers=false: stored restartPolicy %q, want it dropped", *stored)
			}
			if !inManagedFields {
				t.Errorf("SidecarContainers=false: managedFields lack f:restartPolicy of init container sidecar: %s", managedFieldsJSON(got))
			}
			t.Logf("SidecarContainers=false: restartPolicy dropped, managedFields still list f:restartPolicy")
			return
		}
		if stored == nil || *stored != corev1.ContainerRestartPolicyAlways {
			t.Errorf("stored init container restartPolicy %v, want Always", stored)
		}
		if !inManagedFields {
			t.Errorf("managedFields lack f:restartPolicy of init container sidecar: %s", managedFieldsJSON(got))
		}
	})
}

// annotateHandler is a minimal mutating webhook: it adds the annotation
// smokeAnnotation=patched with a JSON patch.
func annotateHandler(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, fmt.Sprintf("decode AdmissionReview: %v", err), http.StatusBadRequest)
		return
	}
	var obj metav1.PartialObjectMetadata
	resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	if err := json.Unmarshal(review.Request.Object.Raw, &obj); err != nil {
		resp.Allowed = false
		resp.Result = &metav1.Status{Message: fmt.Sprintf("decode object: %v", err)}
	} else {
		var ops []map[string]any
		if obj.Annotations == nil {
			ops = append(ops, map[string]any{"op": "add", "path": "/metadata/annotations", "value": map[string]string{}})
		}
		ops = append(ops, map[string]any{
			"op":    "add",
			"path":  "/metadata/annotations/" + strings.ReplaceAll(strings.ReplaceAll(smokeAnnotation, "~", "~0"), "/", "~1"),
			"value": "patched",
		})
		patch, _ := json.Marshal(ops)
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = patch, &pt
	}
	review.Response, review.Request = resp, nil
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&review)
}

// managedFieldsHave reports whether any managedFields entry of obj lists the
// field at path (fieldsV1 keys such as "f:spec" or `k:{"name":"x"}`).
func managedFieldsHave(obj metav1.Object, path ...string) (bool, error) {
	for _, e := range obj.GetManagedFields() {
		if e.FieldsV1 == nil {
			continue
		}
		var node map[string]any
		if err := json.Unmarshal(e.FieldsV1.Raw, &node); err != nil {
			return false, fmt.Errorf("decode fieldsV1 of %s: %w", e.Manager, err)
		}
		found := true
		for _, key := range path {
			next, ok := node[key].(map[string]any)
			if !ok {
				found = false
				break
			}
			node = next
		}
		if found {
			return true, nil
		}
	}
	return false, nil
}

func managedFieldsJSON(obj metav1.Object) string {
	b, err := json.Marshal(obj.GetManagedFields())
	if err != nil {
		return err.Error()
	}
	return string(b)
}

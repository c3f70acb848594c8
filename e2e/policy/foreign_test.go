package policy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/policy"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// hardener is a foreign mutating webhook that sets a securityContext on
// every container that has none, the sidecar included.
func hardener() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		var pod corev1.Pod
		_ = json.Unmarshal(review.Request.Object.Raw, &pod)
		var ops []map[string]any
		for _, l := range []struct {
			name string
			cs   []corev1.Container
		}{{"initContainers", pod.Spec.InitContainers}, {"containers", pod.Spec.Containers}} {
			for i, c := range l.cs {
				if c.SecurityContext == nil {
					ops = append(ops, map[string]any{"op": "add", "path": fmt.Sprintf("/spec/%s/%d/securityContext", l.name, i), "value": map[string]any{"runAsNonRoot": true}})
				}
			}
		}
		resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		if len(ops) > 0 {
			resp.Patch, _ = json.Marshal(ops)
			pt := admissionv1.PatchTypeJSONPatch
			resp.PatchType = &pt
		}
		review.Response, review.Request = resp, nil
		_ = json.NewEncoder(w).Encode(&review)
	})
}

// TestPolicyForeignWebhook: a webhook that edits every container runs
// after the policy. Reinvoked once (Never), it leaves the last word to the
// policy, whose reinvocation restores the sidecar; reinvoked too
// (IfNeeded), its edit comes last and the validating policy refuses the
// Pod, naming the field (docs/policy.md#differences-from-the-library).
func TestPolicyForeignWebhook(t *testing.T) {
	c := env(t)
	for _, tc := range []struct {
		reinvocation admissionregistrationv1.ReinvocationPolicyType
		refused      bool
	}{{admissionregistrationv1.NeverReinvocationPolicy, false}, {admissionregistrationv1.IfNeededReinvocationPolicy, true}} {
		t.Run(string(tc.reinvocation), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			s := loadSpec(t, sidecar.Placement{})
			ns, sel := policyNamespace(t, c, "foreign-"+strings.ToLower(string(tc.reinvocation)))
			install(t, c, compile(t, s, policy.Options{Mode: sidecar.Native, Name: "foreign-" + strings.ToLower(string(tc.reinvocation))}), sel)
			waitActive(t, c, ns, s.Container.Name)
			w, err := c.ServeWebhook(ctx, hardener(), cluster.WebhookOptions{
				NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
				ProbeNamespace:     ns,
				ReinvocationPolicy: tc.reinvocation,
			})
			if err != nil {
				t.Fatalf("serve webhook: %v", err)
			}
			t.Cleanup(func() { _ = w.Close(context.Background()) })
			pod := mustJSON(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hardened"},
				Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false), Containers: []corev1.Container{container("app")}}})
			stored, err := createRaw(ctx, c, ns, pod, false)
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "differs from sidecar \"proxy\"'s spec in securityContext") {
					t.Fatalf("create: %v, want the validating policy's refusal naming securityContext", err)
				}
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if sc := stored.Spec.InitContainers[0]; sc.Name != "proxy" || sc.SecurityContext != nil {
				t.Errorf("sidecar %q stored with securityContext %v, want the spec's (none)", sc.Name, sc.SecurityContext)
			}
			if app := stored.Spec.Containers[0]; app.SecurityContext == nil {
				t.Errorf("the webhook's edit of the app container is lost")
			}
		})
	}
}

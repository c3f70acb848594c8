package injection_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/e2e/cluster"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// admitFunc answers one admission request with RFC 6902 ops (nil: no
// change) or an error, which denies the request with its message.
type admitFunc func(req *admissionv1.AdmissionRequest) ([]byte, error)

// admissionHandler serves AdmissionReview v1 with f.
func admissionHandler(f admitFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var review admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
			http.Error(w, fmt.Sprintf("decode AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		resp := &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
		ops, err := f(review.Request)
		switch {
		case err != nil:
			resp.Allowed = false
			resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity, Message: err.Error()}
		case len(ops) > 0:
			pt := admissionv1.PatchTypeJSONPatch
			resp.Patch, resp.PatchType = ops, &pt
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(&admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Response: resp,
		})
	})
}

// injector is the in-process webhook built from the library: patch.Decode,
// sidecar.Inject, Mutation.JSONPatch, checked with patchtest.Verify.
type injector struct {
	spec       sidecar.Spec
	capability compat.Capability
	opts       sidecar.Options

	mu      sync.Mutex
	results map[string][]sidecar.Result // by object name, in call order
}

func (in *injector) admit(req *admissionv1.AdmissionRequest) ([]byte, error) {
	raw := req.Object.Raw
	obj, err := patch.DecodeAs(raw, req.Kind.Kind) // the request says the kind: no guessing
	if err != nil {
		return nil, err
	}
	opts := in.opts
	opts.PodResources = obj.PodResources
	res, err := sidecar.Inject(obj.Meta, obj.Spec, in.spec, in.capability, opts)
	if err != nil {
		return nil, err
	}
	in.mu.Lock()
	if in.results == nil {
		in.results = map[string][]sidecar.Result{}
	}
	in.results[req.Name] = append(in.results[req.Name], res)
	in.mu.Unlock()
	if res.Mutation.Empty() {
		return nil, nil
	}
	ops, err := res.Mutation.JSONPatch(obj.Root)
	if err != nil {
		return nil, err
	}
	if err := patchtest.Verify(raw, ops); err != nil {
		return nil, err
	}
	return json.Marshal(ops)
}

// calls returns the results of the calls for the object named name.
func (in *injector) calls(name string) []sidecar.Result {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]sidecar.Result(nil), in.results[name]...)
}

// namespace creates a namespace for t and returns its name.
func namespace(t *testing.T, c *cluster.Cluster) string {
	t.Helper()
	return c.TestNamespace(t, map[string]string{"e2e.sidecarkit.io/package": "injection"})
}

// serve registers h as a mutating webhook for Pods created in namespace ns
// only, and closes it when t ends.
func serve(t *testing.T, c *cluster.Cluster, ns string, h http.Handler, opts cluster.WebhookOptions) *cluster.Webhook {
	t.Helper()
	opts.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	opts.ProbeNamespace = ns
	if opts.ReinvocationPolicy == "" {
		opts.ReinvocationPolicy = admissionregistrationv1.NeverReinvocationPolicy
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	wh, err := c.ServeWebhook(ctx, h, opts)
	if err != nil {
		t.Fatalf("serve webhook: %v", err)
	}
	t.Cleanup(func() {
		if err := wh.Close(context.Background()); err != nil {
			t.Errorf("close webhook: %v", err)
		}
	})
	return wh
}

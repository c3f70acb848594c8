package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	jsonpatchv5 "github.com/evanphx/json-patch/v5"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/webhook"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// fixed is a facts.Source that always gives the same capability.
type fixed compat.Capability

func (f fixed) Capability(context.Context, *corev1.PodSpec) (compat.Capability, error) {
	return compat.Capability(f), nil
}

func native(t *testing.T) fixed {
	t.Helper()
	c, err := compat.ParseAPIServerVersion("v1.33.1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := compat.ParseKubeletVersion("v1.33.1")
	if err != nil {
		t.Fatal(err)
	}
	return fixed(c.Override(k))
}

func legacy(t *testing.T) fixed {
	t.Helper()
	c, err := compat.ParseAPIServerVersion("v1.33.1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := compat.ParseKubeletVersion("v1.27.9")
	if err != nil {
		t.Fatal(err)
	}
	return fixed(c.Override(k))
}

func loadSpec(t *testing.T) sidecar.Spec {
	t.Helper()
	b, err := os.ReadFile("../../testdata/sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sidecar.LoadSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func request(op admissionv1.Operation, kind string, raw []byte) admission.Request {
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("42"),
		Kind:      metav1.GroupVersionKind{Version: "v1", Kind: kind},
		Operation: op,
		Object:    runtime.RawExtension{Raw: raw},
	}}
}

// patchOf returns the JSON patch a response carries, as the webhook server
// would send it.
func patchOf(t *testing.T, resp admission.Response, req admission.Request) []byte {
	t.Helper()
	if err := resp.Complete(req); err != nil {
		t.Fatal(err)
	}
	if resp.PatchType != nil && *resp.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patch type %q", *resp.PatchType)
	}
	return resp.Patch
}

func apply(t *testing.T, doc, p []byte) []byte {
	t.Helper()
	dp, err := jsonpatchv5.DecodePatch(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dp.Apply(doc)
	if err != nil {
		t.Fatalf("apply %s: %v", p, err)
	}
	return out
}

// typedHandler is the usual controller-runtime mutating handler: decode
// into corev1.Pod, change the typed Pod (here with the very same mutation,
// so only the response path differs), marshal it and diff it against the
// request with admission.PatchResponseFromRaw.
func typedHandler(spec sidecar.Spec, c compat.Capability) admission.Handler {
	dec := admission.NewDecoder(clientgoscheme.Scheme)
	return admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
		pod := &corev1.Pod{}
		if err := dec.Decode(req, pod); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		res, err := sidecar.Inject(&pod.ObjectMeta, &pod.Spec, spec, c, sidecar.Options{})
		if err != nil {
			return admission.Denied(err.Error())
		}
		if err := res.Mutation.Apply(&pod.ObjectMeta, &pod.Spec); err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		marshaled, err := json.Marshal(pod)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		return admission.PatchResponseFromRaw(req.Object.Raw, marshaled)
	})
}

// TestUnknownFieldsKept compares the two response paths on a Pod carrying
// fields the compiled k8s.io/api does not know (a newer API server's): the
// library's ops keep every one of them, PatchResponseFromRaw's diff of the
// re-marshalled typed Pod removes them.
func TestUnknownFieldsKept(t *testing.T) {
	raw, err := os.ReadFile("testdata/pod-unknown-fields.json")
	if err != nil {
		t.Fatal(err)
	}
	spec, c := loadSpec(t), native(t)
	req := request(admissionv1.Create, "Pod", raw)

	ours := (&webhook.Handler{Spec: spec, Facts: fixed(c)}).Handle(context.Background(), req)
	theirs := typedHandler(spec, compat.Capability(c)).Handle(context.Background(), req)
	if !ours.Allowed || !theirs.Allowed {
		t.Fatalf("allowed: ours %v (%v), theirs %v (%v)", ours.Allowed, ours.Result, theirs.Allowed, theirs.Result)
	}
	ourPatch, theirPatch := patchOf(t, ours, req), patchOf(t, theirs, req)
	ourPod, theirPod := apply(t, raw, ourPatch), apply(t, raw, theirPatch)

	// Both made the intended change.
	for name, doc := range map[string][]byte{"ours": ourPod, "theirs": theirPod} {
		var p corev1.Pod
		if err := json.Unmarshal(doc, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Spec.InitContainers) != 2 || p.Spec.InitContainers[0].Name != "proxy" ||
			p.Spec.InitContainers[0].RestartPolicy == nil || p.Spec.InitContainers[1].Name != "migrate" {
			t.Errorf("%s: initContainers = %+v, want the native proxy before migrate", name, p.Spec.InitContainers)
		}
	}

	kept, total, lost, err := patchtest.UnknownFieldsKept(raw, ourPod)
	if err != nil {
		t.Fatal(err)
	}
	if total != 6 || kept != total {
		t.Errorf("ours: kept %d of %d unknown fields, lost %q", kept, total, lost)
	}
	var ops patch.Ops
	if err := json.Unmarshal(ourPatch, &ops); err != nil {
		t.Fatal(err)
	}
	if err := patchtest.Verify(raw, ops); err != nil {
		t.Errorf("ours: %v", err)
	}

	tkept, ttotal, tlost, err := patchtest.UnknownFieldsKept(raw, theirPod)
	if err != nil {
		t.Fatal(err)
	}
	if ttotal != total || tkept != 0 {
		t.Errorf("theirs: kept %d of %d unknown fields (lost %q); the typed round trip was expected to lose all of them", tkept, ttotal, tlost)
	}
	removes := 0
	for _, p := range theirs.Patches {
		if p.Operation == "remove" {
			removes++
		}
	}
	if removes == 0 {
		t.Errorf("theirs: no remove op in %s", theirPatch)
	}
	t.Logf("ours: %d ops, %d bytes, %d/%d unknown fields kept", len(ours.Patches), len(ourPatch), kept, total)
	t.Logf("PatchResponseFromRaw: %d ops (%d removes), %d bytes, %d/%d kept, lost %s", len(theirs.Patches), removes, len(theirPatch), tkept, ttotal, strings.Join(tlost, " "))
}

func TestHandle(t *testing.T) {
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"a"}]}}`
	injected := func(t *testing.T, c fixed) string {
		req := request(admissionv1.Create, "Pod", []byte(pod))
		resp := (&webhook.Handler{Spec: loadSpec(t), Facts: c}).Handle(context.Background(), req)
		return string(apply(t, []byte(pod), patchOf(t, resp, req)))
	}
	deploy := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"app","image":"a"}]}}}}`
	tests := []struct {
		name    string
		op      admissionv1.Operation
		kind    string
		raw     string
		facts   func(*testing.T) fixed
		allowed bool
		code    int32
		// wantPatch is a substring of the patch; "" means no patch.
		wantPatch string
	}{
		{name: "pod create native", op: admissionv1.Create, kind: "Pod", raw: pod, facts: native, allowed: true,
			wantPatch: `{"op":"add","path":"/spec/initContainers","value":[{"name":"proxy"`},
		{name: "pod create legacy", op: admissionv1.Create, kind: "Pod", raw: pod, facts: legacy, allowed: true,
			wantPatch: `{"op":"add","path":"/spec/containers/0","value":{"name":"proxy"`},
		{name: "pod update", op: admissionv1.Update, kind: "Pod", raw: pod, facts: native, allowed: true},
		{name: "delete", op: admissionv1.Delete, kind: "Pod", facts: native, allowed: true},
		{name: "deployment update", op: admissionv1.Update, kind: "Deployment", raw: deploy, facts: native, allowed: true,
			wantPatch: `"path":"/spec/template/spec/initContainers"`},
		{name: "already injected", op: admissionv1.Create, kind: "Pod", facts: native, allowed: true,
			raw: "", // filled below: the output of "pod create native" (reinvocation)
		},
		{name: "foreign container", op: admissionv1.Create, kind: "Pod", facts: native, code: http.StatusForbidden,
			raw: `{"kind":"Pod","spec":{"containers":[{"name":"app","image":"a"},{"name":"proxy","image":"other"}]}}`},
		{name: "not json", op: admissionv1.Create, kind: "Pod", raw: `{"kind":`, facts: native, code: http.StatusBadRequest},
		{name: "no pod spec", op: admissionv1.Create, kind: "ConfigMap", raw: `{"kind":"ConfigMap","data":{}}`, facts: native, allowed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw
			if tt.name == "already injected" {
				raw = injected(t, native(t))
			}
			req := request(tt.op, tt.kind, []byte(raw))
			resp := (&webhook.Handler{Spec: loadSpec(t), Facts: tt.facts(t)}).Handle(context.Background(), req)
			if resp.Allowed != tt.allowed {
				t.Fatalf("allowed = %v (%+v), want %v", resp.Allowed, resp.Result, tt.allowed)
			}
			if tt.code != 0 && resp.Result.Code != tt.code {
				t.Errorf("code = %d, want %d (%s)", resp.Result.Code, tt.code, resp.Result.Message)
			}
			p := patchOf(t, resp, req)
			switch {
			case tt.wantPatch == "" && len(p) > 0:
				t.Errorf("patch = %s, want none", p)
			case tt.wantPatch != "" && !bytes.Contains(p, []byte(tt.wantPatch)):
				t.Errorf("patch = %s, want it to contain %s", p, tt.wantPatch)
			}
		})
	}
}

// TestServeHTTPMove runs the handler behind controller-runtime's webhook
// server code: a Pod whose sidecar was injected as legacy is admitted again
// (reinvocation) when the nodes run native sidecars; Inject moves it with
// an RFC 6902 "move", which admission.Response.Patches cannot hold, so the
// response carries the library's encoded ops.
func TestServeHTTPMove(t *testing.T) {
	spec := loadSpec(t)
	pod := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"app","image":"a"}]}}`)
	first := request(admissionv1.Create, "Pod", pod)
	resp := (&webhook.Handler{Spec: spec, Facts: legacy(t)}).Handle(context.Background(), first)
	legacyPod := apply(t, pod, patchOf(t, resp, first))

	srv := httptest.NewServer(&admission.Webhook{Handler: &webhook.Handler{Spec: spec, Facts: native(t)}})
	defer srv.Close()
	second := request(admissionv1.Create, "Pod", legacyPod)
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &second.AdmissionRequest,
	}
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	httpResp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer httpResp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(httpResp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Response == nil || !out.Response.Allowed || out.Response.UID != "42" {
		t.Fatalf("response = %+v", out.Response)
	}
	if !bytes.Contains(out.Response.Patch, []byte(`{"op":"move","from":"/spec/containers/0","path":"/spec/initContainers/0"}`)) {
		t.Errorf("patch = %s, want a move of the legacy sidecar", out.Response.Patch)
	}
	var p corev1.Pod
	if err := json.Unmarshal(apply(t, legacyPod, out.Response.Patch), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Spec.InitContainers) != 1 || p.Spec.InitContainers[0].Name != "proxy" || p.Spec.InitContainers[0].RestartPolicy == nil {
		t.Errorf("initContainers = %+v", p.Spec.InitContainers)
	}
}

func TestOperations(t *testing.T) {
	ops := patch.Ops{
		{Op: "test", Path: "/spec/containers/0/name", Value: json.RawMessage(`"app"`)},
		{Op: "add", Path: "/metadata/annotations/a~1b", Value: json.RawMessage(`null`)},
		{Op: "remove", Path: "/spec/volumes/1"},
		{Op: "replace", Path: "/spec/x", Value: json.RawMessage(`{"b":1,"a":[1.50,2]}`)},
	}
	got, err := webhook.Operations(ops)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, want) {
		t.Errorf("converted ops encode as\n%s\nwant\n%s", enc, want)
	}
	_, err = webhook.Operations(patch.Ops{{Op: "move", From: "/spec/containers/0", Path: "/spec/initContainers/0"}})
	if !errors.Is(err, webhook.ErrNotRepresentable) {
		t.Errorf("move: err = %v, want ErrNotRepresentable", err)
	}
}

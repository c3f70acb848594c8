package main

import (
	"context"
	"encoding/json"
	"net/http"
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
	"github.com/sidecarkit/sidecarkit/crwebhook"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// The operator's webhook is crwebhook.Handler; this test shows why it
// answers with the library's ops rather than the usual
// admission.PatchResponseFromRaw.

func nativeCapability(t *testing.T) compat.Capability {
	t.Helper()
	c, err := compat.ParseAPIServerVersion("v1.33.1")
	if err != nil {
		t.Fatal(err)
	}
	k, err := compat.ParseKubeletVersion("v1.33.1")
	if err != nil {
		t.Fatal(err)
	}
	return c.Override(k)
}

func loadSidecar(t *testing.T) sidecar.Spec {
	t.Helper()
	b, err := os.ReadFile("../testdata/sidecar.yaml")
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
	spec, c := loadSidecar(t), nativeCapability(t)
	req := request(admissionv1.Create, "Pod", raw)

	in, err := sidecar.NewInjector(spec)
	if err != nil {
		t.Fatal(err)
	}
	h, err := crwebhook.NewHandler(crwebhook.Config{Injector: in,
		Capability: func(context.Context, *corev1.PodSpec) (compat.Capability, error) { return c, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ours := h.Handle(context.Background(), req)
	theirs := typedHandler(spec, c).Handle(context.Background(), req)
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
	t.Logf("crwebhook.Handler: %d ops, %d bytes, %d/%d unknown fields kept", len(ops), len(ourPatch), kept, total)
	t.Logf("PatchResponseFromRaw: %d ops (%d removes), %d bytes, %d/%d kept, lost %s", len(theirs.Patches), removes, len(theirPatch), tkept, ttotal, strings.Join(tlost, " "))
}

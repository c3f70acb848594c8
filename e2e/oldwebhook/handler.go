package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/patch/patchtest"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// maxReview bounds the AdmissionReview a request may carry.
const maxReview = 8 << 20

// handler answers AdmissionReview v1 requests with sidecarkit's patch.
type handler struct {
	spec       sidecar.Spec
	capability compat.Capability
	opts       sidecar.Options
	naive      bool
}

func newHandler(specFile, mode, apiserverVersion string, naive bool) (*handler, error) {
	data, err := os.ReadFile(specFile)
	if err != nil {
		return nil, err
	}
	spec, err := sidecar.LoadSpec(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", specFile, err)
	}
	m, err := sidecar.ParseMode(mode)
	if err != nil {
		return nil, fmt.Errorf("-mode: %w", err)
	}
	if m == sidecar.Universal {
		return nil, errors.New("-mode universal is not supported here (no handshake runner configured)")
	}
	c, err := capability(apiserverVersion)
	if err != nil {
		return nil, err
	}
	return &handler{spec: spec, capability: c, opts: sidecar.Options{Mode: m}, naive: naive}, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST an AdmissionReview", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReview+1))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxReview {
		http.Error(w, fmt.Sprintf("request larger than %d bytes", maxReview), http.StatusRequestEntityTooLarge)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil {
		http.Error(w, "decode AdmissionReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	if review.Request == nil {
		http.Error(w, "AdmissionReview without a request", http.StatusBadRequest)
		return
	}
	resp := h.admit(review.Request)
	resp.UID = review.Request.UID
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Response: resp,
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(&out)
}

// admit injects the sidecar into the request's object and returns the
// response: the JSON patch, or a denial that says why.
func (h *handler) admit(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	raw := req.Object.Raw
	obj, err := patch.DecodeAs(raw, req.Kind.Kind) // the request says the kind: no guessing
	if err != nil {
		return deny(http.StatusBadRequest, err)
	}
	opts := h.opts
	opts.PodResources = obj.PodResources
	res, err := sidecar.Inject(obj.Meta, obj.Spec, h.spec, h.capability, opts)
	if err != nil {
		return deny(http.StatusUnprocessableEntity, err)
	}
	resp := &admissionv1.AdmissionResponse{Allowed: true}
	for _, w := range res.Warnings {
		if w.Path != "" {
			w.Message = w.Path + ": " + w.Message
		}
		resp.Warnings = append(resp.Warnings, w.Message)
	}
	if res.Mutation.Empty() {
		return resp
	}
	var ops []byte
	if h.naive {
		ops, err = naivePatch(obj, res.Mutation)
	} else {
		ops, err = guardedPatch(raw, obj.Root, res.Mutation)
	}
	if err != nil {
		return deny(http.StatusInternalServerError, err)
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = ops, &pt
	return resp
}

// guardedPatch renders the mutation as RFC 6902 ops and proves with
// patchtest.Verify that they change nothing else in the raw object.
func guardedPatch(raw []byte, root patch.Root, m *patch.Mutation) ([]byte, error) {
	ops, err := m.JSONPatch(root)
	if err != nil {
		return nil, err
	}
	if err := patchtest.Verify(raw, ops); err != nil {
		return nil, err
	}
	return json.Marshal(ops)
}

// naivePatch is the round-trip the library exists to avoid: apply the
// mutation to the typed objects and replace the spec and the annotations
// with their re-encoded forms.
func naivePatch(obj *patch.Object, m *patch.Mutation) ([]byte, error) {
	meta, spec := m.Result()
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	annJSON, err := json.Marshal(meta.Annotations)
	if err != nil {
		return nil, err
	}
	metaPath, ok := obj.Root.Metadata()
	if !ok {
		return nil, fmt.Errorf("no metadata path for root %s", obj.Root)
	}
	ops := patch.Ops{
		{Op: "replace", Path: string(obj.Root), Value: specJSON},
		{Op: "add", Path: metaPath + "/annotations", Value: annJSON},
	}
	return json.Marshal(ops)
}

func deny(code int32, err error) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{
		Allowed: false,
		Result:  &metav1.Status{Status: metav1.StatusFailure, Code: code, Message: "sidecarkit: " + err.Error()},
	}
}

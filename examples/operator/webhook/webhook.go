// Package webhook puts the library inside a controller-runtime
// admission.Handler, the most common webhook framework.
//
// Handlers written for controller-runtime usually decode the Pod into
// corev1.Pod, change it, marshal it and call admission.PatchResponseFromRaw,
// which diffs the re-marshalled Pod against the request. Every field the
// webhook's compiled k8s.io/api does not know (a newer API server's) is
// absent from the re-marshalled Pod, so the diff removes it. Handler instead
// decodes the request with patch.Decode, plans with sidecar.Inject and
// answers with the library's RFC 6902 operations against the raw request,
// which name only what the injection changes.
package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	jsonpatch "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/examples/operator/facts"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Handler injects a sidecar into the object of each admission request: a
// Pod on CREATE, or a workload (any kind patch.Decode knows) on CREATE or
// UPDATE.
type Handler struct {
	// Spec is the sidecar.
	Spec sidecar.Spec
	// Options tune sidecar.Inject.
	Options sidecar.Options
	// Facts says what the cluster can do for the object's pod spec. Nil
	// means nothing is known: Auto then uses Options.Fallback.
	Facts facts.Source

	prepare  sync.Once
	injector *sidecar.Injector // Spec, prepared once
	prepErr  error
}

var _ admission.Handler = (*Handler)(nil)

// Handle implements admission.Handler.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	switch {
	case req.Operation != admissionv1.Create && req.Operation != admissionv1.Update:
		return admission.Allowed("nothing to inject on " + string(req.Operation))
	case req.Operation == admissionv1.Update && req.Kind.Kind == "Pod":
		return admission.Allowed("a Pod's containers cannot change after creation")
	}
	if _, err := patch.RootFor(req.Kind.Kind); req.Kind.Kind != "" && err != nil {
		// patch.Decode's error for such a kind wraps no sentinel: ask first.
		return admission.Allowed("no pod spec in a " + req.Kind.Kind)
	}
	obj, err := patch.Decode(req.Object.Raw)
	if err != nil {
		if errors.Is(err, patch.ErrNoPodSpec) {
			return admission.Allowed("no pod spec: " + err.Error())
		}
		return admission.Errored(http.StatusBadRequest, err)
	}
	var c compat.Capability
	var warnings []string
	if h.Facts != nil {
		spec, err := sidecar.SchedulingSpec(obj.Meta, obj.Spec, h.Spec.Container.Name)
		if err == nil {
			c, err = h.Facts.Capability(ctx, spec)
		}
		if err != nil {
			warnings = append(warnings, "sidecarkit: capability partly unknown: "+err.Error())
		}
	}
	h.prepare.Do(func() { h.injector, h.prepErr = sidecar.NewInjector(h.Spec) })
	if h.prepErr != nil {
		return admission.Errored(http.StatusInternalServerError, h.prepErr)
	}
	// InjectObject sees the raw fields the compiled types lack (a sidecar
	// container carrying any is replaced whole) and the pod-level
	// resources.
	res, err := h.injector.InjectObject(ctx, obj, c, h.Options)
	if err != nil {
		// A container of the sidecar's name that sidecarkit did not
		// inject, or a pod the injection would make invalid: the author
		// has to change it, so deny with the reason.
		return admission.Denied(err.Error())
	}
	for _, w := range res.Warnings {
		if w.Path != "" {
			w.Message = w.Path + ": " + w.Message
		}
		warnings = append(warnings, w.Message)
	}
	if res.Mutation.Empty() {
		return admission.Allowed(fmt.Sprintf("%s: %s", res.Skipped, res.Reason)).WithWarnings(warnings...)
	}
	ops, err := res.Mutation.JSONPatch()
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	resp, err := Patched(fmt.Sprintf("%s: %s", res.Mode, res.Reason), ops)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return resp.WithWarnings(warnings...)
}

// ErrNotRepresentable is returned by Operations for an op that
// gomodules.xyz/jsonpatch/v2, and so admission.Response.Patches, cannot
// hold: its Operation type has no "from" member, so "move" and "copy" have
// no form there.
var ErrNotRepresentable = errors.New("webhook: op has no gomodules.xyz/jsonpatch/v2 form (it has no \"from\" member)")

// Operations converts the library's ops to the type admission.Response
// carries. Values are kept as the library's exact JSON (json.RawMessage),
// so they marshal byte for byte as the library rendered them.
func Operations(ops patch.Ops) ([]jsonpatch.JsonPatchOperation, error) {
	out := make([]jsonpatch.JsonPatchOperation, 0, len(ops))
	for i, op := range ops {
		if op.From != "" || op.Op == "move" || op.Op == "copy" {
			return nil, fmt.Errorf("op %d (%s %s from %s): %w", i, op.Op, op.Path, op.From, ErrNotRepresentable)
		}
		o := jsonpatch.JsonPatchOperation{Operation: op.Op, Path: op.Path}
		if op.Value != nil {
			o.Value = op.Value
		}
		out = append(out, o)
	}
	return out, nil
}

// Patched is admission.Patched for the library's ops. When the ops have a
// move (Inject moving a sidecar between the legacy and the native form),
// which admission.Response.Patches cannot hold, the response carries the
// encoded ops in AdmissionResponse.Patch instead; controller-runtime's
// Response.Complete leaves that alone when Patches is empty.
func Patched(message string, ops patch.Ops) (admission.Response, error) {
	if len(ops) == 0 {
		return admission.Allowed(message), nil
	}
	ps, err := Operations(ops)
	if err == nil {
		return admission.Patched(message, ps...), nil
	}
	if !errors.Is(err, ErrNotRepresentable) {
		return admission.Response{}, err
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		return admission.Response{}, err
	}
	resp := admission.Allowed(message)
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = raw, &pt
	return resp, nil
}

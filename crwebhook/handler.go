// Package crwebhook integrates sidecarkit with controller-runtime
// (sigs.k8s.io/controller-runtime v0.16 through v0.25): an admission.Handler
// that injects a sidecar (Handler), its registration on a webhook.Server
// (Register), the patch an operator sends to a live workload
// (PatchWorkload) and a capability source that reads the Nodes from a
// client.Reader (Cluster).
//
// Handlers written for controller-runtime usually decode the Pod into
// corev1.Pod, change it, marshal it and answer with
// admission.PatchResponseFromRaw, which diffs the re-marshalled Pod against
// the request: every field the compiled k8s.io/api does not know (a newer
// API server's) is absent from the re-marshalled Pod, so the diff removes it
// (docs/field-stripping.md). Handler never decodes into a typed object to
// re-encode it: it decodes the request's raw bytes with patch.DecodeAs and
// answers with the library's RFC 6902 operations against them, which name
// only what the injection changes.
package crwebhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"unicode"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	sidecaradmission "github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// CapabilityFunc says what the cluster can do for a pod spec: the spec of
// the object under review with sidecar.SchedulingSpec applied (without the
// node requirement of an earlier pinned injection of this sidecar, so that
// a pinned Pod is not judged by its own pin). It must not modify spec and
// must be safe for concurrent use. Cluster.Capability is one.
type CapabilityFunc func(ctx context.Context, spec *corev1.PodSpec) (compat.Capability, error)

// Config is what a Handler injects, and where.
type Config struct {
	// Injector is the prepared sidecar (sidecar.NewInjector), shared by
	// every request. Required.
	Injector *sidecar.Injector
	// Options tune the injection (mode policy, universal planner,
	// Decide). PodResources is ignored: each request supplies its own.
	Options sidecar.Options
	// Capability says what the cluster can do for the object under
	// review. Nil means an Unknown capability: Auto then takes
	// Options.Fallback.
	Capability CapabilityFunc
	// AllowPartialCapability makes a Capability error inject with the
	// capability returned alongside it (Unknown where nothing could be
	// read, from which Auto takes Options.Fallback) and pass the error
	// on as a warning. Without it a Capability error is answered with
	// admission.Errored (code 500). Note that controller-runtime answers
	// every response with HTTP 200: an errored response is a rejection
	// of the object, so the webhook's failurePolicy does not apply to it
	// (package sidecarkit/admission answers HTTP 500 instead).
	AllowPartialCapability bool
	// Workloads makes CREATE requests of Deployments, StatefulSets,
	// DaemonSets, ReplicaSets, Jobs, CronJobs, ReplicationControllers
	// and PodTemplates mutate their pod template too. The default
	// mutates Pods only.
	Workloads bool
}

// Handler is a controller-runtime admission.Handler that injects one
// sidecar into the object of each CREATE request of a Pod (and, with
// Config.Workloads, of a built-in workload). It never panics and never
// logs; it is safe for concurrent use. Create it with NewHandler.
//
// It answers like package sidecarkit/admission (go doc
// github.com/sidecarkit/sidecarkit/admission):
//   - allowed with PatchType JSONPatch and the minimal RFC 6902 patch when
//     the injection changes something; allowed without a patch when it
//     does not (another operation, a subresource, another kind, a Pod
//     already injected or declined by Options.Decide);
//   - denied with code 422 (reason Invalid) and the injection's field-path
//     error when the object cannot take the sidecar, its message cut to
//     sidecarkit/admission.MaxMessageBytes;
//   - admission.Errored with code 400 when the object does not decode as
//     the request's kind, 500 when the context ends or the capability
//     source fails (see Config.AllowPartialCapability).
//
// The injection's warnings are passed on as the response's warnings, at
// most sidecarkit/admission.MaxWarnings of at most MaxWarningLength runes,
// control characters replaced.
type Handler struct {
	c Config
}

var _ admission.Handler = (*Handler)(nil)

// NewHandler checks c and returns a Handler for it.
func NewHandler(c Config) (*Handler, error) {
	if c.Injector == nil {
		return nil, errors.New("crwebhook: Config.Injector is nil (create one with sidecar.NewInjector)")
	}
	if c.Options.Universal == nil && (c.Options.Mode == sidecar.Universal || c.Options.Fallback == sidecar.Universal) {
		return nil, errors.New("crwebhook: the universal mode needs Options.Universal (a universal.Planner)")
	}
	return &Handler{c: c}, nil
}

// kinds are the group/kinds a Handler may mutate, with whether they are
// workloads (mutated only with Config.Workloads). The list is
// sidecarkit/admission's, whose own is not exported.
var kinds = map[metav1.GroupKind]bool{
	{Group: "", Kind: "Pod"}:                   false,
	{Group: "apps", Kind: "Deployment"}:        true,
	{Group: "apps", Kind: "StatefulSet"}:       true,
	{Group: "apps", Kind: "DaemonSet"}:         true,
	{Group: "apps", Kind: "ReplicaSet"}:        true,
	{Group: "batch", Kind: "Job"}:              true,
	{Group: "batch", Kind: "CronJob"}:          true,
	{Group: "", Kind: "ReplicationController"}: true,
	{Group: "", Kind: "PodTemplate"}:           true,
}

// Handle implements admission.Handler.
//
// The patch travels in the response's Patch and PatchType fields, not in
// admission.Response.Patches: that field's type,
// gomodules.xyz/jsonpatch/v2.Operation, has only op, path and value and no
// "from" member (see type Operation in jsonpatch.go of
// gomodules.xyz/jsonpatch/v2 v2.4.0, which both controller-runtime v0.16.0
// and v0.25.3 require; v2.5.0 has the same three members), so it
// cannot hold the "move" the library uses to migrate a sidecar between
// the legacy and the native form while keeping its unknown fields; and
// admission.Patched and admission.PatchResponseFromRaw fill Patches.
// controller-runtime's Response.Complete leaves Patch alone when Patches
// is empty (pkg/webhook/admission/webhook.go in both versions).
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	if err := ctx.Err(); err != nil {
		return errored(http.StatusInternalServerError, fmt.Errorf("crwebhook: %w", err))
	}
	workload, known := kinds[metav1.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind}]
	switch {
	case req.Operation != admissionv1.Create:
		return admission.Allowed(fmt.Sprintf("operation %s is not mutated", req.Operation))
	case req.SubResource != "":
		return admission.Allowed(boundMessage(fmt.Sprintf("subresource %q is not mutated", req.SubResource)))
	case !known || (workload && !h.c.Workloads):
		return admission.Allowed(boundMessage(fmt.Sprintf("kind %s is not mutated", kindString(req.Kind))))
	}
	raw := req.Object.Raw
	if len(raw) == 0 || string(raw) == "null" {
		return errored(http.StatusBadRequest, errors.New("crwebhook: request.object is missing"))
	}
	obj, err := patch.DecodeAs(raw, req.Kind.Kind)
	if err != nil {
		return errored(http.StatusBadRequest, fmt.Errorf("crwebhook: request.object: %w", err))
	}
	var c compat.Capability
	var warnings []string
	if h.c.Capability != nil {
		sched, err := sidecar.SchedulingSpec(obj.Meta, obj.Spec, h.c.Injector.Name())
		if err != nil {
			// A corrupt record of ours: InjectObject reports it below.
			sched = obj.Spec
		}
		c, err = h.c.Capability(ctx, sched)
		if err != nil {
			if !h.c.AllowPartialCapability || ctx.Err() != nil {
				return errored(http.StatusInternalServerError, fmt.Errorf("crwebhook: capability: %w", err))
			}
			warnings = append(warnings, "sidecarkit: capability partly unknown: "+err.Error())
		}
	}
	if err := ctx.Err(); err != nil {
		return errored(http.StatusInternalServerError, fmt.Errorf("crwebhook: %w", err))
	}
	res, err := h.c.Injector.InjectObject(ctx, obj, c, h.c.Options)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Out of time: not an answer about the object.
		return errored(http.StatusInternalServerError, fmt.Errorf("crwebhook: %w", err))
	}
	if err != nil {
		// A container of the sidecar's name that sidecarkit did not
		// inject, or an object the injection would make invalid: its
		// author has to change it.
		return admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{
			Allowed: false,
			Result: &metav1.Status{
				Status:  metav1.StatusFailure,
				Code:    http.StatusUnprocessableEntity,
				Reason:  metav1.StatusReasonInvalid,
				Message: boundMessage(err.Error()),
			},
			Warnings: boundWarnings(warnings),
		}}
	}
	warnings = boundWarnings(append(warnings, res.Warnings...))
	if res.Skipped != sidecar.NotSkipped {
		return admission.Allowed(boundMessage(fmt.Sprintf("%s: %s", res.Skipped, res.Reason))).WithWarnings(warnings...)
	}
	msg := boundMessage(fmt.Sprintf("%s: %s", res.Mode, res.Reason))
	if res.Mutation.Empty() {
		return admission.Allowed(msg).WithWarnings(warnings...)
	}
	p, err := res.Mutation.MarshalJSONPatch() // for obj's root: InjectObject's mutation knows it
	if err != nil {
		return errored(http.StatusInternalServerError, fmt.Errorf("crwebhook: render patch: %w", err))
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp := admission.Allowed(msg).WithWarnings(warnings...)
	resp.Patch, resp.PatchType = p, &pt
	return resp
}

// errored is admission.Errored with the message cut to
// sidecarkit/admission.MaxMessageBytes: it may quote the object.
func errored(code int32, err error) admission.Response {
	r := admission.Errored(code, err)
	r.Result.Message = boundMessage(r.Result.Message)
	return r
}

func kindString(k metav1.GroupVersionKind) string {
	if k.Group == "" {
		return k.Version + "/" + k.Kind
	}
	return k.Group + "/" + k.Version + "/" + k.Kind
}

const truncatedMark = " [truncated]"

// boundMessage cuts s to sidecarkit/admission.MaxMessageBytes on a UTF-8
// boundary, ending with truncatedMark. (sidecarkit/admission does the same
// with a function it does not export.)
func boundMessage(s string) string {
	if len(s) <= sidecaradmission.MaxMessageBytes {
		return s
	}
	cut := sidecaradmission.MaxMessageBytes - len(truncatedMark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMark
}

// boundWarnings returns ws cut to sidecarkit/admission.MaxWarnings warnings
// of at most MaxWarningLength runes each, with control characters and
// invalid UTF-8 replaced by spaces (the API server drops warnings that
// carry them). (sidecarkit/admission does the same with a function it does
// not export.)
func boundWarnings(ws []string) []string {
	if len(ws) == 0 {
		return nil
	}
	n := len(ws)
	if n > sidecaradmission.MaxWarnings {
		n = sidecaradmission.MaxWarnings
	}
	out := make([]string, 0, n)
	for _, w := range ws[:n] {
		c := len(w)
		if c > sidecaradmission.MaxWarningLength {
			c = sidecaradmission.MaxWarningLength
		}
		b := make([]rune, 0, c)
		for _, r := range w {
			if len(b) == sidecaradmission.MaxWarningLength {
				break
			}
			if r == utf8.RuneError || unicode.IsControl(r) {
				r = ' '
			}
			b = append(b, r)
		}
		out = append(out, string(b))
	}
	return out
}

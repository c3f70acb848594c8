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

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	sidecaradmission "github.com/sidecarkit/sidecarkit/admission"
	"github.com/sidecarkit/sidecarkit/compat"
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
	w *sidecaradmission.Webhook
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
	h := &Handler{c: c}
	ac := sidecaradmission.Config{Spec: c.Injector.Spec(), Options: c.Options, Workloads: c.Workloads}
	if c.Capability != nil {
		ac.Capability = h.capability
	}
	w, err := sidecaradmission.New(ac)
	if err != nil {
		return nil, fmt.Errorf("crwebhook: %w", err)
	}
	h.w = w
	return h, nil
}

// partialKey keys the *error in which capability records, for Handle, a
// capability error it let pass (Config.AllowPartialCapability).
type partialKey struct{}

// capability is the admission Config's capability source: Config.Capability
// of the request's scheduling spec (sidecar.SchedulingSpec: without the
// node requirement of an earlier pinned injection of this sidecar).
func (h *Handler) capability(ctx context.Context, r *sidecaradmission.Request) (compat.Capability, error) {
	c, err := h.c.Capability(ctx, r.SchedulingSpec)
	if err != nil && h.c.AllowPartialCapability && ctx.Err() == nil {
		if p, ok := ctx.Value(partialKey{}).(*error); ok {
			*p = err
		}
		return c, nil
	}
	return c, err
}

// Handle implements admission.Handler with the library's
// sidecarkit/admission.Webhook.Admit, which decides the request exactly as
// that package's own HTTP handler does.
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
	var partial error
	resp, out, err := h.w.Admit(context.WithValue(ctx, partialKey{}, &partial), &req.AdmissionRequest)
	if err != nil {
		code := int32(http.StatusInternalServerError)
		var e *sidecaradmission.Error
		if errors.As(err, &e) {
			code = int32(e.Status)
		}
		return errored(code, err)
	}
	if partial != nil && len(resp.Warnings) < sidecaradmission.MaxWarnings {
		resp.Warnings = append([]string{boundWarning("sidecarkit: capability partly unknown: " + partial.Error())}, resp.Warnings...)
	}
	if !resp.Allowed {
		return admission.Response{AdmissionResponse: *resp}
	}
	what := string(out.Skipped)
	if what == "" {
		what = string(out.Mode)
	}
	if what == "" {
		what = "unchanged"
	}
	r := admission.Allowed(boundMessage(what + ": " + out.Reason))
	r.UID, r.Warnings, r.Patch, r.PatchType = resp.UID, resp.Warnings, resp.Patch, resp.PatchType
	return r
}

// errored is admission.Errored with the message cut to
// sidecarkit/admission.MaxMessageBytes: it may quote the object.
func errored(code int32, err error) admission.Response {
	r := admission.Errored(code, err)
	r.Result.Message = boundMessage(r.Result.Message)
	return r
}

const truncatedMark = " [truncated]"

// boundMessage cuts s to sidecarkit/admission.MaxMessageBytes on a UTF-8
// boundary, ending with truncatedMark, as that package cuts its messages.
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

// boundWarning cuts w to sidecarkit/admission.MaxWarningLength runes, with
// control characters and invalid UTF-8 replaced by spaces (the API server
// drops warnings that carry them), as that package bounds its warnings.
func boundWarning(w string) string {
	b := make([]rune, 0, sidecaradmission.MaxWarningLength)
	for _, r := range w {
		if len(b) == sidecaradmission.MaxWarningLength {
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			r = ' '
		}
		b = append(b, r)
	}
	return string(b)
}

package admission

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	corev1 "k8s.io/api/core/v1"
	"net/http"
	"unicode"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sidecarkit/sidecarkit/compat"
	"github.com/sidecarkit/sidecarkit/internal/b64"
	"github.com/sidecarkit/sidecarkit/internal/encoded"
	"github.com/sidecarkit/sidecarkit/internal/jsonstr"
	"github.com/sidecarkit/sidecarkit/internal/leanpod"
	"github.com/sidecarkit/sidecarkit/patch"
	"github.com/sidecarkit/sidecarkit/sidecar"
)

// Bounds on the warnings of a response. The API server keeps at most 4096
// runes of warnings per request, across all webhooks, and cuts each
// warning to 256 runes beyond that.
const (
	MaxWarnings      = 16
	MaxWarningLength = 256
)

const (
	reviewAPIVersion = "admission.k8s.io/v1"
	reviewKind       = "AdmissionReview"
)

// reviewIn is the part of an AdmissionReview v1 request that Review reads;
// the object stays raw until its kind is known, and the rest (userInfo,
// oldObject, options) is skipped.
type reviewIn struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Request    *requestIn `json:"request"`
}

type requestIn struct {
	UID         string                  `json:"uid"`
	Kind        metav1.GroupVersionKind `json:"kind"`
	SubResource string                  `json:"subResource"`
	Name        string                  `json:"name"`
	Namespace   string                  `json:"namespace"`
	Operation   string                  `json:"operation"`
	Object      json.RawMessage         `json:"object"`
	DryRun      *bool                   `json:"dryRun"`

	// lean is Object decoded leanly while the review was read
	// (readReviewLean); leanFailed: that decode gave way to DecodeAs.
	lean       *patch.Object
	leanFailed bool
}

// Review answers the AdmissionReview v1 in body. It returns the response
// review's JSON and the Outcome, or an *[Error] that says which HTTP status
// to answer with instead (see the package documentation for the status
// codes). Review does not keep body.
func (wh *Webhook) Review(ctx context.Context, body []byte) ([]byte, Outcome, error) {
	var out Outcome
	if len(body) == 0 {
		return nil, out, badRequest(errors.New("admission: empty body; want an AdmissionReview"))
	}
	var reads *leanpod.Reads
	if wh.lean {
		reads = &wh.reads
	}
	in, err := readReviewLean(body, reads)
	if err != nil {
		return nil, out, badRequest(fmt.Errorf("admission: malformed AdmissionReview: %w", err))
	}
	if in.APIVersion != reviewAPIVersion || in.Kind != reviewKind {
		return nil, out, badRequest(fmt.Errorf("admission: got apiVersion %q kind %q; want %s %s (set admissionReviewVersions: [v1])", in.APIVersion, in.Kind, reviewAPIVersion, reviewKind))
	}
	if in.Request == nil {
		return nil, out, badRequest(errors.New("admission: AdmissionReview has no request"))
	}
	// The patch is rendered into a buffer reused across reviews: the
	// response carries it in base64, and its own bytes are garbage once
	// encoded.
	var scratch *[]byte
	if wh.patchBufs != nil {
		scratch, _ = wh.patchBufs.Get().(*[]byte)
		if scratch == nil {
			scratch = new([]byte)
		}
		defer wh.release(scratch)
	}
	resp, out, err := wh.admit(ctx, in.Request, scratch)
	if err != nil {
		return nil, out, err
	}
	if b, ok := appendReview(nil, resp); ok {
		return b, out, nil
	}
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: reviewAPIVersion, Kind: reviewKind},
		Response: resp,
	})
	if err != nil {
		return nil, out, internal(fmt.Errorf("admission: encode response: %w", err))
	}
	return b, out, nil
}

// Admit answers one admission request that the caller has already decoded,
// as a webhook framework does (controller-runtime's admission.Request
// embeds an admissionv1.AdmissionRequest): the same decision as Review,
// returned as the response (its UID set, a JSON patch with its moves when
// the object changes) instead of the review's bytes. The object is read
// from req.Object.Raw, never from a typed copy. An error is an *[Error]
// whose Status says which HTTP status a webhook answers with (400 for a
// malformed request, 500 when the capability source fails or ctx ends);
// a Pod that cannot take the sidecar is a denial in the response, not an
// error.
func (wh *Webhook) Admit(ctx context.Context, req *admissionv1.AdmissionRequest) (*admissionv1.AdmissionResponse, Outcome, error) {
	if req == nil {
		return nil, Outcome{}, badRequest(errors.New("admission: no request"))
	}
	r := &requestIn{UID: string(req.UID), Kind: req.Kind, SubResource: req.SubResource, Name: req.Name,
		Namespace: req.Namespace, Operation: string(req.Operation), Object: req.Object.Raw, DryRun: req.DryRun}
	return wh.admit(ctx, r, nil)
}

// maxPooledPatch is the capacity above which a patch buffer is not kept
// for reuse: an idle webhook holds at most a few of this size.
const maxPooledPatch = 64 << 10

// release returns a patch buffer to the pool, unless it grew too large to
// keep.
func (wh *Webhook) release(scratch *[]byte) {
	if cap(*scratch) > maxPooledPatch {
		return
	}
	*scratch = (*scratch)[:0]
	wh.patchBufs.Put(scratch)
}

// admit decides r (see Review and Admit). When scratch is not nil, the
// patch is rendered into *scratch (which keeps the grown buffer) and the
// response's Patch shares it: the caller must be done with the response
// before it reuses the buffer.
func (wh *Webhook) admit(ctx context.Context, r *requestIn, scratch *[]byte) (*admissionv1.AdmissionResponse, Outcome, error) {
	var out Outcome
	if r.UID == "" {
		return nil, out, badRequest(errors.New("admission: request.uid is empty"))
	}
	out = Outcome{UID: r.UID, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Operation: r.Operation, DryRun: r.DryRun != nil && *r.DryRun}
	switch {
	case r.Operation != string(admissionv1.Create):
		out.Skipped, out.Reason = SkipOperation, fmt.Sprintf("operation %s is not mutated", r.Operation)
	case r.SubResource != "":
		out.Skipped, out.Reason = SkipSubResource, fmt.Sprintf("subresource %q is not mutated", r.SubResource)
	case !wh.handles(r.Kind):
		out.Skipped, out.Reason = SkipKind, fmt.Sprintf("kind %s is not mutated", kindString(r.Kind))
	case wh.exclude[r.Namespace]:
		out.Skipped, out.Reason = SkipNamespace, fmt.Sprintf("namespace %q is excluded", r.Namespace)
	}
	if out.Skipped != "" {
		return wh.respond(&out, nil)
	}
	if len(r.Object) == 0 || string(r.Object) == "null" {
		return nil, out, badRequest(errors.New("admission: request.object is missing"))
	}
	obj, full, err := wh.decode(r)
	if err != nil {
		return nil, out, badRequest(fmt.Errorf("admission: request.object: %w", err))
	}
	var c compat.Capability
	if wh.capability != nil {
		sched, err := sidecar.SchedulingSpec(obj.Meta, obj.Spec, wh.spec.Container.Name)
		if err != nil || sched == nil {
			// A corrupt record of ours: Inject reports it below.
			sched = obj.Spec
		}
		placement := corev1.PodSpec{}
		if sched != nil {
			placement = *sched
			placement.InitContainers, placement.Containers, placement.EphemeralContainers, placement.Volumes = nil, nil, nil, nil
		}
		req := Request{UID: r.UID, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Operation: r.Operation, DryRun: out.DryRun,
			SchedulingSpec: &placement, raw: r.Object}
		if full {
			req.obj, req.done = obj, true
		}
		if c, err = wh.capability(ctx, &req); err != nil {
			return nil, out, internal(fmt.Errorf("admission: capability: %w", err))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, out, internal(fmt.Errorf("admission: %w", err))
	}
	// The commonest review, a Pod that holds nothing of the sidecar yet,
	// is rendered without a Mutation: the same Result and patch
	// (FuzzFresh), for a fraction of the work.
	var b []byte
	if scratch != nil {
		b = (*scratch)[:0]
	}
	if p, x, n, ok := wh.fresh(ctx, obj, c, b); ok {
		if res, ok := x.(sidecar.Result); ok {
			if scratch != nil {
				*scratch = p
			}
			out.Warnings, out.Reason, out.Mode, out.Code, out.Ops = res.Warnings, res.Reason, res.Mode, res.Code, n
			return wh.respond(&out, p)
		}
	}
	res, err := wh.injector.InjectObject(ctx, obj, c, wh.opts)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Out of time: not an answer about the Pod.
		return nil, out, internal(fmt.Errorf("admission: %w", err))
	}
	if err != nil {
		out.Err, out.Reason = err, fmt.Sprintf("sidecar %q cannot be injected", wh.spec.Container.Name)
		if wh.allowOnErr {
			out.Skipped = SkipError
			out.Warnings = []compat.Finding{{Code: compat.CodeSidecarMissing, Severity: compat.SeverityWarning,
				Message: fmt.Sprintf("sidecar %q not injected: %v", wh.spec.Container.Name, err)}}
		}
		return wh.respond(&out, nil)
	}
	out.Warnings = res.Warnings
	out.Reason = res.Reason
	if res.Skipped != "" {
		out.Skipped = res.Skipped
		return wh.respond(&out, nil)
	}
	out.Mode, out.Code = res.Mode, res.Code
	if res.Mutation.Empty() {
		return wh.respond(&out, nil)
	}
	// For obj.Root: InjectObject's mutation knows it.
	var p []byte
	if scratch != nil {
		if p, err = encoded.AppendJSONPatch(res.Mutation, (*scratch)[:0]); err == nil {
			*scratch = p
		}
	} else {
		p, err = res.Mutation.MarshalJSONPatch()
	}
	if err != nil {
		return nil, out, internal(fmt.Errorf("admission: render patch: %w", err))
	}
	out.Ops = res.Mutation.NumOps()
	return wh.respond(&out, p)
}

// fresh injects into obj without a Mutation when obj is a Pod that holds
// nothing of the sidecar yet (internal/encoded.Inject), appending the
// patch to b; false: take the general path.
func (wh *Webhook) fresh(ctx context.Context, obj *patch.Object, c compat.Capability, b []byte) ([]byte, interface{}, int, bool) {
	if wh.general || encoded.Inject == nil {
		return nil, nil, 0, false
	}
	return encoded.Inject(ctx, wh.injector, obj, c, &wh.opts, b)
}

// appendReview appends the AdmissionReview of resp to b as json.Marshal
// encodes it (TestAppendReview), without reflection, and reports whether
// it did: a response with a status (a denial) or audit annotations is
// left to json.Marshal.
func appendReview(b []byte, resp *admissionv1.AdmissionResponse) ([]byte, bool) {
	if resp.Result != nil || len(resp.AuditAnnotations) > 0 {
		return nil, false
	}
	// Sized for the whole review when its strings need no escapes, so
	// that it is written into one allocation.
	const fixed = len(`{"kind":"` + reviewKind + `","apiVersion":"` + reviewAPIVersion + `","response":{"uid":""` +
		`,"allowed":false,"patch":"","patchType":"","warnings":[]}}`)
	n := fixed + len(resp.UID) + base64.StdEncoding.EncodedLen(len(resp.Patch))
	if resp.PatchType != nil {
		n += len(*resp.PatchType)
	}
	for _, w := range resp.Warnings {
		n += len(w) + 3
	}
	if cap(b)-len(b) < n {
		b = append(make([]byte, 0, len(b)+n), b...)
	}
	b = append(b, `{"kind":"`+reviewKind+`","apiVersion":"`+reviewAPIVersion+`","response":{"uid":`...)
	b = jsonstr.Append(b, string(resp.UID))
	if resp.Allowed {
		b = append(b, `,"allowed":true`...)
	} else {
		b = append(b, `,"allowed":false`...)
	}
	if len(resp.Patch) > 0 {
		b = append(b, `,"patch":"`...)
		b = b64.AppendEncode(b, resp.Patch)
		b = append(b, '"')
	}
	if resp.PatchType != nil {
		b = append(b, `,"patchType":`...)
		b = jsonstr.Append(b, string(*resp.PatchType))
	}
	if len(resp.Warnings) > 0 {
		b = append(b, `,"warnings":[`...)
		for i, w := range resp.Warnings {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, w)
		}
		b = append(b, ']')
	}
	return append(b, "}}"...), true
}

// decode decodes the request's object as patch.DecodeAs does, and
// reports whether it decoded it in full. When only the injection reads
// the containers (Webhook.lean) and it is a Pod not injected before (no
// record annotation of this sidecar, whose claims would make the
// injection compare containers in full), the regular containers other
// than the sidecar's are decoded only as far as the injection reads them
// (internal/leanpod): the name, restartPolicy, ports and envFrom, and of
// volumeMounts and env the names and paths, the Spec's app mounts and env
// in full, and of the volumes the names. The pod-level fields are decoded
// in full. The Result, and so
// the response, is the same byte for byte (FuzzLeanReview), for about
// half the cost of decoding them in full.
func (wh *Webhook) decode(r *requestIn) (obj *patch.Object, full bool, err error) {
	raw, kind := r.Object, r.Kind.Kind
	if wh.lean && kind == "Pod" {
		lean := r.lean // decoded while the review was read
		if lean == nil && !r.leanFailed {
			if o, ok := leanpod.Decode(raw, &wh.reads); ok {
				lean = o.(*patch.Object)
			}
		}
		if lean != nil {
			if lean.Meta == nil {
				return lean, false, nil
			}
			if _, injected := lean.Meta.Annotations[wh.record]; !injected {
				return lean, false, nil
			}
		}
	}
	obj, err = patch.DecodeAs(raw, kind)
	return obj, true, err
}

// respond returns the response for out: denied when out.Err is set
// without AllowOnError, allowed otherwise, with the patch p when not nil.
func (wh *Webhook) respond(out *Outcome, p []byte) (*admissionv1.AdmissionResponse, Outcome, error) {
	resp := &admissionv1.AdmissionResponse{UID: types.UID(out.UID), Allowed: true}
	if out.Err != nil && out.Skipped != SkipError {
		resp.Allowed = false
		// The API server passes the message on to the client and into
		// events; it may quote the Pod (MaxMessageBytes).
		resp.Result = &metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusUnprocessableEntity,
			Reason:  metav1.StatusReasonInvalid,
			Message: boundMessage(out.Err.Error()),
		}
	}
	if len(p) > 0 {
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = p, &pt
	}
	if len(out.Warnings) > MaxWarnings {
		out.Warnings = out.Warnings[:MaxWarnings:MaxWarnings]
	}
	resp.Warnings = warningTexts(out.Warnings)
	out.Allowed = resp.Allowed
	return resp, *out, nil
}

func kindString(k metav1.GroupVersionKind) string {
	if k.Group == "" {
		return k.Version + "/" + k.Kind
	}
	return k.Group + "/" + k.Version + "/" + k.Kind
}

// warningTexts returns the response's warnings for ws: "path: message", or
// the message when a warning has no path, bounded by boundWarnings.
func warningTexts(ws []compat.Finding) []string {
	if len(ws) == 0 {
		return nil
	}
	texts := make([]string, len(ws))
	for k, w := range ws {
		texts[k] = w.Message
		if w.Path != "" {
			texts[k] = w.Path + ": " + w.Message
		}
	}
	return boundWarnings(texts)
}

// boundWarnings returns ws cut to MaxWarnings warnings of at most
// MaxWarningLength runes each, with control characters and invalid UTF-8
// replaced by spaces (the API server drops warnings that carry them). It
// returns ws itself when nothing needs to change.
func boundWarnings(ws []string) []string {
	if len(ws) == 0 {
		return nil
	}
	clean := len(ws) <= MaxWarnings
	for _, w := range ws {
		if !clean {
			break
		}
		clean = warningOK(w)
	}
	if clean {
		return ws
	}
	n := len(ws)
	if n > MaxWarnings {
		n = MaxWarnings
	}
	out := make([]string, 0, n)
	for _, w := range ws[:n] {
		if warningOK(w) {
			out = append(out, w)
			continue
		}
		b := make([]rune, 0, MaxWarningLength)
		for _, r := range w {
			if len(b) == MaxWarningLength {
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

func warningOK(w string) bool {
	if len(w) > MaxWarningLength*utf8.UTFMax {
		return false
	}
	n := 0
	for _, r := range w {
		n++
		if n > MaxWarningLength || r == utf8.RuneError || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

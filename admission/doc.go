// Package admission turns the sidecar library into a mutating admission
// webhook: AdmissionReview v1 bytes in, AdmissionReview v1 response bytes
// out, with an RFC 6902 patch rendered against the raw object (see package
// patch), so that fields the compiled API types do not know are never
// dropped.
//
//   - [New] checks a [Config] once (the sidecar Spec, the injection
//     options, a capability source, which kinds and namespaces to mutate)
//     and returns an [Injector].
//   - [Injector.Review] answers one AdmissionReview. It is safe for
//     concurrent use, pure apart from the Config's hooks, and reports what
//     it decided as an [Outcome] for logs and metrics.
//   - [Handler] serves Review over HTTP with a method check, a
//     content-type check and a request body limit, and maps errors to
//     status codes. It never logs: its Observe hook sees every outcome.
//
// # What is mutated
//
// Only CREATE requests without a subresource, of Pods and (with
// Config.Workloads) of the built-in workload kinds whose pod template
// package patch knows. Everything else (other operations, subresources
// such as pods/ephemeralcontainers, other kinds, excluded namespaces) is
// allowed unchanged, with the reason in the Outcome: a webhook whose rules
// match too much must not block the cluster. Dry-run requests are mutated
// like any other: the webhook has no side effects (declare sideEffects:
// None), so a server-side dry run shows the injection it would get.
//
// # Status codes
//
//   - 200 with allowed: true and, when something changes, patchType
//     JSONPatch and the patch; warnings from the injection are passed on
//     as AdmissionResponse.Warnings (at most [MaxWarnings], each cut to
//     [MaxWarningLength] runes, control characters replaced: the API
//     server truncates and drops warnings beyond its own limits).
//   - 200 with allowed: false and status code 422 (reason Invalid) when
//     the Pod cannot take the sidecar: a container of the sidecar's name
//     that the library did not inject, or a result that would fail Pod
//     validation. The message carries the field path. This is a definite
//     answer about the Pod, so it does not depend on the webhook's
//     failurePolicy (Config.AllowOnError admits such Pods unchanged, with a
//     warning, instead). Istio and controller-runtime deny the same way.
//   - HTTP 400 (error [ErrBadRequest]) when the body is not an
//     AdmissionReview v1 with a request and a uid, or the object does not
//     decode as its kind. The API server never sends such a request; the
//     webhook's failurePolicy applies.
//   - HTTP 500 (error [ErrInternal]) when the capability source fails or
//     the context ends: the webhook could not do its job, so the
//     failurePolicy decides (Fail: the Pod is rejected; Ignore: admitted
//     without the sidecar). A capability source that prefers to inject in
//     the fallback mode returns an Unknown compat.Capability and no error.
//   - From Handler only: 405 for a method other than POST, 415 for a
//     content type other than application/json, 413 for a body over
//     Handler.MaxBodyBytes.
//
// # Cost
//
// Review reads the envelope with a structural scan that decodes only the
// fields it needs and leaves the object in place (the skipped parts are
// checked for structure, not for every rule of JSON); it then decodes the
// object once, as the kind the request names (patch.DecodeAs), with a
// prepared sidecar.Injector, and encodes the patch in one pass
// (patch.Mutation.MarshalJSONPatch) without marshalling the object again.
package admission

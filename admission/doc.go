// Package admission turns the sidecar library into a mutating admission
// webhook: AdmissionReview v1 bytes in, AdmissionReview v1 response bytes
// out, with an RFC 6902 patch rendered against the raw object (see package
// patch), so that fields the compiled API types do not know are never
// dropped.
//
//   - [New] checks a [Config] once (the sidecar Spec, the injection
//     options, a capability source, which kinds and namespaces to mutate)
//     and returns a [Webhook].
//   - [Webhook.Review] answers one AdmissionReview; [Webhook.Admit] one
//     request a webhook framework has decoded (controller-runtime). It is safe for
//     concurrent use, pure apart from the Config's hooks, and reports what
//     it decided as an [Outcome] for logs and metrics.
//   - [Handler] serves Review over HTTP with a method check, a
//     content-type check, a request body limit, a limit on the reviews in
//     flight and the API server's deadline, and maps errors to status
//     codes. It never logs: its Observe hook sees every outcome, with the
//     status actually delivered.
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
//     validation. The message carries the field path, cut to
//     [MaxMessageBytes] (it may quote the Pod, and the API server puts it
//     into events). This is a definite
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
//     Handler.MaxBodyBytes, 408 for a body that did not arrive before the
//     request's deadline, and 429 with Retry-After: 1 when the request does
//     not fit in Handler.MaxInFlightBytes (the API server's client waits
//     that second and retries within its deadline, see checkWait in
//     https://github.com/kubernetes/client-go/blob/v0.37.2/rest/with_retry.go).
//     Their plain-text messages are cut to [MaxMessageBytes] too.
//
// # Threat model
//
// Everything in an AdmissionReview may be hostile: the webhook sees the
// objects of every user who may create Pods in the namespaces it serves.
//
//   - A Pod's author controls the whole object: names, labels,
//     annotations, container lists of any length. Annotations and names
//     the author wrote are hints, never trust: what the library treats as
//     its own (the sidecar, its volumes, its record annotation) is verified
//     by content, and anything else under the sidecar's names is restored
//     to the spec or refused (422). The author cannot make the webhook
//     skip a Pod the configuration selects, except through the selection
//     the operator configured (Options.Decide). A denial's message quotes
//     the Pod at most [MaxMessageBytes] long; warnings are bounded by
//     [MaxWarnings] and [MaxWarningLength].
//   - A namespace admin additionally controls the namespace's labels,
//     which the webhook's namespaceSelector reads: opting a namespace out
//     is theirs to decide (use failurePolicy and the selector, not the
//     webhook, to make a sidecar mandatory). Config.ExcludeNamespaces is a
//     safety net the admin cannot change.
//   - A network peer that reaches the webhook's port can send anything at
//     any pace. Memory is bounded by the bytes received, never by a length
//     a request claims: a body is read into a buffer that grows with what
//     arrives, up to Handler.MaxBodyBytes, and the requests being read and
//     answered hold at most Handler.MaxInFlightBytes; requests beyond the
//     in-flight limit are answered at once (429), and the larger ones can
//     take at most three quarters of it, so a flood of maximal claims
//     leaves room for the small reviews of ordinary Pods (it can deny the
//     large ones, which then fall to the failurePolicy). Time is linear in
//     the size of the object and bounded by the request's deadline: the
//     body must arrive by then, and the review's context ends then or when
//     the client goes away. Which peers may connect at all is the server's
//     business: examples/webhook can require the API server's client
//     certificate.
//
// # Cost
//
// Review reads the envelope with a structural scan that decodes only the
// fields it needs (the skipped parts are checked for structure, not for
// every rule of JSON). A webhook without a Decide hook or universal planner
// decodes a Pod only as far as the injection and a Capability hook's
// Request.SchedulingSpec read it, the rest left raw; it does so while the
// review is read when the request names the kind and operation before the
// object, as the API server writes it, so the object is scanned once. Any
// other object is decoded once, in full, as the kind the request names
// (patch.DecodeAs). A prepared sidecar.Injector injects, and the patch is
// encoded in one pass (patch.Mutation.MarshalJSONPatch) without
// marshalling the object again. A Pod under a native mode that holds
// nothing of the sidecar yet, the commonest review, is injected without a
// patch.Mutation: the patch is rendered from encodings the Injector
// prepared once, after the checks under which the Mutation's path would
// answer anything else; the answer is the same, byte for byte (FuzzFresh).
package admission

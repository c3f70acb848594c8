// Package policy compiles a sidecarkit sidecar (a sidecar.Spec and a
// mode) into admission policies that the Kubernetes API server applies
// itself, without a webhook: a MutatingAdmissionPolicy and its binding
// that inject the sidecar as sidecar.Inject does, and a companion
// ValidatingAdmissionPolicy and its binding that refuse a Pod bringing its
// own container (or volume) under the sidecar's names.
//
// The mutating policy needs an API server of Kubernetes 1.36 or later
// (admissionregistration.k8s.io/v1, on by default), or 1.34 and 1.35 with
// the MutatingAdmissionPolicy feature gate and the v1beta1 API enabled
// (Version V1beta1). docs/policy.md says when to choose it over the
// webhook, what it costs the API server, and where it differs from the
// library's injection: modes native, legacy and pinned; Auto (which needs
// the nodes) and the universal pair are refused.
//
// The package lives in a module of its own (github.com/sidecarkit/sidecarkit/policy)
// so that the library keeps its older k8s.io/api requirement.
package policy

package compat

// Code is a machine-readable reason: why sidecar.Recommend chose a mode, or
// what a [Finding] is about (a diagnosis, or a warning of an injection).
// Codes are stable; messages may change.
type Code string

// Codes of a mode choice (sidecar.Recommend).
const (
	CodeAPIServerUnknown      Code = "apiserver-unknown"       // API server capability unknown: the caller's fallback
	CodeAPIServerDrops        Code = "apiserver-drops"         // the API server drops restartPolicy (gate off)
	CodeAPIServerUnknownField Code = "apiserver-unknown-field" // the API server does not know restartPolicy (≤1.27)
	CodeKubeletUnknown        Code = "kubelet-unknown"         // the weakest node's capability unknown: the caller's fallback
	CodeAllNative             Code = "all-native"              // every node runs native sidecars
	CodeUnorderedTermination  Code = "unordered-termination"   // native sidecars without ordered termination (1.28)
	CodeNodeRejects           Code = "node-rejects"            // some node rejects Pods with sidecars (gate off)
	CodeNodeStrips            Code = "node-strips"             // some node ignores restartPolicy (≤1.27)
)

// Codes of a [Finding], besides CodeAPIServerDrops, CodeAPIServerUnknownField,
// CodeNodeRejects, CodeNodeStrips and CodeUnorderedTermination above.
const (
	CodeFieldDropped         Code = "field-dropped"           // restartPolicy: Always was lost between intent and storage
	CodeSidecarMissing       Code = "sidecar-missing"         // an intended sidecar is absent from the stored Pod
	CodeStuckInInit          Code = "stuck-in-init"           // an init container blocks the Pod's initialization
	CodeSidecarBlocksInit    Code = "sidecar-blocks-init"     // ...and it looks like a sidecar not run as one
	CodeKubeletRejected      Code = "kubelet-rejected"        // the kubelet refused the Pod (InitContainerRestartPolicyForbidden)
	CodeProbeOnInit          Code = "probe-on-init-container" // probes or lifecycle on an init container without Always
	CodeProbeRejectionRisk   Code = "probe-rejection-risk"    // a sidecar's probes get the Pod rejected if the field is dropped
	CodeSidecarAfterInit     Code = "sidecar-after-init"      // a sidecar starts after blocking init containers
	CodeManagedFieldsInvalid Code = "managed-fields-invalid"  // metadata.managedFields could not be read
)

// Codes of the warnings an injection returns (sidecar.Result.Warnings,
// admission.Outcome.Warnings), besides the capability codes above for a
// forced mode that will fail (CodeAPIServerDrops, CodeNodeStrips, ...) and
// for native sidecars whose termination order is unordered or unknown
// (CodeUnorderedTermination, CodeKubeletUnknown).
const (
	CodeModeCaveat     Code = "mode-caveat"      // what the chosen mode costs: doubled requests, pinned scheduling, a Job kept running
	CodeRestored       Code = "restored"         // content under the sidecar's names differed from its spec and was overwritten
	CodeSpecNotApplied Code = "spec-not-applied" // part of the spec was not applied: the Pod's own content is kept, or a placement target is missing
)

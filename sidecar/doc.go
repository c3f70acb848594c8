// Package sidecar plans the injection of a sidecar container into a Pod or
// pod template: natively (an init container with restartPolicy Always,
// Kubernetes 1.28+), as a legacy regular container, natively and pinned to
// capable nodes, or as the universal native+legacy pair (package universal).
//
// The flow of a webhook or an operator: [NewInjector] prepares a [Spec]
// (what to inject) once; [Injector.Capability] asks a compat.Cluster what
// it can do for a decoded object (patch.DecodeAs); [Injector.InjectObject]
// returns a [Result] whose Mutation renders the change for that object
// (Mutation.JSONPatch, Mutation.StrategicMerge), with the mode chosen and
// why, warnings, and a resource report.
//
// Everything here is a pure function of its arguments:
//
//   - Injection is idempotent, updates an older injection of its own
//     sidecar field by field, never overwrites a container it did not
//     inject (what it treats as its own is verified by content, whatever
//     the Pod's annotations say), and checks the result with the API
//     server's rules ([ValidatePod]). [Inject] is the same for typed pod
//     metadata and spec, without a prepared Spec.
//   - [Recommend] gives the mode Inject chooses for a capability and
//     Options (Auto: docs/modes.md#auto), with a compat.Code and a reason.
//   - [Uninject] removes exactly what Inject added; [Migrate] moves an
//     existing sidecar between the legacy and native forms with an RFC 6902
//     move, which keeps every raw field.
//   - [PodResources] computes a Pod's effective requests and limits as the
//     scheduler does, so that the cost of each mode is visible.
//   - [LoadSpec] reads a Spec from YAML or JSON; a plain Container document
//     is the simplest Spec.
//
// What is injected comes only from the Spec: pod labels and annotations
// can opt a Pod in or out (Options.Decide) but never choose the image,
// command or privileges of what a webhook injects.
package sidecar

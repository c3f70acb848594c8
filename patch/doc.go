// Package patch renders Pod mutations as RFC 6902 JSON patches, strategic
// merge patches and in-memory edits, without ever dropping a field that the
// compiled Kubernetes API types do not know.
//
// Webhooks commonly decode the Pod, change the typed object, marshal it and
// diff it against the request. Every field the compiled k8s.io/api does not
// know (a newer API server's fields, such as a container's restartPolicy
// for a webhook built before 1.28) then becomes a "remove", and inserting a
// container at index 0 turns into a chain of "replace" operations that
// attach unknown fields to the wrong container. This package takes the
// other road: the typed PodSpec is used to decide, and the change is
// expressed as position-correct operations against the raw document.
//
//   - [Mutation] is an ordered list of typed edits to one PodSpec and its
//     pod metadata: insert, append, remove or move a container, set or
//     clear a container field, add or remove a volume, a volume mount, an
//     env var or an envFrom source, set or remove an annotation or a label,
//     add or remove a required node-affinity requirement, and [Mutation.Diff]
//     of an arbitrary typed change.
//   - [Mutation.JSONPatch] renders RFC 6902 operations for a document whose
//     PodSpec lives at a [Root] (Pod, workload templates, CronJob,
//     PodTemplate); the [Guarded] and [ResourceVersion] options add "test" guards for live
//     objects. Absent or null lists are added whole, indices account for
//     earlier operations, and JSON Pointer tokens are escaped.
//   - [Mutation.StrategicMerge] renders a strategic merge patch with
//     $setElementOrder directives, for operators.
//   - [Mutation.Apply] makes the same edits on typed objects.
//   - [Diff] turns a typed change into keyed, field-level operations: the
//     drop-in fix for marshal-and-diff webhooks.
//   - [Decode] reads a Pod or workload just far enough to mutate it.
//
// Package patchtest is its test support: Verify proves that a patch keeps
// every field unknown to the compiled types in its own element and changes
// nothing outside its ops' paths, Generate makes random objects carrying
// such fields from fuzz input, and Golden compares with golden files.
//
// All functions are pure: no globals (beyond a cache of reflected type
// information, like encoding/json's), no logging, no panics on any input.
// Errors name the field path, in the API server's format where a field is
// at fault (see [k8s.io/apimachinery/pkg/util/validation/field.Error]).
package patch

// Package encoded lets package sidecar hand package patch JSON encodings
// it prepares once for many injections (an Injector's app mounts and env,
// its record annotation), so that a Mutation reuses them instead of
// encoding the same values for every Pod, without exporting more from
// patch: patch sets the functions when it is initialised, and sidecar,
// which imports patch, calls them. What is prepared is opaque here and
// encoded by patch exactly as a Mutation encodes it, so a Mutation that
// uses it renders the same bytes as one that does not. It also lets
// package admission render a Mutation's JSON patch into a buffer it
// reuses (AppendJSONPatch).
package encoded

import corev1 "k8s.io/api/core/v1"

// Items prepares the encodings of volume mounts and env variables that
// Mutations will add (deep copies: later changes to mounts and env do not
// reach them). A mount is found by its mountPath, a variable by its name,
// and used only for an added item equal to it. Set by package patch.
var Items func(mounts []corev1.VolumeMount, env []corev1.EnvVar) (interface{}, error)

// Annotation prepares the encodings of setting the pod annotation key to
// value: the JSON Pointer of the key and the value as a JSON string. Set
// by package patch.
var Annotation func(key, value string) interface{}

// Use makes the Mutation m (a *patch.Mutation) reuse the encodings of
// prepared (from Items or Annotation) in the edits it records from now
// on: the added items equal to prepared items, the setting of the
// prepared annotation to its value. prepared is shared, never changed;
// anything else is ignored. Set by package patch.
var Use func(m interface{}, prepared interface{})

// AppendJSONPatch appends m's JSON patch (a *patch.Mutation's, for the
// document it was made for) to b, as m.MarshalJSONPatch() renders it,
// and returns the extended buffer: package admission renders into a
// buffer it reuses for the next review, since the response carries the
// patch in base64 and the patch's own bytes are garbage once encoded.
// Set by package patch.
var AppendJSONPatch func(m interface{}, b []byte) ([]byte, error)

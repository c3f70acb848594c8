// Package encoded lets package sidecar hand package patch JSON encodings
// it prepares once for many injections (an Injector's app mounts and env,
// its record annotation), so that a Mutation reuses them instead of
// encoding the same values for every Pod, without exporting more from
// patch: patch sets the functions when it is initialised, and sidecar,
// which imports patch, calls them. What is prepared is opaque here and
// encoded by patch exactly as a Mutation encodes it, so a Mutation that
// uses it renders the same bytes as one that does not. It also lets
// package admission render a Mutation's JSON patch into a buffer it
// reuses (AppendJSONPatch), and render an injection into a Pod that holds
// nothing of it without a Mutation (Fresh, AppendFresh).
package encoded

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"github.com/sidecarkit/sidecarkit/compat"
)

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

// Fresh prepares an injection into the Pods that hold nothing of it: the
// containers inits (*patch.EncodedContainer) inserted into
// spec.initContainers, the volumes (*patch.EncodedVolume) appended to
// spec.volumes, and mounts and env appended to every regular container.
// Package sidecar decides which Pods qualify (sidecar/fresh.go). Set by
// package patch.
var Fresh func(inits, volumes []interface{}, mounts []corev1.VolumeMount, env []corev1.EnvVar) (interface{}, error)

// AppendFresh appends to b the JSON patch of the injection plan (from
// Fresh) into obj (a *patch.Object), the containers inserted at index at
// of spec.initContainers, with the record annotation record (from
// Annotation), and returns it with its number of ops: byte for byte what
// a Mutation making the same edits renders. Set by package patch.
var AppendFresh func(b []byte, plan, obj interface{}, at int, record interface{}) ([]byte, int, error)

// Inject, set by package sidecar, injects with the Injector in and the
// Options o (a *sidecar.Options) into obj (a *patch.Object), under the
// capability c, and appends the JSON patch to b, without a Mutation, when
// obj is a Pod that holds nothing of the sidecar yet; it returns the
// patch, the sidecar.Result (without its Mutation), the number of ops,
// and false when it does not cover obj (the caller then injects as
// usual). Package admission calls it for the commonest review.
var Inject func(ctx context.Context, in, obj interface{}, c compat.Capability, o interface{}, b []byte) ([]byte, interface{}, int, bool)

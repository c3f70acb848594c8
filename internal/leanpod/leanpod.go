// Package leanpod connects package admission to package patch's lean decode
// of a Pod without exporting it from patch: patch sets Decode when it is
// initialised, and admission, which imports patch, calls it.
package leanpod

import "github.com/sidecarkit/sidecarkit/internal/jsonscan"

// Reads says which parts of a Pod's regular containers an injection reads
// in full; of the rest the lean decode keeps only what every injection
// reads (see Decode).
type Reads struct {
	// Containers are the names of the regular containers decoded in full
	// (the sidecar's own).
	Containers map[string]bool
	// MountPaths: volume mounts at these paths (the Spec's app mounts) are
	// decoded in full; of the others, the name and mountPath. When it is
	// empty no mount is decoded: the injection reads none.
	MountPaths map[string]bool
	// EnvNames: env variables of these names (the Spec's app env) are
	// decoded in full; of the others, the name. When it is empty no
	// variable is decoded: the injection reads none.
	EnvNames map[string]bool
	// VolumeNames: the pod's volumes of these names (the Spec's volumes)
	// are decoded in full; of the others, the name and whether they are
	// projected (the ServiceAccount token volumes change the defaults
	// compared with), as an empty ProjectedVolumeSource.
	VolumeNames map[string]bool
	// Annotations: the pod annotations of these keys are decoded (the
	// sidecar's record, kubectl's default container); of the others,
	// nothing but that their values are strings. Nil decodes them all.
	Annotations map[string]bool
}

// Decode decodes a Pod document as patch.DecodeAs(raw, "Pod") does, except
// that of each regular container not in r.Containers it decodes only the
// members an injection reads (name, restartPolicy, ports, envFrom, and
// volumeMounts and env as r says) and leaves the rest raw. It returns the
// *patch.Object, or false when the caller must decode with patch.DecodeAs
// instead (an error, whose message DecodeAs words; a document it does not
// read exactly as DecodeAs does). Set by package patch.
var Decode func(raw []byte, r *Reads) (interface{}, bool)

// DecodeAt is Decode of the document at rd (at its first byte), read in place (package
// admission reads an AdmissionReview's request.object so, instead of
// scanning it once for the review and once more for the decode). When it
// returns true, rd is after the document and the Object's raw bytes are
// the document's; when it returns false, rd may be anywhere inside the
// document, and the caller seeks back to where it started. Set by package
// patch.
var DecodeAt func(rd *jsonscan.Reader, r *Reads) (interface{}, bool)

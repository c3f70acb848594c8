// Package annotation holds the annotation keys that more than one of the
// library's packages read.
package annotation

// RecordPrefix prefixes the annotation in which package sidecar records an
// injection ("sidecar.sidecarkit.io/<sidecar name>"; sidecar.AnnotationPrefix,
// docs/injection-record.md). Package compat's Diagnose reads it as evidence
// of intent.
const RecordPrefix = "sidecar.sidecarkit.io/"

// DefaultContainer names the container that kubectl logs, exec and attach
// use when none is given (docs/doctor.md#kubectls-default-container).
// Package sidecar sets it when it puts a sidecar first among the regular
// containers; package compat's Diagnose reads it.
const DefaultContainer = "kubectl.kubernetes.io/default-container"
